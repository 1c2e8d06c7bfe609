"""Local rollout: an environment's replicas as podman containers, replaced blue/green."""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from bakery import podman
from bakery.deploy import (DeployContext, Deployer, Deployment, FleetStatus, LocalRecords, Records, Rollout, Sizing,
                           new_deployment, read_sizing)
from bakery.deploy.balancer import Balancer
from bakery.errors import ConfigError, DeployFailed
from bakery.rundir import RunDir
from bakery.state import StateDir
from bakery.targets import ImageRecord

# instance type -> (vCPU, memory GiB), as AWS sizes them; CPUs are capped at this machine's cores
INSTANCE_SIZES: dict[str, tuple[int, float]] = {
    "t3.nano": (2, 0.5), "t3.micro": (2, 1), "t3.small": (2, 2), "t3.medium": (2, 4),
    "t3.large": (2, 8), "t3.xlarge": (4, 16), "t3.2xlarge": (8, 32),
}
PURPOSE = "replica"
HEALTH_POLL_S = 0.5


@dataclass(frozen=True)
class Replica:
    name: str
    url: str
    fingerprint: str
    deploy_id: str


@dataclass(frozen=True)
class ReplicaStatus:
    name: str
    url: str
    fingerprint: str
    state: str
    healthy: bool
    detail: str
    deploy_id: str = ""
    size: str = ""  # the container's limits, e.g. "cpus=2 memory=2048m"


@dataclass(frozen=True)
class EnvHealth:
    """An environment now: the recorded deployment's replicas against what runs and answers."""

    desired: int
    running: int
    healthy: int
    orphans: list[str]  # replicas of no recorded deployment (a killed or failed deploy left them)

    @property
    def degraded(self) -> bool:
        return self.healthy < self.desired or bool(self.orphans)

    def describe(self) -> str:
        orphans = f", {len(self.orphans)} orphan(s): {', '.join(self.orphans)}" if self.orphans else ""
        return f"{self.healthy} of {self.desired} replica(s) healthy, {self.running} running{orphans}"


def env_health(deployment: Deployment | None, replicas: list[ReplicaStatus]) -> EnvHealth:
    """Count the deployment's replicas (by its run id) that run and answer healthy now."""
    run_id = deployment.run_id if deployment else None
    members = [r for r in replicas if r.deploy_id == run_id]
    return EnvHealth(desired=deployment.replicas if deployment else 0,
                     running=sum(r.state == "running" for r in members),
                     healthy=sum(r.healthy for r in members),
                     orphans=[r.name for r in replicas if r.deploy_id != run_id])


def resource_limits(instance_type: str) -> list[str]:
    if instance_type not in INSTANCE_SIZES:
        raise ConfigError(f"unknown instance type '{instance_type}' for the local target",
                          hint=f"known: {', '.join(INSTANCE_SIZES)}")
    cpus, memory_gib = INSTANCE_SIZES[instance_type]
    return [f"--cpus={min(cpus, os.cpu_count() or 1)}", f"--memory={int(memory_gib * 1024)}m"]


def balancer_of(ctx: DeployContext) -> Balancer | None:
    """The environment's load balancer when services.<service>.deploy.endpoints names a port for it."""
    settings = ctx.project.service(ctx.service).deploy
    port = settings.endpoints.get(ctx.env)
    if port is None:
        return None
    return Balancer(StateDir(ctx.project.state_dir()), ctx.service, ctx.env, port, settings.health_path)


def endpoint_status(balancer: Balancer | None) -> dict | None:
    """`status --json`'s endpoint: the stable URL, whether HAProxy runs, and what each used slot serves."""
    if balancer is None:
        return None
    running = balancer.running()
    servers = [asdict(s) for s in balancer.serving()] if running else []
    return {"url": balancer.url, "running": running, "servers": servers}


def replica_filters(service: str, env: str) -> list[str]:
    return [f"label=bakery.service={service}", f"label=bakery.env={env}", f"label=bakery.purpose={PURPOSE}"]


