"""The thin command line. The one error boundary: library code raises, only main() prints and exits."""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from bakery import __version__
from bakery import base as bases
from bakery import config, locks, verify
from bakery.build import BuildOptions, build_service
from bakery.errors import BakeryError, ConfigError, Degraded, ExitStatus, GateRefused, Interrupted
from bakery.inputs import resolve_service_playbook, service_fingerprint
from bakery.progress import make_reporter
from bakery.rundir import RunDir
from bakery.targets import get_target

if TYPE_CHECKING:  # the command modules are imported where used: a no-op build starts faster
    from bakery import deploy

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Bake Ansible roles into verified, immutable images.")
base_app = typer.Typer(no_args_is_help=True, help="Base images bootstrapped with mmdebstrap.")
config_app = typer.Typer(no_args_is_help=True, help="The bakery.yml configuration.")
envs_app = typer.Typer(no_args_is_help=True, help="Terraform environments (terraform/envs/*).")
app.add_typer(envs_app, name="envs")
app.add_typer(base_app, name="base")
app.add_typer(config_app, name="config")


class State:
    project_dir: Path = Path(".")
    debug: bool = False
    aws: dict = {}  # --region/--profile/--endpoint-url for the aws target

    def aws_args(self) -> list[str]:
        """The global aws flags again, for child bakery processes."""
        return [a for key, value in self.aws.items() if value for a in (f"--{key.replace('_', '-')}", value)]


state = State()
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
TargetOpt = Annotated[Optional[str], typer.Option("--target", "-t", help="Build target (default: build.target in bakery.yml).")]


def load() -> config.Project:
    return config.load_project(state.project_dir)


def emit_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


@app.callback()
def _global(
    project: Annotated[Path, typer.Option("--project", "-C", help="Project directory (holds bakery.yml).")] = Path("."),
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=lambda v: _print_version(v))] = False,
    region: Annotated[Optional[str], typer.Option("--region", help="aws target: region (else AWS_REGION, bakery.yml).")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", help="aws target: credentials profile (else AWS_PROFILE).")] = None,
    endpoint_url: Annotated[Optional[str], typer.Option(
        "--endpoint-url", help="aws target: EC2/SSM endpoint, e.g. moto or LocalStack (else BAKERY_AWS_ENDPOINT_URL).")] = None,
) -> None:
    state.project_dir, state.debug = project, debug
    state.aws = {"region": region, "profile": profile, "endpoint_url": endpoint_url}


def target_for(project: config.Project, name: str | None):
    """The target by name (default: build.target in bakery.yml), bound to the project and the aws flags."""
    name = name or project.build.target
    return get_target(name, project, **(state.aws if name == "aws" else {}))


def aws_connection(project: config.Project):
    from bakery.aws.session import connect

    return connect(project.aws, **state.aws)


def _print_version(value: bool) -> None:
    if value:
        print(f"bakery {__version__}")
        raise typer.Exit(0)


