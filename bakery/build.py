"""`bakery build SERVICE`: base -> fingerprint -> bake (Packer + Ansible) -> verify."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bakery import __version__, canary, catalog, extravars, layers, locks, packer, private, proc, seal
from bakery.config import Project
from bakery.errors import BuildFailed, VerifyFailed
from bakery.events import EventReader, TaskEvent, callback_env
from bakery.fingerprint import Fingerprint, combine
from bakery.inputs import ToolVersions, bake_strategy, resolve_service_playbook, service_inputs
from bakery.pipeline import Stage, run_stages, select_stages
from bakery.playbook import PlaybookInputs
from bakery.progress import Reporter
from bakery.rundir import RunDir
from bakery.strategy import Strategy
from bakery.targets import BaseArtifact, ImageRecord, Target, get_target
from bakery.verify import suite_for, verdict_of, verify_image

if TYPE_CHECKING:
    from bakery.registry import Registry


@dataclass(frozen=True)
class BuildOptions:
    force: bool = False
    no_layers: bool = False
    skip: tuple[str, ...] = ()
    until: str | None = None
    registry: str | None = None  # --registry (else BAKERY_REGISTRY, registry.url): reuse images published there
    no_pull: bool = False  # an image reused from the registry is only referenced


@dataclass
class BuildContext:
    project: Project
    service_name: str
    target: Target
    playbook: PlaybookInputs
    run: RunDir
    reporter: Reporter
    options: BuildOptions
    started: float = field(default_factory=time.monotonic)
    base: BaseArtifact | None = None
    fingerprint: Fingerprint | None = None
    image: ImageRecord | None = None
    reused: bool = False
    layers_reused: int = 0
    layers_from: str = ""  # build.cache: registry: the registry layer the bake started from
    failure: TaskEvent | None = None
    events: EventReader | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    verdict: str = catalog.UNVERIFIED
    source: str = ""  # the registry reference the image was reused from
    strategy: Strategy | None = None  # the Ansible strategy the bake runs
    canary_key: canary.CanaryKey | None = None  # the key this run's canary derives from
    layer_registry: Registry | None = None  # where role layers come from (build.cache: registry)


@dataclass(frozen=True)
class BuildResult:
    service: str
    target: str
    image: str | None
    image_id: str | None
    fingerprint: str | None
    run_id: str
    run_dir: str
    duration_s: float
    reused: bool
    layers_reused: int
    verdict: str  # passed, failed, unverified or stale
    stages: list[str]
    source: str = ""  # reused from the registry: the reference by digest
    layers_from: str = ""  # the role layer pulled from the registry that the bake started from
    ansible_strategy: str = ""  # linear or mitogen: what the bake runs (after any fall back)

    def as_dict(self) -> dict:
        return asdict(self)


def build_service(project: Project, service_name: str, target_name: str, options: BuildOptions, reporter: Reporter,
                  target_options: dict | None = None) -> BuildResult:
    """Resolve everything first (so bad input fails before anything starts), then run the stages."""
    playbook = resolve_service_playbook(project, service_name)
    target = get_target(target_name, project, **(target_options or {}))
    stages = select_stages(STAGES, skip=options.skip, until=options.until)
    if "verify" in [s.name for s in stages]:
        suite_for(project, service_name)
    secrets = canary.secret_vars(project, service_name)
    layer_registry = _layer_registry(project, options)  # before any work: a missing registry is a config error
    target.ensure_prerequisites()
    run = RunDir.create(project.state_dir(), "build")
    ctx = BuildContext(project, service_name, target, playbook, run, reporter, options, secrets=secrets,
                       events=EventReader(run.events_dir), canary_key=canary.canary_key(project),
                       layer_registry=layer_registry)
    names = [s.name for s in stages]
    try:
        with locks.held(project.state_dir(), f"service-{service_name}", reporter.info, run.run_id):
            run_stages(stages, ctx)
    except BaseException as exc:
        run.write_json("result.json", {**_result(ctx, names).as_dict(), "error": str(exc) or type(exc).__name__})
        raise
    finally:
        reporter.finish()
    result = _result(ctx, names)
    run.write_json("result.json", result.as_dict())
    return result


def stage_base(ctx: BuildContext) -> None:
    base_name = ctx.project.service(ctx.service_name).base
    ctx.base = ctx.target.prepare_base(ctx.project, base_name, ctx.reporter.info)
    ctx.reporter.info(f"base {ctx.base.ref} ({ctx.base.image_id[:12]})")


def stage_fingerprint(ctx: BuildContext) -> None:
    tools = ToolVersions.detect()
    ctx.strategy = bake_strategy(ctx.project, ctx.service_name, tools, ctx.target.name)
    if ctx.strategy.warning:
        ctx.reporter.info(ctx.strategy.warning)
    inputs = service_inputs(ctx.project, ctx.service_name, ctx.playbook, ctx.base.image_id, tools, ctx.target.name)
    ctx.fingerprint = combine(inputs)
    inputs_record = [asdict(i) for i in ctx.fingerprint.inputs]
    ctx.run.write_json("inputs.json", {"fingerprint": ctx.fingerprint.digest, "inputs": inputs_record})
    catalog.record_inputs(ctx.project.state_dir(), ctx.fingerprint.digest, inputs_record)
    ctx.reporter.info(f"fingerprint {ctx.fingerprint.short} over {len(inputs)} inputs")


def stage_bake(ctx: BuildContext) -> None:
    existing = ctx.target.find_image(ctx.service_name, ctx.fingerprint.digest)
    if existing is not None and not ctx.options.force:
        verdict = verdict_of(ctx.project, existing, ctx.target)
        if verdict.passed or canary.all_here(ctx.canary_key, existing.labels):
            ctx.image, ctx.reused, ctx.verdict = existing, True, verdict.status
            ctx.reporter.info(f"up to date: {existing.ref} has the same fingerprint ({verdict.describe()};"
                              " --force rebakes)")
            return
        ctx.reporter.info(f"rebaking: {existing.ref} is {verdict.describe()} and a canary of its bake is not on this"
                          " machine, so it could never pass verification")
    elif not ctx.options.force and _reused_from_registry(ctx):
        return
    with private.private_dir(ctx.run.run_id, "vars") as private_vars:
        extra_vars = write_extra_vars(ctx, private_vars)
        sealed = ctx.project.service(ctx.service_name).seal
        steps = plan_role_layers(ctx, sealed)
        if steps is None:
            job = PackerJob("image", whole_playbook(ctx, sealed), ctx.base.ref, image_labels(ctx))
            manifest_build = run_packer(ctx, job, extra_vars)
        else:
            manifest_build = bake_in_layers(ctx, steps, extra_vars)
    ctx.image = ctx.target.record_image(ctx.service_name, ctx.fingerprint.digest, manifest_build)
    ctx.reporter.info(f"image {ctx.image.ref}")


def plan_role_layers(ctx: BuildContext, sealed: bool) -> list[layers.LayerStep] | None:
    """The role layers of the bake, or None: the target has none, --no-layers, or the play's
    shape allows none (then a one-line warning says why)."""
    if not ctx.target.supports_layers or ctx.options.no_layers:
        return None
    steps = layers.plan_layers(ctx.playbook, ctx.fingerprint, ctx.base.image_id, ctx.project.path("roles"),
                               ctx.run.path / "layers", sealed=sealed, owner=ctx.project.identity)
    if steps is None and ctx.playbook.roles:
        ctx.reporter.info(f"warning: role layers are off for '{ctx.service_name}': "
                          f"{layers.why_no_layers(ctx.playbook.playbook)}; every bake runs the whole playbook")
    return steps


def whole_playbook(ctx: BuildContext, sealed: bool) -> Path:
    """The playbook of a bake in one piece: the service's, followed by the seal unless it is off."""
    if not sealed:
        return ctx.playbook.playbook
    return seal.write_sealed_playbook(ctx.playbook.playbook, ctx.run.path / "playbook" / "sealed.yml")


def _reused_from_registry(ctx: BuildContext) -> bool:
    """The image with this fingerprint, published with a valid attestation by a trusted key: pulled, not baked."""
    from bakery.registry_images import reuse

    adopted = reuse(ctx.project, ctx.options.registry, ctx.target, ctx.service_name, ctx.fingerprint.digest,
                    ctx.reporter.info, pull=not ctx.options.no_pull)
    if adopted is None:
        return False
    ctx.image, ctx.reused, ctx.source = adopted.image, True, adopted.source
    ctx.verdict = verdict_of(ctx.project, adopted.image, ctx.target).status
    ctx.reporter.info(f"up to date (from {adopted.source.split('@')[0]}): {adopted.image.ref}")
    return True


def bake_in_layers(ctx: BuildContext, steps: list[layers.LayerStep], extra_vars: Path) -> dict:
    def bake_run(todo: list[layers.LayerStep], parent_ref: str) -> str:
        def labels_of(step: layers.LayerStep) -> dict[str, str]:
            # a layer names this run and its canary key for itself and every layer of the run below it
            runs = [canary.run_labels(ctx.canary_key, ctx.run.run_id, s.index) for s in todo if s.index <= step.index]
            return {**layers.layer_labels(steps, step), **{k: v for labels in runs for k, v in labels.items()}}

        def commit_argv(step: layers.LayerStep) -> list[str]:
            return ctx.target.layer_commit_argv(ctx.run, step.ref, labels_of(step))

        first, last = todo[0], todo[-1]
        playbook = layers.write_run_playbook(todo, ctx.run.path / "layers" / f"run-{first.index:02d}-{last.index:02d}.yml",
                                             commit_argv)
        job = PackerJob(f"{first.index:02d}-{last.role}", playbook, parent_ref, {**labels_of(last), **image_labels(ctx)})
        return run_packer(ctx, job, extra_vars)["artifact_id"]

    image_id, reused = layers.bake_layers(steps, ctx.base.ref, bake_run, ctx.reporter.info,
                                          use_cache=not ctx.options.force,
                                          usable=lambda labels: canary.all_here(ctx.canary_key, labels),
                                          fetch=_layer_fetcher(ctx, steps))
    ctx.layers_reused = reused
    return {"artifact_id": image_id}


