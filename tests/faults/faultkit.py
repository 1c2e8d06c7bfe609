"""Helpers of the fault suite: start a bake and catch it at Ansible, wait until a run's processes are
gone, look for a secret left on disk."""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import REPO, bakery_process, processes_mentioning

SECRET_ENV = "BAKERY_FAULTS_SECRET"
SECRET_VALUE = "faults-secret-7f3a9c"
POLL_S = 0.2


@dataclass
class Bake:
    process: subprocess.Popen
    run_dir: Path

    @property
    def run_id(self) -> str:
        return self.run_dir.name


def start_bake(project: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return bakery_process("build", "tiny", "--force", "--no-verify", *args, cwd=project) if env is None else \
        subprocess.Popen([str(REPO / ".venv" / "bin" / "bakery"), "build", "tiny", "--force",
                          "--no-verify", *args], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)


def bake_until_ansible(project: Path, timeout_s: float = 300, env: dict | None = None) -> Bake:
    """A `bakery build tiny --force` that has reached Ansible (its first job event is written)."""
    runs_dir = project / ".bakery" / "runs"
    known = set(runs_dir.glob("*"))
    process = start_bake(project, env=env)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        fresh = [r for r in runs_dir.glob("*") if r not in known]
        if fresh and any((fresh[0] / "ansible" / "job_events").glob("*.json")):
            return Bake(process, fresh[0])
        time.sleep(POLL_S)
    process.kill()
    out, err = process.communicate()
    raise AssertionError(f"the bake never reached Ansible: rc {process.returncode}: {err[-2000:]}")


def wait_until_nothing_runs(run_id: str, timeout_s: float = 60, but_containers: bool = False) -> list[str]:
    """Poll until no process mentions the run (but_containers: except the containers' conmon, which
    only `gc --orphans` removes after a kill -9); returns what still runs at the deadline."""
    def left() -> list[str]:
        return [p for p in processes_mentioning(run_id) if not (but_containers and "conmon" in p.split(" ", 1)[0])]

    deadline = time.monotonic() + timeout_s
    running = left()
    while running and time.monotonic() < deadline:
        time.sleep(POLL_S)
        running = left()
    return running


def lock_is_free(path: Path) -> bool:
    """Nobody holds the flock on path now (checked with flock itself, not with bakery's locks module)."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def wait_until_lock_free(path: Path, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not lock_is_free(path):
        assert time.monotonic() < deadline, f"{what} was never released"
        time.sleep(0.1)


def private_root() -> Path:
    return Path(tempfile.gettempdir()) / f"bakery-{os.getuid()}"


def files_holding(value: str, *roots: Path) -> list[Path]:
    """Files under roots (not following links) that contain value."""
    needle, found = value.encode(), []
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            for name in names:
                path = Path(dirpath) / name
                try:
                    if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                        found.append(path)
                except OSError:
                    continue
    return found


def assert_no_secret_left(run_id: str, run_dir: Path) -> None:
    assert not (private_root() / run_id).exists(), "the run's private dir is still there"
    assert files_holding(SECRET_VALUE, private_root(), run_dir) == []
