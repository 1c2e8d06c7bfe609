"""`bakery publish SERVICE`: push a verified image, its base, its role layers and signed attestations to the registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import ConfigError


@dataclass(frozen=True)
class PublishedResult(Result):
    published: object  # bakery.registry_images.Published

    def to_json(self):
        return asdict(self.published)

    def render(self, out, err):
        p = self.published
        line(err, f"published: {p.tag} with its attestation {p.attestation}" + (f"; base {p.base}" if p.base else ""))
        if p.layers:
            line(err, f"role layers: {', '.join(p.layers)}")
        line(out, p.image)


def publish(app: AppContext, service: str, image: str | None = None, target: str | None = None) -> PublishedResult:
    from bakery.registry import require_registry
    from bakery.registry_images import publish_image

    project = app.load()
    project.service(service)
    registry = require_registry(project, app.registry)
    target_impl = app.target(project, target)
    return PublishedResult(publish_image(project, registry, target_impl, choose(target_impl, service, image)))


def choose(target, service: str, ref: str | None):
    """The image named by ref as every --image takes it (images.resolve_image: reference, the tag
    `bakery images` prints, image id or prefix), else the service's newest image."""
    from bakery.images import resolve_image

    images = target.list_images(service)
    if ref is not None:
        return resolve_image(images, ref, service)
    if not images:
        raise ConfigError(f"no image of {service} on this machine", hint=f"run bakery build {service}")
    return images[0]