def _layer_registry(project: Project, options: BuildOptions):
    """The registry role layers come from with build.cache: registry (ConfigError when none is set), else None."""
    from bakery.registry import layer_cache, require_registry

    return require_registry(project, options.registry) if layer_cache(project) == "registry" else None


def _layer_fetcher(ctx: BuildContext, steps: list[layers.LayerStep]):
    """With build.cache: registry, a function that brings a role layer from the registry (True: it is here now)."""
    if ctx.layer_registry is None or ctx.options.force:
        return None
    from bakery.registry_layers import fetch_layer

    def fetch(step: layers.LayerStep) -> bool:
        if step is steps[-1]:  # the image itself, keyed by its project: never another machine's
            return False
        ctx.layers_from = fetch_layer(ctx.project, ctx.layer_registry, step, ctx.reporter.info) or ""
        return bool(ctx.layers_from)

    return fetch


def stage_verify(ctx: BuildContext) -> None:
    if ctx.verdict == catalog.PASSED:  # only when the verdict's key of checks is the one asked for now
        ctx.reporter.info(f"already verified: {ctx.image.ref}")
        return
    if ctx.verdict == catalog.STALE:
        ctx.reporter.info(f"verifying again: {verdict_of(ctx.project, ctx.image, ctx.target).describe()}")
    try:
        verify_image(ctx.project, ctx.service_name, ctx.image, ctx.target, ctx.run, ctx.reporter)
    except VerifyFailed:  # the failed verdict is recorded
        ctx.verdict = catalog.FAILED
        raise
    ctx.verdict = catalog.PASSED
    ctx.reporter.info(f"verified: {ctx.image.ref}")


@dataclass(frozen=True)
class PackerJob:
    """One Packer build: the whole playbook, or one role layer."""

    name: str
    playbook: Path
    base_ref: str
    labels: dict[str, str]


def write_extra_vars(ctx: BuildContext, private_dir: Path) -> Path:
    """The playbook's extra vars (which may hold secrets), in the run's private dir outside the run dir;
    never templated by Ansible unless the service lists the variable in templated_variables."""
    templated = ctx.project.service(ctx.service_name).templated_variables
    return extravars.write(private_dir / "extra-vars.yml", playbook_extra_vars(ctx), templated)


