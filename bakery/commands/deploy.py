"""`bakery deploy`, `bakery status`, `bakery destroy`: through the target's Deployer (bakery.deploy.DEPLOYERS)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery import deploy
from bakery.commands import AppContext, Result, line
from bakery.errors import Degraded
from bakery.rundir import RunDir


@dataclass(frozen=True)
class DeployRequest:
    service: str
    env: str
    target: str | None = None
    image: str | None = None
    approve: bool = False


@dataclass(frozen=True)
class Deployed(Result):
    rollout: deploy.Rollout

    def to_json(self):
        return self.rollout.data

    def render(self, out, err):
        line(err, self.rollout.summary)


@dataclass(frozen=True)
class Status(Result):
    service: str
    env: str
    current: deploy.Deployment | None
    fleet: deploy.FleetStatus

    def to_json(self):
        return {"deployment": asdict(self.current) if self.current else None, **self.fleet.data}

    def render(self, out, err):
        line(out, deploy.deployment_line(self.service, self.env, self.current) + self.fleet.heading)
        for text in self.fleet.lines:
            line(out, text)

    def raise_for_status(self):
        if self.fleet.degraded:
            raise Degraded(f"{self.service} in {self.env} is degraded: {self.fleet.degraded}",
                           hint=f"bakery deploy {self.service} --env {self.env} restores it;"
                                " bakery gc --orphans removes orphans")


@dataclass(frozen=True)
class Destroyed(Result):
    summary: str

    def to_json(self):
        return {"summary": self.summary}

    def render(self, out, err):
        line(err, self.summary)


def _deployer(app: AppContext, project, target: str | None) -> tuple[deploy.Deployer, object]:
    """The target (default: build.target) and its deployer."""
    target_impl = app.target(project, target)
    return deploy.get_deployer(target_impl.name, project, **app.aws), target_impl


def _context(app: AppContext, deployer: deploy.Deployer, target_impl, service: str, env: str,
             run: RunDir | None = None) -> deploy.DeployContext:
    return deploy.DeployContext(deployer.project, service, env, target_impl, deployer.records(), run, app.log)


def deploy_service(app: AppContext, request: DeployRequest) -> Deployed:
    """Check every gate, then roll the image out under the environment's lock and record it."""
    project, service, env = app.load(), request.service, request.env
    project.service(service)
    deploy.environment(project, env)  # config errors before any target is asked
    deployer, target_impl = _deployer(app, project, request.target)
    deployer.check_environment(service, env)
    records = deployer.records()
    wanted = _from_registry(app, project, target_impl, service, request.image) if request.image else None
    image = deploy.choose_image(project, service, env, target_impl.list_images(service), wanted, target_impl,
                                records)
    deploy.check_gates(project, service, env, image, request.approve, target_impl, records)
    ctx = deploy.DeployContext(project, service, env, target_impl, records, RunDir.create(project.state_dir(), "deploy"),
                               app.log)
    with ctx.run.recording(), ctx.lock():
        rollout = deployer.deploy(ctx, image)
        records.record(rollout.deployment)
    return Deployed(rollout)


def _from_registry(app: AppContext, project, target_impl, service: str, image: str) -> str:
    """A registry reference by digest (local target): pulled after its attestation is checked; its local ref."""
    if "@sha256:" not in image or target_impl.name != "local":
        return image
    from bakery.registry import registry_for, split_digest_ref
    from bakery.registry_images import adopt

    repository, digest = split_digest_ref(image)
    registry = registry_for(project, app.registry) or _registry_of(repository)
    return adopt(project, registry, target_impl, repository, digest, service=service).image.ref


def _registry_of(repository: str):
    from bakery.registry import Registry

    return Registry(repository.rsplit("/", 1)[0])


def status(app: AppContext, service: str, env: str, target: str | None = None) -> Status:
    project = app.load()
    project.service(service)
    project.tfvars_path(env)
    deployer, target_impl = _deployer(app, project, target)
    ctx = _context(app, deployer, target_impl, service, env)
    return Status(service, env, ctx.records.current(service, env), deployer.status(ctx))


def destroy(app: AppContext, service: str, env: str, target: str | None = None, approve: bool = False) -> Destroyed:
    project = app.load()
    project.service(service)
    project.tfvars_path(env)
    deployer, target_impl = _deployer(app, project, target)
    return Destroyed(deployer.destroy(_context(app, deployer, target_impl, service, env), approve))
