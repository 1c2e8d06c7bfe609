"""Named file locks under .bakery/locks: one build of a service (or of a base) at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from bakery.state import StateDir


@contextlib.contextmanager
def held(state_dir: Path, name: str, log: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock `name`, saying so when another process has it and we wait."""
    state = StateDir(state_dir)
    state.locks.mkdir(parents=True, exist_ok=True)
    lock = FileLock(state.lock(name))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log(f"waiting for another bakery run that holds the lock '{name}'")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
