"""`bakery verify`: boot an image (or test a running host) and record the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import ConfigError
from bakery.progress import make_reporter
from bakery.rundir import RunDir


@dataclass(frozen=True)
class VerifyRequest:
    service: str
    image: str | None = None
    host: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Verified(Result):
    report: object  # bakery.verify.VerifyReport

    def to_json(self):
        return asdict(self.report)

    def render(self, out, err):
        passed = sum(t["outcome"] == "passed" for t in self.report.tests)
        line(err, f"verified: {self.report.image or self.report.host} ({passed} tests passed,"
                  f" {self.report.duration_s:.1f} s)")


def verify(app: AppContext, request: VerifyRequest) -> Verified:
    from bakery import verify as verification

    project = app.load()
    project.service(request.service)  # an unknown service fails before a run dir exists
    run = RunDir.create(project.state_dir(), "verify")
    target = app.target(project, request.target)
    with run.recording():
        if request.host:
            record = pick_image(target, request.service, request.image) if request.image else None
            return Verified(verification.verify_host(project, request.service, request.host, run, record))
        record = pick_image(target, request.service, request.image)
        reporter = make_reporter()
        try:
            return Verified(verification.verify_image(project, request.service, record, target, run, reporter))
        finally:
            reporter.finish()


def pick_image(target, service: str, ref: str | None):
    """--image as images.resolve_image takes it (as deploy does); else the newest image of the service."""
    from bakery.images import resolve_image

    images_found = target.list_images(service)
    if ref is None:
        if not images_found:
            raise ConfigError(f"no image of '{service}' to verify", hint=f"run bakery build {service} first")
        return images_found[0]
    return resolve_image(images_found, ref, service)
