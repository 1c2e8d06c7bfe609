"""The fault suite: bakery killed, hung up, starved of podman, fed broken state. Each case checks
that nothing is left running, no secret is left on disk, and the error is clear with its exit code.

One tiny fixture project for the whole suite; its first bake (and the base bootstrap on a fresh
podman store) happens once, later bakes reuse the base."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bakery import proc
from helpers import bakery_process, copy_fixture_project, processes_mentioning

SECRET_ENV = "BAKERY_FAULTS_SECRET"
SECRET_VALUE = "faults-secret-7f3a9c"
POLL_S = 0.2


@pytest.fixture(scope="session")
def faults_project(tmp_path_factory) -> Path:
    """The fixture project with a secret on the tiny service; the base exists and tiny was baked once."""
    project = copy_fixture_project(tmp_path_factory.mktemp("faults") / "project")
    config = yaml.safe_load((project / "bakery.yml").read_text())
    config["services"]["tiny"]["secrets"] = {"tiny_password": SECRET_ENV}
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    os.environ[SECRET_ENV] = SECRET_VALUE
    result = proc.run([str(Path(proc.__file__).parents[1] / ".venv" / "bin" / "bakery"), "-C", str(project),
                       "build", "tiny", "--no-verify"], check=False, timeout=900)
    assert result.rc == 0, result.stderr[-2000:]
    return project


@dataclass
class Bake:
    process: subprocess.Popen
    run_dir: Path

    @property
    def run_id(self) -> str:
        return self.run_dir.name


def start_bake(project: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return bakery_process("build", "tiny", "--force", "--no-verify", *args, cwd=project) if env is None else \
        subprocess.Popen([str(Path(proc.__file__).parents[1] / ".venv" / "bin" / "bakery"), "build", "tiny", "--force",
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


def private_root() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "bakery" if runtime else Path(tempfile.gettempdir()) / f"bakery-{os.getuid()}"


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


BREAKABLE_PODMAN = """#!/bin/sh
# podman, until the file BREAK exists next to this script; then every call fails like a broken podman
if [ -e "$(dirname "$0")/BREAK" ]; then
    echo "Error: cannot set up the OCI runtime: runc: not responding (fault injected)" >&2
    exit 125
fi
exec {podman} "$@"
"""


@pytest.fixture
def breakable_podman(tmp_path) -> tuple[dict, Path]:
    """(env whose PATH starts with a podman shim, the file that breaks it when created)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "podman"
    shim.write_text(BREAKABLE_PODMAN.format(podman=shutil.which("podman", path=proc.tool_env()["PATH"])))
    shim.chmod(0o755)
    env = proc.tool_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    yield env, bin_dir / "BREAK"
    (bin_dir / "BREAK").unlink(missing_ok=True)