def current_replicas(service: str, env: str, port: int) -> list[Replica]:
    return [_replica(c, port) for c in podman.containers(*replica_filters(service, env))]


def _replica(container: dict, port: int) -> Replica:
    labels = container.get("Labels") or {}
    return Replica(container["Names"][0], _url(container["Names"][0], port), labels.get("bakery.fingerprint", ""),
                   labels.get("bakery.deploy-id", ""))


def _url(name: str, port: int) -> str:
    out = podman.podman("port", name, f"{port}/tcp", check=False).stdout.strip().splitlines()
    return f"http://{out[0]}" if out else ""


class LocalDeployer(Deployer):
    """Replicas as podman containers on this machine; records in .bakery/deployments."""

    name = "local"

    def records(self) -> Records:
        return LocalRecords(self.project)

    def check_environment(self, service: str, env: str) -> None:
        read_sizing(self.project, env, service)  # the tfvars sizes, before any image is chosen

    def deploy(self, ctx: DeployContext, image: ImageRecord) -> Rollout:
        deployment = deploy_local(ctx, image, read_sizing(ctx.project, ctx.env, ctx.service))
        return Rollout(deployment, f"deployed {deployment.image} to {ctx.env}: {deployment.replicas} healthy replica(s)",
                       asdict(deployment))

    def status(self, ctx: DeployContext) -> FleetStatus:
        replicas = status_local(ctx)
        health = env_health(ctx.records.current(ctx.service, ctx.env), replicas)
        endpoint = endpoint_status(balancer_of(ctx))
        at = "" if endpoint is None else f" at {endpoint['url']}" + ("" if endpoint["running"] else " (balancer stopped)")
        return FleetStatus(
            {"replicas": [asdict(r) for r in replicas], "health": {**asdict(health), "degraded": health.degraded},
             "endpoint": endpoint},
            [f"  {r.name:<40} {r.fingerprint[:12]:<13} {'healthy' if r.healthy else 'UNHEALTHY':<10} {r.url}  {r.detail}"
             + ("  (orphan)" if r.name in health.orphans else "") for r in replicas],
            heading=f"{at}: {health.describe()}", degraded=health.describe() if health.degraded else "")

    def destroy(self, ctx: DeployContext, approve: bool) -> str:
        removed = podman.remove_containers(*replica_filters(ctx.service, ctx.env))
        balancer = balancer_of(ctx)
        stopped = balancer is not None and balancer.stop()
        ctx.records.forget(ctx.service, ctx.env)
        return (f"destroyed {ctx.service} in {ctx.env}: {len(removed)} replica(s) removed"
                + (f", balancer on {balancer.url} stopped" if stopped else ""))


def deploy_local(ctx: DeployContext, image: ImageRecord, sizing: Sizing) -> Deployment:
    """Start the new replicas, wait until each is healthy, then remove the old ones (blue/green)."""
    service, env, log = ctx.service, ctx.env, ctx.log
    settings = ctx.project.service(service).deploy
    old = current_replicas(service, env, settings.port)
    limits = resource_limits(sizing.instance_type)
    log(f"starting {sizing.desired} replica(s) of {image.ref} ({sizing.instance_type}: {' '.join(limits)})")
    balancer = balancer_of(ctx)
    if balancer is not None and not balancer.running():  # what could stop it from starting, before any replica
        balancer.check_health_path()
        balancer.check_port_free(f"services.{service}.deploy.endpoints.{env}")
    with new_replicas(service, env, image, sizing.desired, ctx.run, limits, settings.port) as fresh:
        for replica in fresh:
            wait_healthy(replica, image.fingerprint, settings.health_path, settings.health_timeout_s)
            log(f"  {replica.name} healthy at {replica.url}")
        if balancer is not None:
            switch_balancer(balancer, fresh, log)
    for replica in old:
        podman.remove(replica.name)
        log(f"  removed old replica {replica.name} ({replica.fingerprint[:12]})")
    return new_deployment(service, env, "local", image, sizing.desired, ctx.run.run_id)