@app.command()
def build(
    services: Annotated[Optional[list[str]], typer.Argument(help="Service(s) from bakery.yml")] = None,
    all_services: Annotated[bool, typer.Option("--all", help="Build every service in bakery.yml.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=16, help="Services baked in parallel.")] = 1,
    target: TargetOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebake even if an image with this fingerprint exists.")] = False,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Leave the image unverified (skips the verify stage).")] = False,
    no_layers: Annotated[bool, typer.Option("--no-layers", help="Bake the whole playbook in one Packer run (no role layers).")] = False,
    skip: Annotated[list[str], typer.Option("--skip", help="Skip a stage (repeatable).")] = [],
    until: Annotated[Optional[str], typer.Option("--until", help="Stop after this stage.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Bake each SERVICE's playbook into an image with Packer and Ansible, then verify it."""
    project = load()
    names = list(project.services) if all_services else (services or [])
    if not names:
        raise ConfigError("name a service to build, or pass --all", hint=f"services: {', '.join(project.services)}")
    skip = tuple(skip) + (("verify",) if no_verify else ())
    target_name = target or project.build.target
    if len(names) > 1:
        for name in names:
            resolve_service_playbook(project, name)  # every service resolves before any child starts
        child_args = [*(["--force"] if force else []), *(["--no-layers"] if no_layers else []),
                      *[a for s in skip for a in ("--skip", s)], *(["--until", until] if until else [])]
        _build_many(project, names, target_name, jobs, child_args, json_output)
        return
    options = BuildOptions(force=force, no_layers=no_layers, skip=skip, until=until)
    result = build_service(project, names[0], target_name, options, make_reporter(),
                           state.aws if target_name == "aws" else None)
    if json_output:
        emit_json(result.as_dict())
        return
    verb = "up to date" if result.reused else "built"
    print(f"{verb}: {result.image} ({result.verdict}, fingerprint {result.fingerprint[:12]}, run {result.run_id},"
          f" {result.duration_s:.1f} s)", file=sys.stderr)
    print(result.image)


def _build_many(project, names: list[str], target_name: str, jobs: int, child_args: list[str], json_output: bool):
    from bakery import many
    run = RunDir.create(project.state_dir(), "build-many")
    outcomes = many.build_all(project, names, target_name, jobs, child_args, run, lambda m: print(m, file=sys.stderr),
                              state.aws_args(), state.aws if target_name == "aws" else None)
    if json_output:
        emit_json([asdict(o) for o in outcomes])
    else:
        for o in outcomes:
            detail = f"{o.result['image']} ({o.result['verdict']}, {o.result['duration_s']:.0f} s)" if o.ok else o.error
            print(f"{o.service:<20} {'ok' if o.ok else 'FAILED':<7} {detail}")
    many.raise_if_failed(outcomes)


@app.command("verify")
def verify_cmd(
    service: Annotated[str, typer.Argument(help="Service from bakery.yml")],
    image: Annotated[Optional[str], typer.Option("--image", help="Image to verify (default: the newest of SERVICE).")] = None,
    host: Annotated[Optional[str], typer.Option(
        "--host", help="Test a running host instead (podman://NAME, ssh://user@host); with --image, expect that image.")] = None,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Boot an image, run the hygiene checks and SERVICE's testinfra suite, and record the verdict."""
    project = load()
    project.service(service)  # an unknown service fails before a run dir exists
    run = RunDir.create(project.state_dir(), "verify")
    target_impl = target_for(project, target)
    if host:
        record = _pick_image(target_impl, service, image) if image else None
        report = verify.verify_host(project, service, host, run, record)
    else:
        record = _pick_image(target_impl, service, image)
        reporter = make_reporter()
        try:
            report = verify.verify_image(project, service, record, target_impl, run, reporter)
        finally:
            reporter.finish()
    if json_output:
        print(verify.report_json(report))
        return
    passed = sum(t["outcome"] == "passed" for t in report.tests)
    print(f"verified: {report.image or report.host} ({passed} tests passed, {report.duration_s:.1f} s)", file=sys.stderr)


def _pick_image(target, service: str, ref: str | None):
    images_found = target.list_images(service)
    if ref is None:
        if not images_found:
            raise ConfigError(f"no image of '{service}' to verify", hint=f"run bakery build {service} first")
        return images_found[0]
    for record in images_found:
        if ref in (record.ref, record.image_id) or record.image_id.startswith(ref):
            return record
    raise ConfigError(f"image '{ref}' is not a baked image of '{service}'", hint=f"see bakery images {service}")


@app.command("plan")
def plan_cmd(
    services: Annotated[Optional[list[str]], typer.Argument(help="Services (default: all)")] = None,
    all_services: Annotated[bool, typer.Option("--all", help="Every service in bakery.yml.")] = False,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Say which services would rebuild and why. Exit 0: all up to date, 2: something would rebuild, 1: error."""
    from bakery import plan
    try:
        project = load()
        target_impl = target_for(project, target)
        names = list(project.services) if all_services or not services else services
        for name in names:
            project.service(name)  # unknown names fail before any work
        entries = [plan.plan_service(project, name, target_impl) for name in names]
    except Interrupted:
        raise
    except BakeryError as exc:
        _report(exc, exc.one_line())
        raise typer.Exit(ExitStatus.ERROR) from None
    if json_output:
        emit_json([e.as_dict() for e in entries])
    else:
        for entry in entries:
            print(f"{entry.service}: {entry.status} ({entry.fingerprint[:12]})")
            for change in entry.changes:
                print(f"    {change}")
    if any(e.status != plan.UP_TO_DATE for e in entries):
        raise typer.Exit(ExitStatus.PLAN_WOULD_REBUILD)


@app.command("test-roles")
def test_roles_cmd(
    roles: Annotated[Optional[list[str]], typer.Argument(help="Roles to test (default: every role with a scenario)")] = None,
    base: Annotated[Optional[str], typer.Option("--base", help="Base image to test on (default: the first in bakery.yml).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Run each role's Molecule scenario (converge, idempotence, verify) on the bakery base image."""
    from bakery import roletest
    project = load()
    chosen = roletest.select_roles(project, roles or [])
    run = RunDir.create(project.state_dir(), "test-roles")
    reporter = make_reporter()
    try:
        results = roletest.test_roles(project, chosen, base or next(iter(project.bases)), run, reporter)
    finally:
        reporter.finish()
    if json_output:
        emit_json([asdict(r) for r in results])
    else:
        line = "{:<20} {:<8} {:>9}  {}"
        print(line.format("ROLE", "RESULT", "DURATION", "DETAIL"))
        for r in results:
            detail = "" if r.passed else r.describe()
            print(line.format(r.role, "passed" if r.passed else "FAILED", f"{r.duration_s:.0f} s", detail))
    roletest.raise_if_failed(results)


@app.command("promote")
def promote_cmd(
    service: Annotated[str, typer.Argument(help="Service from bakery.yml")],
    env: Annotated[str, typer.Option("--to", "--env", help="Environment to promote to")],
    image: Annotated[Optional[str], typer.Option("--image", help="AMI id (default: newest verified, or newest promoted to the previous env).")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve a promotion to an environment with approval: true.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """aws target: tag an AMI bakery:promoted-ENV after checking the gates in bakery.yml (exit 7 if refused)."""
    from bakery.aws import promote as aws_promote

    project = load()
    ami_id = image or _default_promotion_ami(project, service, env)
    promotion = aws_promote.promote(aws_connection(project), project, service, env, ami_id, approve=approve)
    if json_output:
        emit_json(asdict(promotion))
        return
    verb = "was already promoted" if promotion.already else "promoted"
    print(f"{promotion.ami_id} {verb} to {env} ({promotion.at})", file=sys.stderr)


def _default_promotion_ami(project: config.Project, service: str, env: str) -> str:
    from bakery.aws import promote as aws_promote

    after = aws_promote.environment_after(project, env)
    candidates = target_for(project, "aws").list_images(service)
    wanted = (lambda i: f"bakery.promoted-{after}" in i.labels) if after else (lambda i: i.labels.get("bakery.verified") == "true")
    for record in candidates:  # newest first
        if wanted(record):
            return record.image_id
    raise GateRefused(f"no AMI of '{service}' is {'promoted to ' + after if after else 'verified'} yet",
                      hint=f"run bakery {'promote ' + service + ' --to ' + after if after else 'build ' + service + ' --target aws'}")


@app.command("gc")
def gc_cmd(
    services: Annotated[Optional[list[str]], typer.Argument(help="Only these services (default: all)")] = None,
    keep: Annotated[int, typer.Option("--keep", min=1, help="Images kept per service (newest first).")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    target: TargetOpt = None,
    orphans: Annotated[bool, typer.Option("--orphans", help="Remove what runs whose process died left: local containers, images,"
                                          " layer tags, private dirs, locks; aws temporary resources.")] = False,
    older_than: Annotated[Optional[float], typer.Option(
        "--older-than", min=0, help="aws: age in seconds. AMIs: an unverified AMI goes only when older (default 86400);"
        " --orphans: only runs older than this (default 21600).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Remove old images and what only they use: role layers (local), snapshots (aws); --orphans for leftovers."""
    from bakery import gc
    project = load()
    for name in services or []:
        project.service(name)
    if (target or project.build.target) == "aws":
        _gc_aws(project, services, keep, dry_run, orphans, older_than, json_output)
        return
    actions = gc.plan_local_orphans(project) if orphans else gc.plan_local_gc(keep, services, project)
    if not dry_run:
        actions = gc.apply(actions)
    if json_output:
        emit_json([asdict(a) for a in actions])
        return
    for item in actions:
        if item.action != "keep":
            verb = "would remove" if dry_run else item.action
            print(f"{verb:<13} {item.kind + ' ' if orphans else ''}{item.ref}  ({item.reason})")
    kept = sum(a.action == "keep" for a in actions)
    print(f"{kept} kept, {len(actions) - kept} {'to remove' if dry_run else 'removed or in use'}", file=sys.stderr)


EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment from bakery.yml (dev, staging, prod, ...)")]


def deployment_records(project: config.Project, target_name: str) -> deploy.Records:
    """Where the target keeps its deployment records: AWS for aws (every machine sees them), else .bakery."""
    from bakery import deploy
    if target_name == "aws":
        from bakery.deploy.aws_records import AwsRecords

        return AwsRecords(aws_connection(project), project)
    return deploy.LocalRecords(project)


@app.command("deploy")
def deploy_cmd(
    service: Annotated[str, typer.Argument(help="Service from bakery.yml")],
    env: EnvOpt,
    target: TargetOpt = None,
    image: Annotated[Optional[str], typer.Option("--image", help="Image to deploy (default: what the previous env runs, or the newest verified).")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve a deploy to an environment that needs it.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Roll a verified image out to ENV: local replicas blue/green, or on aws Terraform and an instance refresh."""
    from bakery import deploy
    from bakery.deploy import local as deploy_local
    project = load()
    project.service(service)
    deploy.environment(project, env)  # config errors before any target is asked
    target_impl = target_for(project, target)
    sizing = deploy.read_sizing(project, env) if target_impl.name == "local" else None
    records = deployment_records(project, target_impl.name)
    record = deploy.choose_image(project, service, env, target_impl.list_images(service), image, target_impl, records)
    deploy.check_gates(project, service, env, record, approve, target_impl, records)
    run = RunDir.create(project.state_dir(), "deploy")
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    with locks.held(project.state_dir(), f"deploy-{service}-{env}", log):
        if target_impl.name == "aws":
            from bakery.deploy import aws as deploy_aws  # boto3: imported only for aws

            rollout = deploy_aws.deploy_aws(aws_connection(project), project, service, env, record, run, log)
            result, summary, data = rollout.deployment, rollout.describe(), rollout.as_dict()
        else:
            result = deploy_local.deploy_local(project, service, env, record, sizing, run, log)
            summary, data = f"deployed {result.image} to {env}: {result.replicas} healthy replica(s)", asdict(result)
        records.record(result)
    if json_output:
        emit_json(data)
        return
    print(summary, file=sys.stderr)


@app.command("status")
def status_cmd(
    service: Annotated[str, typer.Argument(help="Service from bakery.yml")],
    env: EnvOpt,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """What runs in ENV: each replica (local) or instance (aws) with its image fingerprint and health."""
    from bakery.deploy import local as deploy_local
    project = load()
    project.service(service)
    project.tfvars_path(env)
    target_name = target or project.build.target
    current = deployment_records(project, target_name).current(service, env)
    if target_name == "aws":
        _status_aws(project, service, env, current, json_output)
        return
    replicas = deploy_local.status_local(project, service, env)
    health = deploy_local.env_health(current, replicas)
    if json_output:
        emit_json({"deployment": asdict(current) if current else None, "replicas": [asdict(r) for r in replicas],
                   "health": {**asdict(health), "degraded": health.degraded}})
    else:
        print(_deployment_line(service, env, current) + f": {health.describe()}")
        for r in replicas:
            orphan = "  (orphan)" if r.name in health.orphans else ""
            print(f"  {r.name:<40} {r.fingerprint[:12]:<13} {'healthy' if r.healthy else 'UNHEALTHY':<10} {r.url}  {r.detail}{orphan}")
    if health.degraded:
        raise Degraded(f"{service} in {env} is degraded: {health.describe()}",
                       hint=f"bakery deploy {service} --env {env} restores it; bakery gc --orphans removes orphans")


def _deployment_line(service: str, env: str, current: deploy.Deployment | None) -> str:
    since = f" since {time.strftime('%Y-%m-%d %H:%M', time.localtime(current.at))}" if current and current.at else ""
    return f"{service} in {env}: " + (f"{current.image}{since}" if current else "not deployed")


def _status_aws(project: config.Project, service: str, env: str, current, json_output: bool) -> None:
    from bakery.deploy import aws as deploy_aws  # boto3: imported only for aws

    fleet = deploy_aws.find_fleet(aws_connection(project), project, service, env)
    instances = fleet.instances if fleet else []
    if json_output:
        emit_json({"deployment": asdict(current) if current else None, "asg_name": fleet.asg_name if fleet else None,
                   "instances": [asdict(i) for i in instances]})
        return
    print(_deployment_line(service, env, current) + (f" (auto scaling group {fleet.asg_name})" if fleet else
                                                     " (no auto scaling group found)"))
    for i in instances:
        print(f"  {i.instance_id:<22} {i.fingerprint[:12]:<13} {'healthy' if i.healthy else 'UNHEALTHY':<10}"
              f" {i.lifecycle_state:<12} {i.health_status:<10} {i.ami_id}  lt v{i.launch_template_version}")


@app.command("destroy")
def destroy_cmd(
    service: Annotated[str, typer.Argument(help="Service from bakery.yml")],
    env: EnvOpt,
    target: TargetOpt = None,
    approve: Annotated[bool, typer.Option("--approve", help="aws: approve destroying an environment with approval: true.")] = False,
) -> None:
    """Remove ENV's replicas (local) or terraform destroy ENV (aws); deploying again recreates it."""
    from bakery import deploy
    from bakery.deploy import local as deploy_local
    project = load()
    project.service(service)
    project.tfvars_path(env)
    target_name = target or project.build.target
    records = deployment_records(project, target_name)
    if target_name == "aws":
        from bakery.deploy import aws as deploy_aws  # boto3: imported only for aws

        deploy.check_approval(project, env, approve, "destroying")
        log = lambda m: print(m, file=sys.stderr)  # noqa: E731
        run = RunDir.create(project.state_dir(), "destroy")
        with locks.held(project.state_dir(), f"deploy-{service}-{env}", log):
            ami_id = deploy_aws.destroy_aws(project, service, env, records.deployed_ami(service, env), run, log)
            records.forget(service, env)
        print(f"destroyed {service} in {env}" + (f" (it ran {ami_id})" if ami_id else ": nothing was deployed"),
              file=sys.stderr)
        return
    removed = deploy_local.destroy_local(service, env)
    records.forget(service, env)
    print(f"destroyed {service} in {env}: {len(removed)} replica(s) removed", file=sys.stderr)


@envs_app.command("diff")
def envs_diff_cmd(
    a: Annotated[str, typer.Argument(help="Environment, e.g. dev")],
    b: Annotated[str, typer.Argument(help="Environment, e.g. prod")],
    json_output: JsonFlag = False,
) -> None:
    """Show that two environments differ only in declared knobs; exit 3 if they differ in anything else."""
    from bakery import envs
    project = load()
    diff = envs.diff_envs(project.root, a, b)
    if json_output:
        emit_json({"knob_differences": diff.knob_differences, "violations": diff.violations})
    else:
        for knob, (value_a, value_b) in diff.knob_differences.items():
            print(f"  {knob:<20} {a}: {value_a!s:<30} {b}: {value_b}")
        for line in diff.violations:
            print(f"  NOT A KNOB: {line}")
    if diff.violations:
        raise ConfigError(f"{a} and {b} differ in {len(diff.violations)} way(s) that are not knobs",
                          hint=diff.violations[0])


def _gc_aws(project, services, keep: int, dry_run: bool, orphans: bool, older_than: float | None,
            json_output: bool) -> None:
    """AMI gc or orphan gc; exit 1 (after the report) when AWS refused any removal."""
    from bakery.aws import gc as aws_gc

    conn = aws_connection(project)
    if orphans:
        result = aws_gc.gc_orphans(conn, project.state_dir(), dry_run=dry_run,
                                   older_than_s=aws_gc.DEFAULT_ORPHAN_AGE_S if older_than is None else older_than)
    else:
        result = aws_gc.gc_amis(conn, keep=keep, dry_run=dry_run, state_dir=project.state_dir(), services=services,
                                unverified_min_age_s=aws_gc.DEFAULT_UNVERIFIED_AGE_S if older_than is None else older_than)
    if json_output:
        emit_json(result.as_dict())
    else:
        for line in (_orphan_gc_lines(result) if orphans else _ami_gc_lines(result)):
            print(line)
    aws_gc.raise_if_failed(result)


def _ami_gc_lines(result) -> list[str]:
    verb = "would remove" if result.dry_run else "removed"
    return [*(f"kept:         {k.ami_id} {k.service}: {k.reason}" for k in result.kept),
            *(f"{verb + ':':<13} {r.ami_id} {r.service}: {r.reason}; snapshots {', '.join(r.snapshots) or 'none'}"
              for r in result.removed),
            *(f"FAILED:       {f.ami_id} {f.service}: {'deregistered, snapshots left: ' if f.deregistered else ''}"
              f"{f.error}" for f in result.failed)]


def _orphan_gc_lines(result) -> list[str]:
    verb = "would remove" if result.dry_run else "removed"
    return [*(f"{verb + ':':<13} {r.kind} {r.id} (run {r.run_id})" for r in result.removed),
            *(f"FAILED:       {r.kind} {r.id} (run {r.run_id}): {why}" for r, why in result.failed)]


@app.command("images")
def images_cmd(
    service: Annotated[Optional[str], typer.Argument(help="Only this service")] = None,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """List baked images with fingerprint, age and size."""
    from bakery import images
    project = load()
    target_name = target or project.build.target
    rows = images.list_images(project, service, target_name, **(state.aws if target_name == "aws" else {}))
    if json_output:
        emit_json(rows)
        return
    line = "{:<16} {:<48} {:<12} {:<13} {:>10} {:>10}"
    print(line.format("SERVICE", "IMAGE", "VERIFIED", "FINGERPRINT", "AGE", "SIZE"))
    for row in rows:
        print(line.format(row["service"], row["image"], row["verification"], row["fingerprint"][:12], row["age"], row["size"]))


@app.command("doctor")
def doctor_cmd(json_output: JsonFlag = False) -> None:
    """Check every prerequisite and say how to fix what is missing."""
    from bakery import doctor
    checks = doctor.run_checks(Path(state.project_dir).resolve())
    if json_output:
        emit_json([asdict(c) for c in checks])
    else:
        for c in checks:
            mark = "ok  " if c.ok else "FAIL"
            print(f"{mark} {c.name:<10} {c.detail}" + (f"  -> {c.fix}" if not c.ok else ""))
    if not all(c.ok for c in checks):
        raise typer.Exit(ExitStatus.PREREQ)


@app.command("fingerprint")
def fingerprint_cmd(
    service: Annotated[str, typer.Argument(help="Service from bakery.yml")],
    target: TargetOpt = None,
    explain: Annotated[bool, typer.Option("--explain", help="List every input and its digest.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Compute SERVICE's image fingerprint (builds the base first if it is missing)."""
    project = load()
    target_impl = target_for(project, target)
    base = target_impl.prepare_base(project, project.service(service).base, lambda m: print(m, file=sys.stderr))
    fp = service_fingerprint(project, service, base.image_id, target_impl.name)
    if json_output:
        emit_json({"fingerprint": fp.digest, "inputs": [asdict(i) for i in fp.inputs]})
        return
    print(fp.digest)
    if explain:
        for item in fp.inputs:
            print(f"  {item.kind:<10} {item.name:<40} {item.digest[:16]}")


@base_app.command("build")
def base_build(
    name: Annotated[str, typer.Argument(help="Base from bakery.yml, e.g. debian-12")],
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Bootstrap again even if it exists.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Bootstrap a base rootfs with mmdebstrap and import it into podman."""
    result = bases.ensure_base(load(), name, rebuild=rebuild, log=lambda m: print(m, file=sys.stderr))
    if json_output:
        emit_json(asdict(result))
        return
    print(f"{'built' if result.built else 'up to date'}: {result.ref}", file=sys.stderr)
    print(result.ref)


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON schema of bakery.yml."""
    emit_json(config.json_schema())


@config_app.command("check")
def config_check() -> None:
    """Validate bakery.yml and every service's playbook and roles."""
    project = load()
    for name in project.services:
        roles = resolve_service_playbook(project, name).roles
        print(f"{name}: {len(roles)} roles ({', '.join(roles)})")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to an ExitStatus."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    install_interrupt_handlers()
    try:
        rc = command.main(args=args, prog_name="bakery", standalone_mode=False)
        return rc if isinstance(rc, int) else ExitStatus.OK
    except (typer.Abort, KeyboardInterrupt):
        from bakery import interrupts
        print("bakery: interrupted", file=sys.stderr)
        return interrupts.exit_status()
    except BakeryError as exc:
        _report(exc, exc.one_line())
        return exc.exit_status
    except Exception as exc:  # the one boundary: anything unexpected becomes a one-line error
        if _is_usage_error(exc):
            exc.show()
            return ExitStatus.USAGE
        _report(exc, f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return ExitStatus.ERROR


def _is_usage_error(exc: Exception) -> bool:
    """Click's usage errors (typer vendors its own click, so match by shape, not class)."""
    return callable(getattr(exc, "show", None)) and getattr(exc, "exit_code", None) == ExitStatus.USAGE


def install_interrupt_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt (bakery/interrupts.py), even when started with SIGINT ignored."""
    from bakery import interrupts
    interrupts.install()


def _report(exc: BaseException, line: str) -> None:
    if state.debug:
        traceback.print_exception(exc)
    print(f"bakery: error: {line}", file=sys.stderr)
