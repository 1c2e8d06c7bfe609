"""Per-run private dirs: 0700, removed on exit, and those of dead owners swept by the next run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

from bakery import liveness, private
from bakery.errors import PrerequisiteError


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    return tmp_path / f"bakery-{os.getuid()}"


def test_private_dir_is_0700_under_the_run_and_removed_on_exit(runtime_dir):
    with private.private_dir("run-a", "vars") as path:
        assert path == runtime_dir / "run-a" / "vars"
        assert oct(path.stat().st_mode & 0o777) == "0o700"
        assert oct(runtime_dir.stat().st_mode & 0o777) == "0o700"
        owner = json.loads((path.parent / private.OWNER_FILE).read_text())
        assert liveness.same_process(owner["pid"], owner["start_ticks"])
        assert private.dead_dirs() == []
    assert not (runtime_dir / "run-a").exists()


def test_dirs_of_dead_owners_are_swept_by_the_next_run(runtime_dir):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    assert private.root() == runtime_dir
    (runtime_dir / "run-dead").mkdir()
    (runtime_dir / "run-dead" / private.OWNER_FILE).write_text(json.dumps({"pid": dead_pid, "start_ticks": 1,
                                                                           "run_id": "run-dead"}))
    (runtime_dir / "run-dead" / "vars-x").mkdir()
    (runtime_dir / "run-dead" / "vars-x" / "extra-vars.yml").write_text("secret")
    reused = runtime_dir / "run-reused-pid"  # our own pid, another start time: a recycled pid
    reused.mkdir()
    (reused / private.OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "start_ticks": 1, "run_id": "r"}))
    assert {d.run_id for d in private.dead_dirs()} == {"run-dead", "r"}
    with private.private_dir("run-b", "vars"):
        assert sorted(p.name for p in runtime_dir.iterdir()) == ["run-b"]


def test_a_root_someone_else_can_read_is_refused(runtime_dir):
    runtime_dir.mkdir(mode=0o755)
    runtime_dir.chmod(0o755)
    with pytest.raises(PrerequisiteError, match="is not a private directory of this user"):
        private.root()