def run_packer(ctx: BuildContext, job: PackerJob, extra_vars: Path) -> dict:
    """Run the target's Packer build for one job and return its manifest entry."""
    staged = ctx.run.path / "packer" if job.name == "image" else ctx.run.path / "packer" / job.name
    packer.stage_template(ctx.project.template_dir(), staged)
    var_file = packer.write_var_file(staged / "bakery.pkrvars.json", packer_variables(ctx, job, extra_vars))
    reader = ctx.events
    log_path = ctx.run.packer_log
    with ctx.target.build_session(ctx.run, ctx.base) as session_env:
        env = proc.tool_env({**callback_env(ctx.run.ansible_dir), **ctx.strategy.ansible_env(), **session_env})
        try:
            packer.build(staged, var_file, ctx.target.packer_source, env=env, log_path=log_path,
                         on_poll=lambda: _report_events(ctx, reader))
        except BuildFailed as exc:
            raise _explain_failure(ctx, exc, log_path) from None
        finally:
            ctx.reporter.end_roles()
    return packer.read_manifest(ctx.run.manifest)


def _report_events(ctx: BuildContext, reader: EventReader) -> None:
    for event in reader.poll():
        ctx.reporter.task_event(event)
        if event.is_failure and ctx.failure is None:
            ctx.failure = event


def _explain_failure(ctx: BuildContext, exc: BuildFailed, log: Path) -> BuildFailed:
    if ctx.failure is None:
        return BuildFailed(exc.message, hint=f"log: {log}")
    f = ctx.failure
    return BuildFailed(f"bake of '{ctx.service_name}' failed in {f.where}: {f.message}", hint=f"log: {log}")


def playbook_extra_vars(ctx: BuildContext) -> dict:
    service = ctx.project.service(ctx.service_name)
    app = {"bakery_app_src": str(ctx.project.path(service.app))} if service.app else {}
    return {
        **service.variables,
        **ctx.secrets,
        **app,
        canary.CANARY_VAR: ctx.canary_key.canary(ctx.run.run_id),
        "bakery_service": ctx.service_name,
        "bakery_fingerprint": ctx.fingerprint.digest,
        "bakery_run_id": ctx.run.run_id,
    }


def packer_variables(ctx: BuildContext, job: PackerJob, extra_vars: Path) -> dict:
    return {
        "service": ctx.service_name,
        "run_id": ctx.run.run_id,
        "run_dir": str(ctx.run.path.resolve()),
        "playbook_file": str(job.playbook),
        "roles_path": seal.roles_path(ctx.project.path("roles")),
        "extra_vars_file": str(extra_vars),
        "image_labels": job.labels,
        **ctx.target.packer_variables(ctx.base),
        **({"base_image": job.base_ref} if ctx.target.supports_layers else {}),
    }


def image_labels(ctx: BuildContext) -> dict[str, str]:
    return {
        "bakery.service": ctx.service_name,
        "bakery.fingerprint": ctx.fingerprint.digest,
        "bakery.base": ctx.base.ref,
        "bakery.base-id": ctx.base.image_id,
        "bakery.git-commit": git_commit(ctx.project.root),
        "bakery.roles": ",".join(ctx.playbook.roles),
        "bakery.build-time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bakery.version": __version__,
        **canary.run_labels(ctx.canary_key, ctx.run.run_id),
        "bakery.project": ctx.project.identity,
    }


def git_commit(root: Path) -> str:
    head = proc.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=False, timeout=10)
    if not head.ok:
        return "unknown"
    dirty = proc.run(["git", "-C", str(root), "status", "--porcelain"], check=False, timeout=10)
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _result(ctx: BuildContext, stages: list[str]) -> BuildResult:
    image = ctx.image
    return BuildResult(
        service=ctx.service_name,
        target=ctx.target.name,
        image=image.ref if image else None,
        image_id=image.image_id if image else None,
        fingerprint=ctx.fingerprint.digest if ctx.fingerprint else None,
        run_id=ctx.run.run_id,
        run_dir=str(ctx.run.path),
        duration_s=round(time.monotonic() - ctx.started, 3),
        reused=ctx.reused,
        layers_reused=ctx.layers_reused,
        source=ctx.source,
        layers_from=ctx.layers_from,
        ansible_strategy=ctx.strategy.name if ctx.strategy else "",
        verdict=ctx.verdict,
        stages=stages,
    )


STAGES = (
    Stage("base", stage_base),
    Stage("fingerprint", stage_fingerprint),
    Stage("bake", stage_bake),
    Stage("verify", stage_verify, optional=True),
)
