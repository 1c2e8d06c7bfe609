"""A full disk under the project's run dir: a clear error with its exit code, nothing left running, no
secret left behind (the project sits on a small tmpfs, filled up to its last few KiB)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from bakery.errors import ExitStatus
from faultkit import assert_no_secret_left, wait_until_nothing_runs
from helpers import REPO, podman_json

pytestmark = [pytest.mark.faults, pytest.mark.integration]  # real podman, Packer, Ansible

LEFT_FREE_KIB = 40  # room for the run dir's first records, not for Packer's and Ansible's


@pytest.fixture
def project_on_a_full_disk(faults_project, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], check=True)
    try:
        project = disk / "project"
        shutil.copytree(faults_project, project, ignore=shutil.ignore_patterns(".bakery"))
        free_kib = shutil.disk_usage(disk).free // 1024
        with open(disk / "filler", "wb") as filler:
            filler.write(b"\0" * (free_kib - LEFT_FREE_KIB) * 1024)
        yield project
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_disk_is_a_clear_prerequisite_error_and_leaves_nothing(project_on_a_full_disk):
    done = subprocess.run([str(REPO / ".venv" / "bin" / "bakery"), "build", "tiny", "--force", "--no-verify"],
                          cwd=project_on_a_full_disk, capture_output=True, text=True, timeout=900)
    assert done.returncode == ExitStatus.PREREQ, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("bakery: error: no space left on the device writing "), last
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr
    (run_dir,) = (project_on_a_full_disk / ".bakery" / "runs").iterdir()
    assert wait_until_nothing_runs(run_dir.name) == []
    assert podman_json("ps", "-a", "--filter", f"label=bakery.run-id={run_dir.name}") == []
    assert_no_secret_left(run_dir.name, run_dir)
    assert not [p for p in run_dir.rglob("*.tmp")]  # no half-written record left
    assert os.environ.get("BAKERY_FAULTS_SECRET")  # the bake had a secret to leak
