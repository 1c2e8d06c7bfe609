"""Reading bakery's own JSON state (deployment records, verdicts, inputs records): a damaged file
(truncated by a full disk or a killed writer, edited by hand) is one clear error naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakery.errors import ConfigError


class DamagedStateFile(ConfigError):
    """A state file under .bakery cannot be read (exit 3, like any other file bakery needs)."""


def read_json(path: Path, what: str, build: Callable[[Any], Any] = lambda data: data, hint: str | None = None):
    """build(the JSON in path), or None when path does not exist; DamagedStateFile when it cannot be read."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return build(json.loads(text))
    except (ValueError, TypeError, KeyError) as exc:
        reason = "empty" if not text.strip() else f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
        raise DamagedStateFile(f"{what} {path} is damaged ({reason})",
                               hint=hint or "remove it; bakery records it again on the next run") from None
