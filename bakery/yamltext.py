"""YAML parsing through libyaml when PyYAML was built with it (several times faster than the
pure-Python parser; a no-op build parses every role's files)."""

from __future__ import annotations

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str):
    """yaml.safe_load, with libyaml when available; raises yaml.YAMLError like it."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
