"""The playbook's extra vars file: YAML whose every string from the project is tagged `!unsafe`,
so Ansible never templates it. A password holding `{{` bakes verbatim and a value like
`{{ lookup('pipe', 'id') }}` runs nothing; a service variable listed in `templated_variables`
is written plainly and templated by Ansible as before."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml


class _Unsafe(str):
    """A string Ansible must take as it is."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value), style="'"))


def unsafe(value: Any) -> Any:
    """value with every string in it (keys of mappings aside) marked unsafe."""
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, dict):
        return {key: unsafe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [unsafe(item) for item in value]
    return value


def write(path: Path, values: dict[str, Any], templated: Collection[str] = ()) -> Path:
    """Write values as an extra vars file (mode 0600): unsafe, except the names in templated."""
    marked = {name: value if name in templated else unsafe(value) for name, value in values.items()}
    path.touch(mode=0o600)
    path.write_text(yaml.dump(marked, Dumper=_Dumper, sort_keys=True, allow_unicode=True))
    return path
