"""YAML parsing through libyaml when PyYAML was built with it (several times faster than the
pure-Python parser; a no-op build parses every role's files)."""

from __future__ import annotations

import yaml
from yaml.constructor import ConstructorError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_LOADER):
    """A safe loader that refuses a mapping with the same key twice (YAML says keys are unique;
    PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the base class reports it
                break
            if first is not key_node:
                raise ConstructorError(None, None, f"duplicate key '{key}' (first on line {first.start_mark.line + 1})",
                                       key_node.start_mark)
        return super().construct_mapping(node, deep)


def safe_load(text: str):
    """yaml.safe_load, with libyaml when available; raises yaml.YAMLError like it."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader


def safe_load_unique(text: str):
    """safe_load that also raises yaml.YAMLError (with the line) on a duplicate key in any mapping."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader
