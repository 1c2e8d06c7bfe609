"""`bakery env up|status|destroy|recreate ENV`: every service of an environment at once.

The services are environments.<env>.services in bakery.yml (default: all). `env up` deploys each
at the image its gates allow (what the previous environment runs; in the first environment the
newest verified image): never a rebake. `env recreate` notes what runs, destroys the environment,
brings every service back at the very image it ran, and proves the result the same: image id,
fingerprint, replica count, sizes, all healthy. A difference exits ENV_DIFFERS (13).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bakery import deploy
from bakery.commands import AppContext, Result, line
from bakery.commands.deploy import DeployRequest, _context, _deployer, deploy_service
from bakery.errors import BakeryError, EnvironmentDiffers, GateRefused


@dataclass(frozen=True)
class ServiceState:
    """One service in an environment, as `env status` and `env recreate` compare it."""

    service: str
    image: str | None
    image_id: str | None
    fingerprint: str | None
    replicas: int  # running replicas or instances
    healthy: int
    sizes: list[str]  # one per replica: "cpus=2 memory=2048m" (local), the instance type (aws)
    endpoint: str | None = None
    balancer_running: bool | None = None  # None: no endpoint

    @property
    def all_healthy(self) -> bool:
        return self.replicas > 0 and self.healthy == self.replicas

    @property
    def serving(self) -> bool:
        """Every replica healthy, and reachable at the endpoint when there is one."""
        return self.all_healthy and self.balancer_running is not False

    def comparable(self) -> dict:
        return {"image_id": self.image_id, "fingerprint": self.fingerprint, "replicas": self.replicas,
                "sizes": self.sizes, "all_healthy": self.all_healthy}


@dataclass(frozen=True)
class EnvStatus(Result):
    env: str
    services: list[ServiceState]

    def to_json(self):
        return {"env": self.env, "services": {s.service: asdict(s) | {"all_healthy": s.all_healthy}
                                              for s in self.services}}

    def render(self, out, err):
        line(out, f"{self.env}: {len(self.services)} service(s)")
        for s in self.services:
            health = f"{s.healthy}/{s.replicas} healthy" if s.image else "not deployed"
            endpoint = (s.endpoint or "") + (" (balancer stopped)" if s.balancer_running is False and s.image else "")
            line(out, f"  {s.service:<20} {(s.image or '-'):<45} {health:<14} {endpoint}")


@dataclass(frozen=True)
class ServiceOutcome:
    service: str
    action: str  # deployed, unchanged, failed, destroyed
    detail: str


@dataclass(frozen=True)
class EnvAction(Result):
    """`env up` and `env destroy`: one outcome per service; the first failure is the exit status."""

    env: str
    outcomes: list[ServiceOutcome]
    errors: list[BakeryError] = field(default_factory=list)

    def to_json(self):
        return {"env": self.env, "services": [asdict(o) for o in self.outcomes]}

    def render(self, out, err):
        for o in self.outcomes:
            line(err, f"  {o.service:<20} {o.action:<10} {o.detail}")

    def raise_for_status(self):
        if self.errors:
            raise self.errors[0]


@dataclass(frozen=True)
class EnvRecreated(Result):
    env: str
    before: list[ServiceState]
    after: list[ServiceState]

    def differences(self) -> list[str]:
        after = {s.service: s.comparable() for s in self.after}
        found = []
        for state in self.before:
            was, now = state.comparable(), after.get(state.service, {})
            found += [f"{state.service}: {key} was {was[key]!r}, is {now.get(key)!r}"
                      for key in was if was[key] != now.get(key)]
        found += [f"{s.service}: not healthy after the recreate" for s in self.after if not s.all_healthy]
        return found

    def to_json(self):
        return {"env": self.env, "same": not self.differences(), "differences": self.differences(),
                "before": [s.comparable() | {"service": s.service} for s in self.before],
                "after": [s.comparable() | {"service": s.service} for s in self.after]}

    def render(self, out, err):
        after = {s.service: s for s in self.after}
        line(out, f"{'service':<20} {'':<7} {'image id':<14} {'fingerprint':<14} {'replicas':<9} {'healthy':<8} sizes")
        for before in self.before:
            for label, s in (("before", before), ("after", after.get(before.service))):
                if s is None:
                    line(out, f"{before.service:<20} {label:<7} (missing)")
                    continue
                line(out, f"{s.service:<20} {label:<7} {(s.image_id or '-')[:12]:<14} {(s.fingerprint or '-')[:12]:<14}"
                          f" {s.replicas:<9} {s.healthy:<8} {', '.join(sorted(set(s.sizes)))}")
        for difference in self.differences():
            line(out, f"DIFFERS: {difference}")
        line(err, f"{self.env} recreated: " + ("the same" if not self.differences()
                                               else f"{len(self.differences())} difference(s)"))

    def raise_for_status(self):
        differences = self.differences()
        if differences:
            raise EnvironmentDiffers(f"{self.env} came back different: {differences[0]}",
                                     hint=f"{len(differences)} difference(s), see the comparison above")


def service_state(app: AppContext, project, env: str, service: str, target: str | None) -> ServiceState:
    deployer, target_impl = _deployer(app, project, target)
    ctx = _context(app, deployer, target_impl, service, env)
    current = ctx.records.current(service, env)
    fleet = deployer.status(ctx).data
    members = fleet.get("replicas") or fleet.get("instances") or []
    endpoint = fleet.get("endpoint") or {}
    return ServiceState(service, current.image if current else None, current.image_id if current else None,
                        current.fingerprint if current else None, len(members),
                        sum(1 for m in members if m.get("healthy")),
                        sorted(m.get("size") or m.get("instance_type") or "?" for m in members),
                        endpoint.get("url"), endpoint.get("running"))


def env_status(app: AppContext, env: str, target: str | None = None) -> EnvStatus:
    project = app.load()
    return EnvStatus(env, [service_state(app, project, env, s, target) for s in project.environment_services(env)])


def env_up(app: AppContext, env: str, target: str | None = None, approve: bool = False,
           images: dict[str, str] | None = None) -> EnvAction:
    """Deploy every service of env that does not already run, healthy, the image its gates allow."""
    project = app.load()
    outcomes, errors = [], []
    for service in project.environment_services(env):
        try:
            outcomes.append(_up_one(app, project, env, service, target, approve, (images or {}).get(service)))
        except BakeryError as exc:
            outcomes.append(ServiceOutcome(service, "failed", exc.one_line()))
            errors.append(exc)
    return EnvAction(env, outcomes, errors)


def _up_one(app: AppContext, project, env: str, service: str, target: str | None, approve: bool,
            image_ref: str | None) -> ServiceOutcome:
    deployer, target_impl = _deployer(app, project, target)
    records = deployer.records()
    image = deploy.choose_image(project, service, env, target_impl.list_images(service), image_ref, target_impl, records)
    state = service_state(app, project, env, service, target)
    if state.image_id == image.image_id and state.serving:
        return ServiceOutcome(service, "unchanged", f"{image.ref}: {state.healthy} healthy")
    app.log(f"{service}: deploying {image.ref} to {env}")
    rollout = deploy_service(app, DeployRequest(service, env, target, image.image_id, approve)).rollout
    return ServiceOutcome(service, "deployed", rollout.summary)


def env_destroy(app: AppContext, env: str, target: str | None = None, approve: bool = False) -> EnvAction:
    project = app.load()
    outcomes, errors = [], []
    for service in project.environment_services(env):
        deployer, target_impl = _deployer(app, project, target)
        try:
            summary = deployer.destroy(_context(app, deployer, target_impl, service, env), approve)
            outcomes.append(ServiceOutcome(service, "destroyed", summary))
        except BakeryError as exc:
            outcomes.append(ServiceOutcome(service, "failed", exc.one_line()))
            errors.append(exc)
    return EnvAction(env, outcomes, errors)


def env_recreate(app: AppContext, env: str, target: str | None = None, approve: bool = False) -> EnvRecreated:
    """Destroy env, bring every service back at the image it ran, and compare."""
    before = env_status(app, env, target).services
    missing = [s.service for s in before if s.image_id is None]
    if missing:
        raise GateRefused(f"cannot recreate {env}: {', '.join(missing)} not deployed there",
                          hint=f"run bakery env up {env} first")
    env_destroy(app, env, target, approve).raise_for_status()
    env_up(app, env, target, approve, images={s.service: s.image_id for s in before}).raise_for_status()
    return EnvRecreated(env, before, env_status(app, env, target).services)
