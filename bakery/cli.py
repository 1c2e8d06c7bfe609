"""The thin command line: parse arguments, call a command (bakery.commands), show its result.

The one error boundary is main(): library code and commands raise, only main() prints errors and exits.
"""

from __future__ import annotations

import enum
import logging
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer

from bakery import __version__, interrupts
from bakery.commands import AppContext, Result
from bakery.errors import BakeryError, ExitStatus, PrerequisiteError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Bake Ansible roles into verified, immutable images.")
base_app = typer.Typer(no_args_is_help=True, help="Base images bootstrapped with mmdebstrap.")
config_app = typer.Typer(no_args_is_help=True, help="The bakery.yml configuration.")
envs_app = typer.Typer(no_args_is_help=True, help="Terraform environments (terraform/envs/*).")
keys_app = typer.Typer(no_args_is_help=True, help="The keys that sign verdicts and attestations.")
env_app = typer.Typer(no_args_is_help=True, help="Every service of an environment at once (environments.<env>.services).")
ci_app = typer.Typer(no_args_is_help=True, help="Fan a build out over CI runners.")
app.add_typer(ci_app, name="ci")
app.add_typer(envs_app, name="envs")
app.add_typer(env_app, name="env")
app.add_typer(keys_app, name="keys")
app.add_typer(base_app, name="base")
app.add_typer(config_app, name="config")


class State:
    context: AppContext = AppContext()  # set from the global options by _global


state = State()
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
TargetOpt = Annotated[Optional[str], typer.Option("--target", "-t", help="Build target (default: build.target in bakery.yml).")]
ServiceArg = Annotated[str, typer.Argument(help="Service from bakery.yml")]
EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment from bakery.yml (dev, staging, prod, ...)")]


def ctx() -> AppContext:
    return state.context


def show(result: Result, json_output: bool = False) -> None:
    """Render the result (JSON or human), raise its error if it carries one, exit with its status."""
    if json_output:
        print(result.json_text())
    else:
        result.render(sys.stdout, sys.stderr)
    result.raise_for_status()
    if result.exit_status != ExitStatus.OK:
        raise typer.Exit(result.exit_status)


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
    registry: Annotated[Optional[str], typer.Option(
        "--registry", help="OCI registry HOST[:PORT]/PATH (else BAKERY_REGISTRY, registry.url in bakery.yml).")] = None,
) -> None:
    state.context = AppContext(project, debug, {"region": region, "profile": profile, "endpoint_url": endpoint_url},
                               registry=registry)


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
    no_pull: Annotated[bool, typer.Option("--no-pull", help="An image reused from the registry is only referenced, not pulled.")] = False,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast", help="Several services: the first failure stops the running builds; the rest do not start.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Bake each SERVICE's playbook into an image with Packer and Ansible, then verify it."""
    from bakery.commands.build import BuildRequest, build as build_services

    request = BuildRequest(tuple(services or ()), all_services, jobs, target, force, no_verify, no_layers, tuple(skip),
                           until, no_pull, fail_fast)
    show(build_services(ctx(), request), json_output)


@keys_app.command("export")
def keys_export(json_output: JsonFlag = False) -> None:
    """Print the public keys that sign here (PEM): the verdict key, and signing.key when it differs (it signs
    what `bakery publish` attests); for trust.keys on other machines."""
    from bakery.commands.keys import export

    show(export(ctx()), json_output)


