"""Bakes with build.ansible_strategy: mitogen (real podman, Packer, Ansible and Mitogen)."""

import json
import re
import shutil
from pathlib import Path

import pytest

from bakery import proc
from bakery.errors import ExitStatus
from helpers import REPO

pytestmark = pytest.mark.integration

ERROR_LINE = re.compile(r"\berror\b|\[ERROR\]|Traceback", re.IGNORECASE)


@pytest.fixture
def mitogen_project(fixture_project: Path) -> Path:
    config = fixture_project / "bakery.yml"
    config.write_text(config.read_text().replace("version: 1\n", "version: 1\nbuild: {ansible_strategy: mitogen}\n", 1))
    return fixture_project


def test_layered_bake_with_mitogen_passes_verification_and_prints_no_error(cli, mitogen_project):
    result = cli("-C", mitogen_project, "build", "layered", "--force", "--json")
    assert result.rc == 0, result.err
    build = result.json()
    assert build["ansible_strategy"] == "mitogen" and build["verdict"] == "passed"
    assert [line for line in result.err.splitlines() if ERROR_LINE.search(line)] == []
    run = Path(build["run_dir"])
    # the bake's Ansible output: Mitogen was loaded, and nothing (the seal's removals included) made it complain
    ansible_output = (run / "packer.log").read_text()
    assert "strategy plugins not included in ansible.builtin" in ansible_output
    assert [line for line in ansible_output.splitlines() if "[ERROR]" in line or "prune_tree" in line] == []
    inputs = json.loads((run / "inputs.json").read_text())["inputs"]
    assert [i["digest"].split()[0] for i in inputs if i["name"] == "ansible-strategy"] == ["mitogen"]
    motd = proc.run(["podman", "run", "--rm", "--entrypoint", "/bin/cat", build["image"], "/etc/motd"]).stdout
    assert motd == f"baked by bakery ({build['fingerprint']})\n"


def test_failing_task_under_mitogen_names_role_and_task(cli, mitogen_project):
    result = cli("-C", mitogen_project, "build", "broken", "--no-verify")
    assert result.rc == ExitStatus.BUILD_FAILED
    assert "role 'broken' task 'Fail on purpose'" in result.err.strip().splitlines()[-1]


def test_role_tests_run_the_role_with_the_bakes_strategy(cli, tmp_path):
    root = tmp_path / "roles_project"
    shutil.copytree(REPO / "tests" / "fixtures" / "roles_project", root)
    config = root / "bakery.yml"
    config.write_text(config.read_text().replace("version: 1\n", "version: 1\nbuild: {ansible_strategy: mitogen}\n", 1))
    result = cli("-C", root, "test-roles", "good_role", "--json")
    assert result.rc == 0, result.out + result.err
    assert result.json()[0]["passed"] is True
    run = next((root / ".bakery" / "runs").iterdir())
    events = " ".join(p.read_text() for p in (run / "roles" / "good_role" / "job_events").glob("*.json"))
    assert "ansible_mitogen_action" in events  # the converge copied its file through Mitogen
