"""Deployments: the gates an image must pass, which image to roll out, and the records of what runs where.

The gates are the same for every target; where a target keeps its records differs (Records):
the local target in .bakery/deployments (LocalRecords), the aws target in AWS itself
(bakery/deploy/aws_records.py), so that CI jobs on different machines see each other's deploys.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path

from bakery import catalog, statefile
from bakery.config import Environment, Project
from bakery.envs import load_hcl
from bakery.errors import ConfigError, GateRefused
from bakery.targets import ImageRecord, Target


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


def read_sizing(project: Project, env: str) -> Sizing:
    """Sizes and counts from the environment's terraform.tfvars (the one source of truth)."""
    path = project.tfvars_path(env)
    if not path.is_file():
        raise ConfigError(f"no tfvars for environment '{env}' at {path}", hint="create it or set environments.<env>.tfvars")
    values = load_hcl(path, project.root)
    try:
        return Sizing(str(values["instance_type"]), int(values["desired_capacity"]), int(values["min_size"]),
                      int(values["max_size"]))
    except KeyError as missing:
        raise ConfigError(f"{path}: missing {missing.args[0]}", hint="set instance_type, min_size, max_size, desired_capacity") from None


def _record_path(project: Project, service: str, env: str) -> Path:
    return project.state_dir() / "deployments" / service / f"{env}.json"


def current_deployment(project: Project, service: str, env: str) -> Deployment | None:
    return statefile.read_json(_record_path(project, service, env), "deployment record", lambda d: Deployment(**d),
                               hint=f"remove it and run bakery deploy {service} --env {env} again")


def record_deployment(project: Project, deployment: Deployment) -> None:
    path = _record_path(project, deployment.service, deployment.env)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(deployment), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    with open(project.state_dir() / "deployments" / "history.jsonl", "a") as history:
        history.write(json.dumps(asdict(deployment), sort_keys=True) + "\n")


def forget_deployment(project: Project, service: str, env: str) -> None:
    _record_path(project, service, env).unlink(missing_ok=True)


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
                target: Target, records: Records) -> None:
    """Verified; the previous environment runs this very image, healthy; approval where required."""
    settings = environment(project, env)
    status = target.verdict(project, image)
    if status != catalog.PASSED:
        raise GateRefused(f"{image.ref} is {status}, not verified", hint=_verify_hint(service, image, target))
    if settings.after is not None:
        previous = records.current(service, settings.after)
        if previous is None or previous.fingerprint != image.fingerprint or not previous.healthy:
            raise GateRefused(
                f"{env} needs a healthy {settings.after} deployment of {image.ref} first",
                hint=f"run bakery deploy {service} --env {settings.after} --image {image.ref}",
            )
        if target.name == "local":
            check_live(project, service, settings.after, previous)
    check_approval(project, env, approve, "deploying to")


def check_live(project: Project, service: str, env: str, deployment: Deployment) -> None:
    """local: the recorded deployment of env must be healthy now (its replicas probed), not only at deploy time."""
    from bakery.deploy import local

    health = local.env_health(deployment, local.status_local(project, service, env))
    if health.healthy < health.desired:
        raise GateRefused(f"{env} is not healthy now: {health.describe()}",
                          hint=f"see bakery status {service} --env {env}; deploying to {env} again restores it")


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
        for image in images:
            if ref in (image.ref, image.image_id) or image.image_id.startswith(ref):
                return image
        raise ConfigError(f"image '{ref}' is not a baked image of '{service}'", hint=f"see bakery images {service}")
    after = environment(project, env).after
    if after is not None:
        previous = records.current(service, after)
        # the very image the previous environment runs, else one with its fingerprint (the same content)
        match = [i for i in images if previous and i.image_id == previous.image_id] or \
            [i for i in images if previous and previous.fingerprint and i.fingerprint == previous.fingerprint]
        if not match:
            raise GateRefused(f"nothing is deployed to {after} yet", hint=f"deploy {service} to {after} first")
        return match[0]
    verified = [i for i in images if target.verdict(project, i) == catalog.PASSED]
    if not verified:
        raise GateRefused(f"no verified image of '{service}'", hint=f"run bakery build {service}")
    return verified[0]


def new_deployment(service: str, env: str, target: str, image: ImageRecord, replicas: int, run_id: str) -> Deployment:
    return Deployment(service, env, target, image.ref, image.image_id, image.fingerprint, replicas, True,
                      time.time(), run_id)