@app.command("verify")
def verify_cmd(
    service: ServiceArg,
    image: Annotated[Optional[str], typer.Option("--image", help="Image to verify (default: the newest of SERVICE).")] = None,
    host: Annotated[Optional[str], typer.Option(
        "--host", help="Test a running host instead (podman://NAME, ssh://user@host); with --image, expect that image.")] = None,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Boot an image, run the hygiene checks and SERVICE's testinfra suite, and record the verdict."""
    from bakery.commands.verify import VerifyRequest, verify

    show(verify(ctx(), VerifyRequest(service, image, host, target)), json_output)


@app.command("plan")
def plan_cmd(
    services: Annotated[Optional[list[str]], typer.Argument(help="Services (default: all)")] = None,
    all_services: Annotated[bool, typer.Option("--all", help="Every service in bakery.yml.")] = False,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Say which services would rebuild or re-verify, and why. Exit 0: all up to date, 2: something would change."""
    from bakery.commands.plan import plan

    show(plan(ctx(), list(services or []), all_services, target), json_output)


class CiFormat(str, enum.Enum):
    github = "github"
    gitlab = "gitlab"


@ci_app.command("matrix")
def ci_matrix_cmd(
    services: Annotated[Optional[list[str]], typer.Argument(help="Services (default: all)")] = None,
    all_services: Annotated[bool, typer.Option("--all", help="Every service in bakery.yml.")] = False,
    fmt: Annotated[CiFormat, typer.Option(
        "--format", help="github: a strategy.matrix JSON; gitlab: a child pipeline YAML.")] = "github",
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """The services that would rebuild or re-verify (only those), one CI job each."""
    from bakery.commands.ci import matrix

    show(matrix(ctx(), list(services or []), all_services, CiFormat(fmt).value, target), json_output)


@app.command("test-roles")
def test_roles_cmd(
    roles: Annotated[Optional[list[str]], typer.Argument(help="Roles to test (default: every role with a scenario)")] = None,
    base: Annotated[Optional[str], typer.Option("--base", help="Base image to test on (default: the first in bakery.yml).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Run each role's Molecule scenario (converge, idempotence, verify) on the bakery base image."""
    from bakery.commands.roles import test_roles

    show(test_roles(ctx(), list(roles or []), base), json_output)


@app.command("promote")
def promote_cmd(
    service: ServiceArg,
    env: Annotated[str, typer.Option("--to", "--env", help="Environment to promote to")],
    image: Annotated[Optional[str], typer.Option("--image", help="AMI id or the tag `bakery images` prints (default: newest verified, or newest promoted to the previous env).")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve a promotion to an environment with approval: true.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """aws target: tag an AMI bakery:promoted-ENV after checking the gates in bakery.yml (exit 7 if refused)."""
    from bakery.commands.promote import promote

    show(promote(ctx(), service, env, image, approve), json_output)


@app.command("gc")
def gc_cmd(
    services: Annotated[Optional[list[str]], typer.Argument(help="Only these services (default: all)")] = None,
    keep: Annotated[int, typer.Option("--keep", min=1, help="Images kept per service (newest first).")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    target: TargetOpt = None,
    orphans: Annotated[bool, typer.Option("--orphans", help="aws: remove temporary resources of runs that are over.")] = False,
    older_than: Annotated[Optional[float], typer.Option(
        "--older-than", min=0, help="aws: age in seconds. AMIs: an unverified AMI goes only when older (default 86400);"
        " --orphans: only runs older than this (default 21600).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Remove old images and what only they use: role layers (local), snapshots (aws); --orphans for leftovers."""
    from bakery.commands.gc import GcRequest, gc

    show(gc(ctx(), GcRequest(tuple(services or ()), keep, dry_run, target, orphans, older_than)), json_output)


@app.command("deploy")
def deploy_cmd(
    service: ServiceArg,
    env: EnvOpt,
    target: TargetOpt = None,
    image: Annotated[Optional[str], typer.Option("--image", help="Image to deploy (default: what the previous env runs, or the newest verified).")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve a deploy to an environment that needs it.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Roll a verified image out to ENV: local replicas blue/green, or on aws Terraform and an instance refresh."""
    from bakery.commands.deploy import DeployRequest, deploy_service

    show(deploy_service(ctx(), DeployRequest(service, env, target, image, approve)), json_output)


@app.command("publish")
def publish_cmd(
    service: ServiceArg,
    image: Annotated[Optional[str], typer.Option("--image", help="Image to publish (default: the newest of SERVICE).")] = None,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Push a verified image (tagged with its fingerprint), its base and a signed attestation to the registry."""
    from bakery.commands.publish import publish

    show(publish(ctx(), service, image, target), json_output)


@app.command("status")
def status_cmd(service: ServiceArg, env: EnvOpt, target: TargetOpt = None, json_output: JsonFlag = False) -> None:
    """What runs in ENV: each replica (local) or instance (aws) with its image fingerprint and health."""
    from bakery.commands.deploy import status

    show(status(ctx(), service, env, target), json_output)


@app.command("destroy")
def destroy_cmd(
    service: ServiceArg,
    env: EnvOpt,
    target: TargetOpt = None,
    approve: Annotated[bool, typer.Option("--approve", help="aws: approve destroying an environment with approval: true.")] = False,
) -> None:
    """Remove ENV's replicas (local) or terraform destroy ENV (aws); deploying again recreates it."""
    from bakery.commands.deploy import destroy

    show(destroy(ctx(), service, env, target, approve))


EnvArg = Annotated[str, typer.Argument(help="Environment from bakery.yml (dev, staging, prod, ...)")]
ApproveOpt = Annotated[bool, typer.Option("--approve", help="Approve an environment with approval: true.")]


@env_app.command("up")
def env_up_cmd(env: EnvArg, target: TargetOpt = None, approve: ApproveOpt = False, json_output: JsonFlag = False) -> None:
    """Deploy every service of ENV at the image its gates allow (what the previous env runs); never a rebake."""
    from bakery.commands.environment import env_up

    show(env_up(ctx(), env, target, approve), json_output)


@env_app.command("status")
def env_status_cmd(env: EnvArg, target: TargetOpt = None, json_output: JsonFlag = False) -> None:
    """Every service of ENV: its image, replicas, health and endpoint."""
    from bakery.commands.environment import env_status

    show(env_status(ctx(), env, target), json_output)


@env_app.command("destroy")
def env_destroy_cmd(env: EnvArg, target: TargetOpt = None, approve: ApproveOpt = False, json_output: JsonFlag = False) -> None:
    """Destroy every service of ENV (replicas and balancers locally, terraform destroy on aws)."""
    from bakery.commands.environment import env_destroy

    show(env_destroy(ctx(), env, target, approve), json_output)


@env_app.command("recreate")
def env_recreate_cmd(env: EnvArg, target: TargetOpt = None, approve: ApproveOpt = False,
                     json_output: JsonFlag = False) -> None:
    """Destroy ENV, bring every service back at the image it ran, prove it the same (else exit 13)."""
    from bakery.commands.environment import env_recreate

    show(env_recreate(ctx(), env, target, approve), json_output)


@envs_app.command("diff")
def envs_diff_cmd(
    a: Annotated[str, typer.Argument(help="Environment, e.g. dev")],
    b: Annotated[str, typer.Argument(help="Environment, e.g. prod")],
    json_output: JsonFlag = False,
) -> None:
    """Show that two environments differ only in declared knobs; exit 3 if they differ in anything else."""
    from bakery.commands.envs import envs_diff

    show(envs_diff(ctx(), a, b), json_output)


@app.command("images")
def images_cmd(
    service: Annotated[Optional[str], typer.Argument(help="Only this service")] = None,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """List baked images with fingerprint, age and size."""
    from bakery.commands.images import images

    show(images(ctx(), service, target), json_output)


@app.command("init")
def init_cmd(
    directory: Annotated[Optional[Path], typer.Argument(
        help="Directory of the new project, created if missing (default: --project, else the current one).")] = None,
    service: Annotated[str, typer.Option("--service", help="Name of the project's service.")] = "app",
    json_output: JsonFlag = False,
) -> None:
    """Write a minimal project: bakery.yml, a playbook, a testinfra suite, .gitignore. Never overwrites a file."""
    from bakery.commands.init import init

    show(init(ctx(), directory, service), json_output)


@app.command("diff")
def diff_cmd(
    a: Annotated[str, typer.Argument(help="Old image (ref or id), or SERVICE with --env")],
    b: Annotated[Optional[str], typer.Argument(help="New image (default with --env: the newest verified image)")] = None,
    env: Annotated[Optional[str], typer.Option("--env", "-e", help="Compare what ENV runs of SERVICE (A).")] = None,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """Packages added, removed and changed between two images, and a summary of their changed files."""
    from bakery.commands.diff import DiffRequest, diff

    show(diff(ctx(), DiffRequest(a, b, env, target)), json_output)


@app.command("drift")
def drift_cmd(
    service: ServiceArg,
    env: EnvOpt,
    target: TargetOpt = None,
    json_output: JsonFlag = False,
) -> None:
    """What changed in each running replica against its image, runtime paths ignored. Exit 0: none, 2: drift."""
    from bakery.commands.drift import drift

    show(drift(ctx(), service, env, target), json_output)


class SbomFormat(str, enum.Enum):
    cyclonedx = "cyclonedx"
    spdx = "spdx"


@app.command("sbom")
def sbom_cmd(
    service: ServiceArg,
    image: Annotated[Optional[str], typer.Option("--image", help="Image (default: the newest of SERVICE).")] = None,
    fmt: Annotated[SbomFormat, typer.Option("--format", help="SBOM format (JSON).")] = SbomFormat.cyclonedx,
    target: TargetOpt = None,
) -> None:
    """Print the SBOM of an image: the one its verification recorded, else one made now from its filesystem."""
    from bakery.commands.sbom import sbom

    show(sbom(ctx(), service, image, fmt.value, target))


@app.command("doctor")
def doctor_cmd(json_output: JsonFlag = False) -> None:
    """Check every prerequisite and say how to fix what is missing."""
    from bakery.commands.doctor import doctor

    show(doctor(ctx()), json_output)


@app.command("fingerprint")
def fingerprint_cmd(
    service: ServiceArg,
    target: TargetOpt = None,
    explain: Annotated[bool, typer.Option("--explain", help="List every input and its digest.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Compute SERVICE's image fingerprint (builds the base first if it is missing)."""
    from bakery.commands.fingerprint import fingerprint

    show(fingerprint(ctx(), service, target, explain), json_output)


@base_app.command("build")
def base_build(
    name: Annotated[str, typer.Argument(help="Base from bakery.yml, e.g. debian-12")],
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Bootstrap again even if it exists.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Bootstrap a base rootfs with mmdebstrap and import it into podman."""
    from bakery.commands.base import base_build as build_base

    show(build_base(ctx(), name, rebuild), json_output)


@base_app.command("status")
def base_status_cmd(
    name: Annotated[str, typer.Argument(help="Base from bakery.yml, e.g. debian-12")],
    json_output: JsonFlag = False,
) -> None:
    """How many of the base's packages have newer versions in the mirror's current Packages indexes."""
    from bakery.commands.base import base_status

    show(base_status(ctx(), name), json_output)


@config_app.command("schema")
def config_schema() -> None:
    """Print the JSON schema of bakery.yml."""
    from bakery.commands.config import config_schema as schema

    show(schema(ctx()))


@config_app.command("check")
def config_check() -> None:
    """Validate bakery.yml and every service's playbook and roles."""
    from bakery.commands.config import config_check as check

    show(check(ctx()))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to an ExitStatus."""
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    install_interrupt_handlers()
    install_warning_output()
    try:
        rc = command.main(args=args, prog_name="bakery", standalone_mode=False)
        if rc == TYPER_INTERRUPTED and interrupts.received():
            # a KeyboardInterrupt outside a child's wait: typer turns it into Exit(130) and returns it
            print("bakery: interrupted", file=sys.stderr)
            return interrupts.exit_status()
        return rc if isinstance(rc, int) else ExitStatus.OK
    except (typer.Abort, KeyboardInterrupt):
        print("bakery: interrupted", file=sys.stderr)
        return interrupts.exit_status()
    except BakeryError as exc:
        _report(exc, exc.one_line())
        return exc.exit_status
    except Exception as exc:  # the one boundary: anything unexpected becomes a one-line error
        if _is_usage_error(exc):
            exc.show()
            return ExitStatus.USAGE
        if (known := disk_full(exc)) is not None:
            _report(exc, known.one_line())
            return known.exit_status
        _report(exc, f"unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return ExitStatus.ERROR


def disk_full(exc: Exception) -> BakeryError | None:
    """A full file system (or quota) is the machine's state, not a bug: a prerequisite error saying where."""
    import errno

    if not isinstance(exc, OSError) or exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    where = f" writing {exc.filename}" if exc.filename else ""
    return PrerequisiteError(f"no space left on the device{where} ({exc.strerror})",
                             hint="free space there (bakery gc, bakery gc --orphans, podman image prune) and run again;"
                             " bakery doctor shows the free space")


TYPER_INTERRUPTED = 130  # what typer returns (standalone_mode=False) for a KeyboardInterrupt it caught
CLICK_USAGE_EXIT_CODE = 2  # what click's UsageError carries; bakery exits ExitStatus.USAGE instead


def _is_usage_error(exc: Exception) -> bool:
    """Click's usage errors (typer vendors its own click, so match by shape, not class)."""
    return callable(getattr(exc, "show", None)) and getattr(exc, "exit_code", None) == CLICK_USAGE_EXIT_CODE


def install_interrupt_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP raise KeyboardInterrupt (bakery/interrupts.py), even when started with SIGINT ignored."""
    interrupts.install()


class _WarningLines(logging.Handler):
    """Library warnings (logging.getLogger("bakery")) as one `bakery: warning:` line each on stderr, once per run."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.seen:
            self.seen.add(message)
            print(f"bakery: warning: {message}", file=sys.stderr)


def install_warning_output() -> None:
    logger = logging.getLogger("bakery")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _WarningLines)] + [_WarningLines()]
    logger.propagate = False


def _report(exc: BaseException, line: str) -> None:
    if state.context.debug:
        traceback.print_exception(exc)
    print(f"bakery: error: {line}", file=sys.stderr)
