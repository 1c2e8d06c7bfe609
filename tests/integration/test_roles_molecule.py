"""`bakery test-roles`: Molecule scenarios on the bakery base, with failures read from Ansible events."""

import shutil

import pytest

from bakery.errors import ExitStatus
from helpers import REPO, podman_json

pytestmark = pytest.mark.integration


@pytest.fixture
def roles_project(tmp_path):
    root = tmp_path / "roles_project"
    shutil.copytree(REPO / "tests" / "fixtures" / "roles_project", root)
    return root


def molecule_containers() -> list:
    return podman_json("ps", "-a", "--filter", "label=bakery.molecule-role")


def test_passing_and_failing_scenarios_are_summarised(cli, roles_project):
    result = cli("-C", roles_project, "test-roles", "--json")
    assert result.rc == ExitStatus.ROLE_TESTS_FAILED
    outcomes = {r["role"]: r for r in result.json()}
    assert outcomes["good_role"]["passed"] is True
    not_idempotent = outcomes["not_idempotent"]
    assert not_idempotent["passed"] is False and not_idempotent["failed_step"] == "idempotence"
    assert not_idempotent["changed_tasks"] == ["not_idempotent : Append a line every run"]
    bad = outcomes["bad_converge"]
    assert bad["failed_step"] == "converge" and "Fail during converge" in bad["message"]
    assert "bad_converge" in result.err or "not_idempotent" in result.err
    assert molecule_containers() == []  # removed also when converge failed


def test_table_and_single_role(cli, roles_project):
    result = cli("-C", roles_project, "test-roles", "good_role")
    assert result.rc == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["ROLE", "RESULT", "DURATION", "DETAIL"]
    assert lines[1].split()[:2] == ["good_role", "passed"]


def test_unknown_role_is_a_config_error(cli, roles_project):
    result = cli("-C", roles_project, "test-roles", "nope")
    assert result.rc == ExitStatus.CONFIG and "role 'nope' has no Molecule scenario" in result.err


@pytest.mark.parametrize("role", ["common", "python_runtime", "nginx", "api_service"])
def test_every_example_role_passes_its_scenario(cli, role):
    result = cli("-C", REPO, "test-roles", role, "--json")
    assert result.rc == 0, result.out + result.err
    assert result.json()[0]["passed"] is True