def switch_balancer(balancer: Balancer, fresh: list[Replica], log) -> None:
    """New replicas in (once HAProxy calls them UP), then the old ones drained and out."""
    if not balancer.running():
        balancer.start()
        log(f"  balancer started on {balancer.url}")
    slots = balancer.add([r.url for r in fresh])
    log(f"  {len(slots)} new replica(s) in the balancer ({', '.join(slots)})")
    drained = balancer.drain_all_but([r.url for r in fresh])
    if drained:
        log(f"  {len(drained)} old replica(s) drained out of the balancer ({', '.join(drained)})")


@contextlib.contextmanager
def new_replicas(service: str, env: str, image: ImageRecord, count: int, run: RunDir, limits: list[str],
                 port: int) -> Iterator[list[Replica]]:
    """Replicas that are removed again unless the block finishes without error."""
    names = [f"bakery-{service}-{env}-{run.run_id[-6:]}-{i}" for i in range(count)]
    labels = {"bakery.service": service, "bakery.env": env, "bakery.purpose": PURPOSE,
              "bakery.fingerprint": image.fingerprint, "bakery.deploy-id": run.run_id, "bakery.run-id": run.run_id}
    started: list[str] = []
    try:
        for name in names:
            started.append(name)
            podman.run_detached(image.ref, name, labels, f"--hostname={name}", f"--publish=127.0.0.1::{port}", *limits)
        yield [Replica(n, _url(n, port), image.fingerprint, run.run_id) for n in names]
    except BaseException:
        for name in started:
            podman.remove(name)
        raise


def probe(url: str, path: str, fingerprint: str | None) -> tuple[bool, str]:
    """(healthy, detail): 200 from the health path, with this fingerprint when the answer names one."""
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=3) as response:
            body = response.read().decode(errors="replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return False, str(getattr(exc, "reason", exc))[:120]
    try:
        served = json.loads(body).get("fingerprint")
    except (json.JSONDecodeError, AttributeError):
        served = None
    if fingerprint and served and served != fingerprint:
        return False, f"serves fingerprint {served[:12]}, expected {fingerprint[:12]}"
    return True, "200 OK"


def wait_healthy(replica: Replica, fingerprint: str, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    detail = "not probed"
    while time.monotonic() < deadline:
        healthy, detail = probe(replica.url, path, fingerprint)
        if healthy:
            return
        time.sleep(HEALTH_POLL_S)
    raise DeployFailed(f"replica {replica.name} did not get healthy in {timeout_s:.0f} s ({path}: {detail});"
                       " the new replicas were removed and the old ones keep serving")


def status_local(ctx: DeployContext) -> list[ReplicaStatus]:
    settings = ctx.project.service(ctx.service).deploy
    containers = podman.containers(*replica_filters(ctx.service, ctx.env))
    sizes = container_sizes([c["Names"][0] for c in containers])
    statuses = []
    for container in containers:
        replica = _replica(container, settings.port)
        healthy, detail = probe(replica.url, settings.health_path, replica.fingerprint) if replica.url else (False, "no port")
        statuses.append(ReplicaStatus(replica.name, replica.url, replica.fingerprint, container.get("State", ""),
                                      healthy, detail, replica.deploy_id, sizes.get(replica.name, "")))
    return statuses


def container_sizes(names: list[str]) -> dict[str, str]:
    """name -> "cpus=N memory=Mm", the limits each container really runs with (podman inspect)."""
    if not names:
        return {}
    inspected = json.loads(podman.podman("inspect", *names, check=False).stdout or "[]")
    return {c["Name"].lstrip("/"): _size(c.get("HostConfig", {})) for c in inspected}


def _size(host_config: dict) -> str:
    cpus = (host_config.get("NanoCpus") or 0) / 1e9
    memory_mib = (host_config.get("Memory") or 0) // (1024 * 1024)
    return f"cpus={cpus:g} memory={memory_mib}m"

