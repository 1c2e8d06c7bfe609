"""Gates and status read live state: a dead replica in dev refuses staging and degrades status."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from bakery import proc
from bakery.errors import ExitStatus
from helpers import REPO

pytestmark = [pytest.mark.faults, pytest.mark.integration]  # real podman, Packer, Ansible


def bakery(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv" / "bin" / "bakery"), *args], cwd=project, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture
def web_project(faults_project, tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(faults_project, copy, symlinks=True)
    yield copy
    for env in ("dev", "staging"):
        bakery(copy, "destroy", "web", "--env", env)


def test_a_dead_dev_replica_refuses_staging_and_degrades_status(web_project):
    built = bakery(web_project, "build", "web", "--json")
    assert built.returncode == 0, built.stderr[-2000:]
    assert bakery(web_project, "deploy", "web", "--env", "dev").returncode == 0
    healthy = bakery(web_project, "status", "web", "--env", "dev", "--json")
    assert healthy.returncode == 0, healthy.stderr
    report = json.loads(healthy.stdout)
    assert report["health"] == {"desired": 2, "running": 2, "healthy": 2, "orphans": [], "degraded": False}

    proc.run(["podman", "stop", "-t", "0", report["replicas"][0]["name"]])
    degraded = bakery(web_project, "status", "web", "--env", "dev")
    assert degraded.returncode == ExitStatus.DEGRADED
    assert "1 of 2 replica(s) healthy, 1 running" in degraded.stdout.splitlines()[0]
    assert degraded.stderr.strip().splitlines()[-1].startswith("bakery: error: web in dev is degraded: 1 of 2")

    refused = bakery(web_project, "deploy", "web", "--env", "staging")
    assert refused.returncode == ExitStatus.GATE_REFUSED
    assert refused.stderr.strip().splitlines() == [
        "bakery: error: dev is not healthy now: 1 of 2 replica(s) healthy, 1 running"
        " (see bakery status web --env dev; deploying to dev again restores it)"]
    assert bakery(web_project, "deploy", "web", "--env", "dev").returncode == 0
    assert bakery(web_project, "deploy", "web", "--env", "staging").returncode == 0
