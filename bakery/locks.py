"""Named locks under .bakery/locks: one build of a service (or of a base, a deploy) at a time.

flock(2) locks: the kernel releases them when every copy of the open file is closed. bakery
hands a copy to its watchman (proc.SUPERVISOR), so when bakery dies the lock stays held until
the processes the dead run started are gone. The lock file names its holder (pid, run id)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bakery import proc
from bakery.state import StateDir


def lock_dir(state_dir: Path) -> Path:
    return StateDir(state_dir).locks


@contextlib.contextmanager
def held(state_dir: Path, name: str, log: Callable[[str], None], run_id: str = "") -> Iterator[None]:
    """Hold the lock `name`, saying so when another process has it and we wait."""
    with _held(StateDir(state_dir).lock(name), name, log, run_id):
        yield


@contextlib.contextmanager
def machine_wide(name: str, log: Callable[[str], None], run_id: str = "") -> Iterator[None]:
    """Hold a lock that every project of this user on this machine shares (under the private root), for
    what projects share: the podman store's base images and the shared image tags."""
    from bakery import private

    with _held(private.root() / ".locks" / f"{name}.lock", f"machine:{name}", log, run_id):
        yield


@contextlib.contextmanager
def _held(path: Path, name: str, log: Callable[[str], None], run_id: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(path, name, log)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "run_id": run_id, "at": time.time()}).encode(), 0)
        proc.SUPERVISOR.hold_lock(name, fd)
        yield
    finally:
        proc.SUPERVISOR.release_lock(name)
        os.ftruncate(fd, 0)  # released in order: no holder to report
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _acquire(path: Path, name: str, log: Callable[[str], None]) -> int:
    """An fd of path with an exclusive flock on it; retried when gc removed the file meanwhile."""
    waited = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not waited:
                log(f"waiting for another bakery run that holds the lock '{name}'")
                waited = True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
        if _same_file(fd, path):
            return fd
        os.close(fd)  # removed (or replaced) while we waited: lock the file that is there now


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


@dataclass(frozen=True)
class StaleLock:
    path: Path
    holder: dict


def stale_locks(state_dir: Path) -> list[StaleLock]:
    """Lock files nobody holds now that still name a holder: it died holding the lock."""
    found = []
    for path in sorted(lock_dir(state_dir).glob("*.lock")):
        with _try_lock(path) as fd:
            holder = _holder(fd) if fd is not None else {}
            if holder:
                found.append(StaleLock(path, holder))
    return found


def is_held(state_dir: Path, name: str) -> bool:
    """Whether a live process holds the lock `name` now."""
    try:
        fd = os.open(lock_dir(state_dir) / f"{name}.lock", os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock this probe may have taken
    return False


def remove_stale(lock: StaleLock) -> bool:
    """Remove a lock file while holding it, so nobody holds a lock on a removed file (see _acquire)."""
    with _try_lock(lock.path) as fd:
        if fd is None:
            return False
        lock.path.unlink(missing_ok=True)
        return True


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[int | None]:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        yield None
        return
    try:
        yield fd if _same_file(fd, path) else None
    finally:
        os.close(fd)


def _holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        return {}
