"""`bakery diff A B`: packages added, removed and changed between two images, and a summary of their files."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import ConfigError, GateRefused


@dataclass(frozen=True)
class ImageDiff(Result):
    old: str
    new: str
    packages: object  # bakery.imagediff.PackageDiff
    files: object  # bakery.imagediff.FileDiff

    def to_json(self):
        return {"old": self.old, "new": self.new, "packages": asdict(self.packages), "files": asdict(self.files)}

    def render(self, out, err):
        line(err, f"{self.old} -> {self.new}")
        for text in self.packages.lines() or ["(no package changed)"]:
            line(out, text)
        f = self.files
        line(err, f"files: {f.added} added, {f.removed} removed, {f.changed} changed")
        for text in f.paths:
            line(out, f"  {text}")


@dataclass(frozen=True)
class DiffRequest:
    a: str
    b: str | None = None
    env: str | None = None
    target: str | None = None


def diff(app: AppContext, request: DiffRequest) -> ImageDiff:
    from bakery.imagediff import diff_images

    project = app.load()
    target = app.target(project, request.target)
    if target.hygiene_on_instance:
        raise ConfigError(f"the {target.name} target cannot mount images on this machine", hint="diff local images")
    old, new = (deployed_and_newest(app, project, target, request) if request.env
                else (find_image(target, request.a), find_image(target, _required(request.b))))
    packages, files = diff_images(target, old, new)
    return ImageDiff(old.ref, new.ref, packages, files)


def _required(ref: str | None) -> str:
    if not ref:
        raise ConfigError("bakery diff needs two images, or SERVICE --env ENV", hint="see bakery diff --help")
    return ref


def find_image(target, ref: str, service: str | None = None):
    """An image by ref, id or id prefix."""
    for record in target.list_images(service):
        if ref in (record.ref, record.image_id) or record.image_id.removeprefix("sha256:").startswith(
                ref.removeprefix("sha256:")):
            return record
    raise ConfigError(f"image '{ref}' is not a baked image", hint="see bakery images")


def deployed_and_newest(app: AppContext, project, target, request: DiffRequest):
    """(what ENV runs, B or else the newest verified image of SERVICE)."""
    from bakery.deploy import environment, get_deployer
    from bakery.verify import verdict_of

    service = request.a
    project.service(service)
    environment(project, request.env)
    current = get_deployer(target.name, project, **app.aws).records().current(service, request.env)
    if current is None:
        raise GateRefused(f"nothing of '{service}' is deployed to {request.env}",
                          hint=f"bakery deploy {service} --env {request.env}")
    images = target.list_images(service)
    old = next((i for i in images if i.image_id == current.image_id), None)
    if old is None:
        raise ConfigError(f"{request.env} runs {current.image}, which is not on this machine", hint="see bakery images")
    if request.b:
        return old, find_image(target, request.b, service)
    verified = [i for i in images if verdict_of(project, i, target).passed]
    if not verified:
        raise GateRefused(f"no verified image of '{service}'", hint=f"run bakery build {service}")
    return old, verified[0]
