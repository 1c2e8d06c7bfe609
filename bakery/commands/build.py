"""`bakery build`: one service in this process, several as child processes (bakery.many)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.build import BuildOptions, BuildResult, build_service
from bakery.commands import AppContext, Result, line
from bakery.errors import ConfigError
from bakery.inputs import Hashes
from bakery.progress import make_reporter
from bakery.rundir import RunDir


MAX_SHOWN_CHANGES = 8


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
    no_pull: bool = False
    fail_fast: bool = False  # several services: the first failure stops the others

    def skipped(self) -> tuple[str, ...]:
        return self.skip + (("verify",) if self.no_verify else ())

    def child_args(self) -> list[str]:
        """The options again, for each child `bakery build` of a multi-service build."""
        return [*(["--force"] if self.force else []), *(["--no-layers"] if self.no_layers else []),
                *[a for s in self.skipped() for a in ("--skip", s)], *(["--until", self.until] if self.until else []),
                *(["--no-pull"] if self.no_pull else [])]


@dataclass(frozen=True)
class ServiceBuilt(Result):
    result: BuildResult
    since: str = ""  # the service's previous image
    package_changes: tuple[str, ...] = ()  # the packages changed since it (bakery.imagediff.PackageDiff.lines)

    def to_json(self):
        return self.result.as_dict()

    def render(self, out, err):
        r = self.result
        verb = ("up to date" + (f" (from {r.source.split('@')[0]})" if r.source else "")) if r.reused else "built"
        line(err, f"{verb}: {r.image} ({r.verdict}, fingerprint {r.fingerprint[:12]}, run {r.run_id}, {r.duration_s:.1f} s)")
        line(out, r.image)
        if self.since:
            shown = ", ".join(self.package_changes[:MAX_SHOWN_CHANGES]) or "none"
            more = len(self.package_changes) - MAX_SHOWN_CHANGES
            line(err, f"packages since {self.since}: {shown}{f' (and {more} more: bakery diff)' if more > 0 else ''}")


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
    options = BuildOptions(force=request.force, no_layers=request.no_layers, skip=request.skipped(), until=request.until,
                           registry=app.registry, no_pull=request.no_pull)
    result = build_service(project, names[0], target_name, options, make_reporter(), app.aws)
    fresh = result.image and not result.reused
    return ServiceBuilt(result, *(changes_since_previous(app, project, names[0], target_name, result.image) if fresh else ()))


def changes_since_previous(app: AppContext, project, service: str, target_name: str,
                           ref: str) -> tuple[str, tuple[str, ...]]:
    """(the previous image of service, its package changes to the new one); ('', ()) when there is none to compare."""
    from bakery.errors import BakeryError
    from bakery.imagediff import diff_images

    target = app.target(project, target_name)
    if target.hygiene_on_instance:  # its images are not mounted on this machine
        return "", ()
    images = target.list_images(service)
    if len(images) < 2 or images[0].ref != ref:
        return "", ()
    try:
        packages, _ = diff_images(target, images[1], images[0], files=False)
    except BakeryError:
        return "", ()  # the diff is a courtesy: the bake itself succeeded
    return images[1].ref, tuple(packages.lines())


def _build_many(app: AppContext, project, names: list[str], target_name: str, request: BuildRequest) -> ServicesBuilt:
    from bakery import many

    hashes = Hashes()  # read once here, for the up-to-date survey too
    for name in names:
        hashes.playbook(project, name)  # every service resolves before any child starts
    run = RunDir.create(project.state_dir(), "build-many")
    reuse = not request.force and request.until is None  # else a child decides what to do with the image
    return ServicesBuilt(many.build_all(project, names, target_name, request.jobs, request.child_args(), run, app.log,
                                        app.global_args(), app.aws, reuse=reuse, hashes=hashes,
                                        fail_fast=request.fail_fast))
