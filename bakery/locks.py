"""Named file locks under .bakery/locks: one build of a service (or of a base) at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout


@contextlib.contextmanager
def held(state_dir: Path, name: str, log: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock `name`, saying so when another process has it and we wait."""
    directory = state_dir / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / f"{name}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"waiting for another bakery run that holds the lock '{name}'")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
