"""Build targets, found by name in an explicit registry."""

from bakery.config import TARGET_NAMES
from bakery.errors import ConfigError
from bakery.targets.base import BaseArtifact, ImageRecord, Target
from bakery.targets.aws import AwsTarget
from bakery.targets.local import LocalTarget

REGISTRY: dict[str, type[Target]] = {
    "local": LocalTarget,
    "aws": AwsTarget,
}


def get_target(name: str, project=None, **options) -> Target:
    """The named target, bound to project; options go to the target (aws: region, profile, endpoint_url)."""
    if name not in REGISTRY:
        hint = "not available yet" if name in TARGET_NAMES else f"known targets: {', '.join(REGISTRY)}"
        raise ConfigError(f"unknown target '{name}'", hint=hint)
    return REGISTRY[name].create(project, **options)


__all__ = ["REGISTRY", "BaseArtifact", "ImageRecord", "Target", "get_target"]
