"""Build targets, found by name in an explicit registry.

A target's module is imported when the target is first asked for, so commands on the local
target do not pay for importing boto3.
"""

import importlib

from bakery.config import TARGET_NAMES
from bakery.errors import ConfigError
from bakery.targets.base import BaseArtifact, ImageRecord, Instance, Target

REGISTRY: dict[str, str] = {
    "local": "bakery.targets.local:LocalTarget",
    "aws": "bakery.targets.aws:AwsTarget",
}


def target_class(name: str) -> type[Target]:
    if name not in REGISTRY:
        hint = "not available yet" if name in TARGET_NAMES else f"known targets: {', '.join(REGISTRY)}"
        raise ConfigError(f"unknown target '{name}'", hint=hint)
    module, _, attribute = REGISTRY[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def get_target(name: str, project=None, **options) -> Target:
    """The named target, bound to project; options go to the target (aws: region, profile, endpoint_url)."""
    return target_class(name).create(project, **options)


__all__ = ["REGISTRY", "BaseArtifact", "ImageRecord", "Instance", "Target", "get_target", "target_class"]
