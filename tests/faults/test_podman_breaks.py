"""podman breaking in the middle of a bake: exit 4, one clear line, nothing left running."""

from __future__ import annotations

import json
import subprocess

import pytest

from bakery.errors import ExitStatus
from faultkit import assert_no_secret_left, bake_until_ansible, wait_until_nothing_runs
from helpers import REPO, bakery_process, podman_json

pytestmark = [pytest.mark.faults, pytest.mark.integration]  # real podman, Packer, Ansible


def test_podman_failing_mid_bake_is_exit_4_and_gc_orphans_cleans_up(faults_project, breakable_podman):
    env, switch = breakable_podman
    bake = bake_until_ansible(faults_project, env=env)
    switch.touch()
    _, err = bake.process.communicate(timeout=600)
    assert bake.process.returncode == ExitStatus.PREREQ, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("bakery: error: podman is not working") and "not responding" in last
    assert "Traceback" not in err
    assert wait_until_nothing_runs(bake.run_id, but_containers=True) == []
    assert_no_secret_left(bake.run_id, bake.run_dir)

    switch.unlink()  # podman works again: what the broken podman could not remove is an orphan now
    gc = bakery_process("gc", "--orphans", "--json", cwd=faults_project)
    out, gc_err = gc.communicate(timeout=300)
    assert gc.returncode == 0, gc_err
    assert all(a["action"] == "removed" for a in json.loads(out))
    assert podman_json("ps", "-a", "--filter", f"label=bakery.run-id={bake.run_id}") == []
    assert wait_until_nothing_runs(bake.run_id) == []


@pytest.mark.parametrize("command", [["deploy", "tiny", "--env", "dev"], ["status", "tiny", "--env", "dev"],
                                     ["images"], ["gc", "--dry-run"], ["gc", "--orphans", "--dry-run"]])
def test_a_broken_podman_is_exit_4_in_every_command(faults_project, breakable_podman, command):
    env, switch = breakable_podman
    switch.touch()
    process = subprocess.run([str(REPO / ".venv" / "bin" / "bakery"), *command], cwd=faults_project, env=env,
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == ExitStatus.PREREQ, process.stderr
    assert process.stderr.strip().splitlines() == [process.stderr.strip().splitlines()[-1]]
    assert "podman is not working" in process.stderr and "not responding" in process.stderr
