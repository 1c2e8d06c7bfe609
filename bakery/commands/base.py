"""`bakery base build`: bootstrap a base rootfs with mmdebstrap and import it into podman."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line


@dataclass(frozen=True)
class BaseBuilt(Result):
    base: object  # bakery.base.BaseImage

    def to_json(self):
        return asdict(self.base)

    def render(self, out, err):
        line(err, f"{'built' if self.base.built else 'up to date'}: {self.base.ref}")
        line(out, self.base.ref)


def base_build(app: AppContext, name: str, rebuild: bool = False) -> BaseBuilt:
    from bakery import base as bases

    return BaseBuilt(bases.ensure_base(app.load(), name, rebuild=rebuild, log=app.log))


@dataclass(frozen=True)
class BaseStatusResult(Result):
    status: object  # bakery.basestatus.BaseStatus

    def to_json(self):
        return asdict(self.status)

    def render(self, out, err):
        for name, (installed, available) in self.status.updates.items():
            line(out, f"{name} {installed} -> {available}")
        line(err, f"{self.status.summary()} ({self.status.packages} packages, {self.status.ref})")


def base_status(app: AppContext, name: str) -> BaseStatusResult:
    """How many of the base's installed packages have newer versions in the mirror's indexes now."""
    import time

    from bakery import base as bases
    from bakery import basestatus, podman
    from bakery.errors import ConfigError
    from bakery.sbom import installed_packages

    project = app.load()
    spec = project.base(name)
    found = bases.find_base(project, name)
    if found is None:
        raise ConfigError(f"base '{name}' is not built on this machine", hint=f"run bakery base build {name}")
    with podman.mounted_image(found.ref) as root:
        installed = installed_packages(root)
    urls = basestatus.index_urls(spec, basestatus.architecture(installed))
    updates = basestatus.outdated(installed, basestatus.newest_versions(urls))
    status = basestatus.BaseStatus(name, found.ref, found.image_id, len(installed), updates, urls, time.time())
    basestatus.record(project.state_dir(), status)
    return BaseStatusResult(status)
