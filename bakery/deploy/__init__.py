"""Deployments: the gates an image must pass, which image to roll out, and the records of what runs where.

The gates are the same for every target; where a target keeps its records differs (Records):
the local target in .bakery/deployments (LocalRecords), the aws target in AWS itself
(bakery/deploy/aws_records.py), so that CI jobs on different machines see each other's deploys.
How a target rolls out, reports and destroys an environment is a Deployer, one small class per
target (LocalDeployer, AwsDeployer) found by name in DEPLOYERS; each works on one DeployContext.
"""

from __future__ import annotations

import contextlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from bakery import statefile
from bakery.config import Environment, Project
from bakery.envs import load_hcl
from bakery.errors import ConfigError, GateRefused
from bakery.state import StateDir, write_json_atomic
from bakery.targets import ImageRecord, Target

if TYPE_CHECKING:
    from bakery.rundir import RunDir


@dataclass(frozen=True)
class Sizing:
    instance_type: str
    desired: int
    min_size: int
    max_size: int


@dataclass(frozen=True)
class Deployment:
    service: str
    env: str
    target: str
    image: str
    image_id: str
    fingerprint: str
    replicas: int
    healthy: bool
    at: float
    run_id: str


SIZE_KEYS = ("instance_type", "min_size", "max_size", "desired_capacity")


def read_sizing(project: Project, env: str, service: str | None = None) -> Sizing:
    """Sizes and counts from the environment's terraform.tfvars (the one source of truth).

    The top-level keys size the environment's services; `services = { worker = {...} }` in the same
    file overrides them for one service (any of instance_type, min_size, max_size, desired_capacity).
    """
    path = project.tfvars_path(env)
    if not path.is_file():
        raise ConfigError(f"no tfvars for environment '{env}' at {path}", hint="create it or set environments.<env>.tfvars")
    values = load_hcl(path, project.root)
    overrides = (values.get("services") or {}).get(service, {}) if service else {}
    unknown = sorted(set(overrides) - set(SIZE_KEYS))
    if unknown:
        raise ConfigError(f"{path}: services.{service}.{unknown[0]} is not a size", hint=f"sizes: {', '.join(SIZE_KEYS)}")
    values = {**values, **overrides}
    try:
        return Sizing(str(values["instance_type"]), int(values["desired_capacity"]), int(values["min_size"]),
                      int(values["max_size"]))
    except KeyError as missing:
        raise ConfigError(f"{path}: missing {missing.args[0]}", hint="set instance_type, min_size, max_size, desired_capacity") from None


def current_deployment(project: Project, service: str, env: str) -> Deployment | None:
    """What runs in env now by the record, or None (also, with a warning naming it, when the record is damaged)."""
    return statefile.read_json(StateDir(project.state_dir()).deployment(service, env), "deployment record",
                               lambda d: Deployment(**d))


def record_deployment(project: Project, deployment: Deployment) -> None:
    state = StateDir(project.state_dir())
    write_json_atomic(state.deployment(deployment.service, deployment.env), asdict(deployment))
    with open(state.deployment_history, "a") as history:
        history.write(json.dumps(asdict(deployment), sort_keys=True) + "\n")


def forget_deployment(project: Project, service: str, env: str) -> None:
    StateDir(project.state_dir()).deployment(service, env).unlink(missing_ok=True)


class Records(ABC):
    """Where a target keeps what runs where: a successful deploy writes it, the gates read it."""

    @abstractmethod
    def current(self, service: str, env: str) -> Deployment | None:
        """The deployment that runs in env now, or None."""

    @abstractmethod
    def record(self, deployment: Deployment) -> None:
        """Remember a successful deployment (it replaces the env's previous one)."""

    @abstractmethod
    def forget(self, service: str, env: str) -> None:
        """The environment was destroyed: nothing runs there any more."""


class LocalRecords(Records):
    """.bakery/deployments: one machine's records (the local target's)."""

    def __init__(self, project: Project):
        self.project = project

    def current(self, service: str, env: str) -> Deployment | None:
        return current_deployment(self.project, service, env)

    def record(self, deployment: Deployment) -> None:
        record_deployment(self.project, deployment)

    def forget(self, service: str, env: str) -> None:
        forget_deployment(self.project, service, env)


def _verify_hint(service: str, image: ImageRecord, target: Target) -> str:
    flag = "" if target.name == "local" else f" --target {target.name}"
    return f"run bakery verify {service} --image {image.ref}{flag}"


def check_gates(project: Project, service: str, env: str, image: ImageRecord, approve: bool,
                target: Target, records: Records, *, probe_live: bool = True) -> None:
    """Verified; the previous environment runs this very image, healthy (on the local target probed now,
    unless probe_live is false: the decision on the records alone); approval where required."""
    from bakery.verify import verdict_of

    settings = environment(project, env)
    verdict = verdict_of(project, image, target)
    if not verdict.passed:
        raise GateRefused(f"{image.ref} is {verdict.describe()}, not verified", hint=_verify_hint(service, image, target))
    if settings.after is not None:
        previous = records.current(service, settings.after)
        if previous is None or previous.fingerprint != image.fingerprint or not previous.healthy:
            raise GateRefused(
                f"{env} needs a healthy {settings.after} deployment of {image.ref} first",
                hint=f"run bakery deploy {service} --env {settings.after} --image {image.ref}",
            )
        if probe_live and target.name == "local":
            check_live(DeployContext(project, service, settings.after, target, records), previous)
    check_approval(project, env, approve, "deploying to")


