"""Bakes with build.ansible_strategy: mitogen (real podman, Packer, Ansible and Mitogen)."""

import json
import re
from pathlib import Path

import pytest

from bakery import proc
from bakery.errors import ExitStatus

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
