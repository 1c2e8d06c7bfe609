"""Per-run private temp dirs for secrets and keys (extra vars, SSH keys, connection files).

One owner: every one of a run's private dirs lives under <tmp>/bakery-<uid>/<run-id>/<purpose>
(mode 0700). Paths stay short: an ssh control socket in them (cm-<40 hex>.<16>) must fit the
107 bytes of a Unix socket path. owner.json there names the process
(pid and start time); the watchman removes the dir when bakery dies (proc.SUPERVISOR), and any
later run removes the dirs of dead owners (sweep_dead), so a killed run leaves no secret behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bakery import liveness, proc
from bakery.errors import PrerequisiteError

OWNER_FILE = "owner.json"


def root() -> Path:
    """The private root, created 0700; refused when someone else owns it or it is not a real directory."""
    path = Path(tempfile.gettempdir()) / f"bakery-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PrerequisiteError(f"{path} is not a private directory of this user (mode 0700)",
                                hint="remove it, or set TMPDIR to a directory where bakery may make one")
    return path


@contextlib.contextmanager
def private_dir(run_id: str, purpose: str) -> Iterator[Path]:
    """A fresh 0700 dir for one purpose of the run, removed on exit (with the run's dir once empty)."""
    run_dir = _run_dir(run_id)
    path = run_dir / purpose
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:  # the same purpose twice at once in one run
        path = Path(tempfile.mkdtemp(prefix=f"{purpose}-", dir=run_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        _remove_if_done(run_dir)


def _run_dir(run_id: str) -> Path:
    base = root()
    sweep_dead(base)
    path = base / run_id
    if not path.is_dir():  # made under another name and renamed: nobody sees it without its owner
        making = Path(tempfile.mkdtemp(prefix=f".{run_id}-", dir=base))
        owner = {"pid": os.getpid(), "start_ticks": liveness.start_ticks(os.getpid()), "run_id": run_id}
        (making / OWNER_FILE).write_text(json.dumps(owner))
        proc.SUPERVISOR.remove_on_death(path)
        making.rename(path)
    return path


def _remove_if_done(run_dir: Path) -> None:
    if [p.name for p in run_dir.iterdir()] == [OWNER_FILE]:
        shutil.rmtree(run_dir, ignore_errors=True)
        proc.SUPERVISOR.removed(run_dir)


@dataclass(frozen=True)
class DeadDir:
    path: Path
    run_id: str
    pid: int | None


def dead_dirs(base: Path | None = None) -> list[DeadDir]:
    """Private run dirs whose owner process is gone."""
    base = base or root()
    found = []
    for path in sorted(base.iterdir()):
        owner = _owner(path) if not path.name.startswith(".") else None
        if owner is not None and not liveness.same_process(owner.get("pid", 0), owner.get("start_ticks")):
            found.append(DeadDir(path, owner.get("run_id", path.name), owner.get("pid")))
    return found


def sweep_dead(base: Path | None = None) -> list[DeadDir]:
    """Remove the private dirs of dead runs; returns them."""
    found = dead_dirs(base)
    for dead in found:
        shutil.rmtree(dead.path, ignore_errors=True)
    return found


def _owner(path: Path) -> dict | None:
    """owner.json of a run dir; just the run id when it is missing or unreadable."""
    if not path.is_dir() or path.is_symlink():
        return None
    try:
        owner = json.loads((path / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return {"run_id": path.name}
    return owner if isinstance(owner, dict) else {"run_id": path.name}