def check_live(ctx: DeployContext, deployment: Deployment) -> None:
    """local: the recorded deployment of env must be healthy now (its replicas probed), not only at deploy time."""
    from bakery.deploy import local

    health = local.env_health(deployment, local.status_local(ctx))
    if health.healthy < health.desired:
        raise GateRefused(f"{ctx.env} is not healthy now: {health.describe()}",
                          hint=f"see bakery status {ctx.service} --env {ctx.env}; deploying to {ctx.env} again restores it")


def check_approval(project: Project, env: str, approve: bool, doing: str) -> None:
    if environment(project, env).approval and not approve:
        raise GateRefused(f"{doing} {env} needs approval", hint="rerun with --approve")


def environment(project: Project, env: str) -> Environment:
    """The environment's settings from bakery.yml (ConfigError, exit 3, for an unknown one)."""
    if env not in project.environments:
        project.tfvars_path(env)  # raises the unknown-environment error
    return project.environments[env]


def choose_image(project: Project, service: str, env: str, images: list[ImageRecord], ref: str | None,
                 target: Target, records: Records) -> ImageRecord:
    """--image if given; else what the previous environment runs; else (first env) the newest verified image."""
    if ref is not None:
        from bakery.images import resolve_image
        return resolve_image(images, ref, service)
    after = environment(project, env).after
    if after is not None:
        previous = records.current(service, after)
        # the very image the previous environment runs, else one with its fingerprint (the same content)
        match = [i for i in images if previous and i.image_id == previous.image_id] or \
            [i for i in images if previous and previous.fingerprint and i.fingerprint == previous.fingerprint]
        if not match:
            raise GateRefused(f"nothing is deployed to {after} yet", hint=f"deploy {service} to {after} first")
        return match[0]
    from bakery.verify import verdict_of

    verified = [i for i in images if verdict_of(project, i, target).passed]
    if not verified:
        raise GateRefused(f"no verified image of '{service}'", hint=f"run bakery build {service}")
    return verified[0]


def new_deployment(service: str, env: str, target: str, image: ImageRecord, replicas: int, run_id: str) -> Deployment:
    return Deployment(service, env, target, image.ref, image.image_id, image.fingerprint, replicas, True,
                      time.time(), run_id)


def deployment_line(service: str, env: str, current: Deployment | None) -> str:
    """`web in dev: <image> since <when>`, or `not deployed`: the first line of `bakery status`."""
    since = f" since {time.strftime('%Y-%m-%d %H:%M', time.localtime(current.at))}" if current and current.at else ""
    return f"{service} in {env}: " + (f"{current.image}{since}" if current else "not deployed")


# -- deployers: one small class per target, behind one interface ------------------------------

@dataclass(frozen=True)
class DeployContext:
    """One service in one environment on one target: what a Deployer works on."""

    project: Project
    service: str
    env: str
    target: Target
    records: Records
    run: RunDir | None = None  # deploy: this deploy's run directory
    log: Callable[[str], None] = print

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One deploy or destroy of this service in this environment at a time (on this machine)."""
        from bakery import locks

        with locks.held(self.project.state_dir(), f"deploy-{self.service}-{self.env}", self.log):
            yield


@dataclass(frozen=True)
class Rollout:
    """A finished deploy: the record to keep, one summary line, its JSON."""

    deployment: Deployment
    summary: str
    data: dict


@dataclass(frozen=True)
class FleetStatus:
    """What runs in an environment: the JSON of `bakery status` and its lines after the first."""

    data: dict
    lines: list[str] = field(default_factory=list)
    heading: str = ""  # appended to the deployment line, e.g. the auto scaling group
    degraded: str = ""  # local: why the environment is degraded now ("" when it is not)


class Deployer(ABC):
    """How a target rolls an image out, says what runs, and destroys an environment."""

    name: str

    def __init__(self, project: Project, **options):
        self.project = project
        self.options = options  # the target's own options (aws: region, profile, endpoint_url)

    @abstractmethod
    def records(self) -> Records:
        """Where this target keeps its deployment records."""

    def check_environment(self, service: str, env: str) -> None:
        """Config errors of the environment, before any image is chosen (default: none beyond bakery.yml)."""

    @abstractmethod
    def deploy(self, ctx: DeployContext, image: ImageRecord) -> Rollout:
        """Roll image out to ctx.env; raise DeployFailed (or a refresh error) when it never got healthy."""

    @abstractmethod
    def status(self, ctx: DeployContext) -> FleetStatus:
        """Each replica or instance of ctx.service in ctx.env, with its fingerprint and health."""

    @abstractmethod
    def destroy(self, ctx: DeployContext, approve: bool) -> str:
        """Remove the environment and forget its record; returns the one-line summary."""


def _local_deployer() -> type[Deployer]:
    from bakery.deploy.local import LocalDeployer

    return LocalDeployer


def _aws_deployer() -> type[Deployer]:
    from bakery.deploy.aws import AwsDeployer  # boto3: imported only for aws

    return AwsDeployer


DEPLOYERS: dict[str, Callable[[], type[Deployer]]] = {"local": _local_deployer, "aws": _aws_deployer}


def get_deployer(name: str, project: Project, **options) -> Deployer:
    """The deployer of the named target (ConfigError, exit 3, for a target that cannot deploy)."""
    if name not in DEPLOYERS:
        raise ConfigError(f"unknown deployment target '{name}'", hint=f"targets that deploy: {', '.join(DEPLOYERS)}")
    return DEPLOYERS[name]()(project, **options)
