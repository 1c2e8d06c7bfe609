"""Reading bakery's own JSON state (verdicts, reports, inputs and deployment records, quarantine
markers): one policy for every kind. A damaged file (truncated by a full disk or a killed writer,
edited by hand) is a warning that names it, and is treated as absent: never a traceback. What
"absent" then means is the reader's business (an unreadable verdict is `unverified`, so deploy
refuses; gc keeps the replicas of an environment whose deployment record it cannot read)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("bakery")


def read_json(path: Path, what: str, build: Callable[[Any], Any] = lambda data: data, *, quiet: bool = False):
    """build(the JSON in path), or None when path is absent or damaged (a warning names it unless quiet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        return _damaged(path, what, f"{type(error).__name__}: {error.strerror}", quiet)
    try:
        return build(json.loads(text))
    except (ValueError, TypeError, KeyError) as error:
        reason = "empty" if not text.strip() else f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
        return _damaged(path, what, reason, quiet)


def _damaged(path: Path, what: str, reason: str, quiet: bool) -> None:
    if not quiet:
        log.warning(f"ignoring the damaged {what} {path} ({reason}); bakery writes it again on the next run")
    return None
