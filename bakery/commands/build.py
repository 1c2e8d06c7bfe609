"""`bakery build`: one service in this process, several as child processes (bakery.many)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.build import BuildOptions, BuildResult, build_service
from bakery.commands import AppContext, Result, line
from bakery.errors import ConfigError
from bakery.inputs import Hashes
from bakery.progress import make_reporter
from bakery.rundir import RunDir


@dataclass(frozen=True)
class BuildRequest:
    services: tuple[str, ...] = ()
    all_services: bool = False
    jobs: int = 1
    target: str | None = None
    force: bool = False
    no_verify: bool = False
    no_layers: bool = False
    skip: tuple[str, ...] = ()
    until: str | None = None
    fail_fast: bool = False  # several services: the first failure stops the others

    def skipped(self) -> tuple[str, ...]:
        return self.skip + (("verify",) if self.no_verify else ())

    def child_args(self) -> list[str]:
        """The options again, for each child `bakery build` of a multi-service build."""
        return [*(["--force"] if self.force else []), *(["--no-layers"] if self.no_layers else []),
                *[a for s in self.skipped() for a in ("--skip", s)], *(["--until", self.until] if self.until else [])]


@dataclass(frozen=True)
class ServiceBuilt(Result):
    result: BuildResult

    def to_json(self):
        return self.result.as_dict()

    def render(self, out, err):
        r = self.result
        verb = "up to date" if r.reused else "built"
        line(err, f"{verb}: {r.image} ({r.verdict}, fingerprint {r.fingerprint[:12]}, run {r.run_id}, {r.duration_s:.1f} s)")
        line(out, r.image)


@dataclass(frozen=True)
class ServicesBuilt(Result):
    outcomes: list  # bakery.many.ServiceOutcome

    def to_json(self):
        return [asdict(o) for o in self.outcomes]

    def render(self, out, err):
        for o in self.outcomes:
            detail = f"{o.result['image']} ({o.result['verdict']}, {o.result['duration_s']:.0f} s)" if o.ok else o.error
            if not o.ok and o.exit is not None:
                detail += f" (exit {o.exit})"
            line(out, f"{o.service:<20} {'ok' if o.ok else 'FAILED':<7} {detail}")

    def raise_for_status(self):
        from bakery import many

        many.raise_if_failed(self.outcomes)


def build(app: AppContext, request: BuildRequest) -> ServiceBuilt | ServicesBuilt:
    """Bake each service; several at once run as child processes, `jobs` at a time."""
    project = app.load()
    names = list(project.services) if request.all_services else list(request.services)
    if not names:
        raise ConfigError("name a service to build, or pass --all", hint=f"services: {', '.join(project.services)}")
    target_name = app.target_name(project, request.target)
    if len(names) > 1:
        return _build_many(app, project, names, target_name, request)
    options = BuildOptions(force=request.force, no_layers=request.no_layers, skip=request.skipped(), until=request.until)
    return ServiceBuilt(build_service(project, names[0], target_name, options, make_reporter(), app.aws))


def _build_many(app: AppContext, project, names: list[str], target_name: str, request: BuildRequest) -> ServicesBuilt:
    from bakery import many

    hashes = Hashes()  # read once here, for the up-to-date survey too
    for name in names:
        hashes.playbook(project, name)  # every service resolves before any child starts
    run = RunDir.create(project.state_dir(), "build-many")
    reuse = not request.force and request.until is None  # else a child decides what to do with the image
    return ServicesBuilt(many.build_all(project, names, target_name, request.jobs, request.child_args(), run, app.log,
                                        app.aws_args(), app.aws, reuse=reuse, hashes=hashes,
                                        fail_fast=request.fail_fast))
