"""Many services: ci matrix lists only what would change, build --all decides up-to-date services
itself, --fail-fast stops the other builds at the first failure."""

import contextlib
import io
import json

import pytest
import yaml

from bakery.cli import main
from bakery.errors import ExitStatus
from helpers import container_ids, copy_fixture_project

pytestmark = pytest.mark.integration

SLOW_PLAYBOOK = """---
- name: Fixture service whose bake takes minutes
  hosts: all
  tasks:
    - name: Take a long time
      ansible.builtin.command: sleep 600
      changed_when: false
"""


@pytest.fixture(scope="module")
def tiny_built(tmp_path_factory):
    """A project of its own whose tiny image is built and verified (its verdict is in this project's state)."""
    project = copy_fixture_project(tmp_path_factory.mktemp("scale") / "project")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["-C", str(project), "build", "tiny"]) == 0
    return project


@contextlib.contextmanager
def services(project, wanted: dict):
    """bakery.yml with only these services, in this order, for the block (None: the fixture's definition)."""
    config = project / "bakery.yml"
    original = config.read_text()
    data = yaml.safe_load(original)
    data["services"] = {name: spec or data["services"][name] for name, spec in wanted.items()}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        yield
    finally:
        config.write_text(original)


def test_ci_matrix_leaves_out_the_up_to_date_service(cli, tiny_built):
    result = cli("-C", tiny_built, "ci", "matrix", "tiny", "web")
    assert result.rc == 0, result.err
    assert json.loads(result.out) == {"include": [{"service": "web"}]}
    gitlab = yaml.safe_load(cli("-C", tiny_built, "ci", "matrix", "tiny", "web", "--format", "gitlab").out)
    assert [name for name in gitlab if name.startswith("bake:")] == ["bake:web"]


def test_ci_matrix_lists_a_service_whose_verdict_went_stale(cli, tiny_built):
    suite = next((tiny_built / "tests" / "images" / "tiny").glob("test_*.py"))
    original = suite.read_text()
    suite.write_text(original + "\n# edited: the verdict's key of checks no longer matches\n")
    try:
        result = cli("-C", tiny_built, "ci", "matrix", "tiny", "--json")
    finally:
        suite.write_text(original)
    assert result.rc == 0, result.err
    assert result.json()["services"] == ["tiny"]
    assert result.json()["plan"][0]["status"] == "would re-verify"


def test_fail_fast_stops_the_slow_build_and_starts_no_more(cli, tiny_built):
    """tiny is up to date (decided without a child); broken fails; slow is stopped; dirty never starts."""
    (tiny_built / "playbooks" / "slow.yml").write_text(SLOW_PLAYBOOK)
    slow = {"playbook": "playbooks/slow.yml", "base": "debian-12"}
    before = container_ids()
    with services(tiny_built, {"tiny": None, "broken": None, "slow": slow, "dirty": None}):
        result = cli("-C", tiny_built, "build", "--all", "-j", "2", "--fail-fast", "--no-verify", "--json")
    assert result.rc == ExitStatus.BUILD_FAILED, result.err
    outcomes = {o["service"]: o for o in result.json()}
    assert outcomes["tiny"]["ok"] and outcomes["tiny"]["result"]["reused"] and outcomes["tiny"]["exit"] is None
    assert not outcomes["broken"]["ok"] and outcomes["broken"]["exit"] == ExitStatus.BUILD_FAILED
    assert outcomes["slow"]["error"].startswith("stopped") and outcomes["slow"]["exit"] == ExitStatus.INTERRUPTED
    assert outcomes["dirty"]["error"].startswith("not started") and outcomes["dirty"]["exit"] is None
    assert "; broken: " in result.err  # the failure itself is what the error line names
    assert container_ids() == before  # the stopped build removed its container
    builds = [json.loads(p.read_text()) for p in (tiny_built / ".bakery" / "runs").glob("*/result.json")]
    # one child run each for broken and slow; tiny's only run is its first build; dirty has none
    assert sorted(b["service"] for b in builds if isinstance(b, dict)) == ["broken", "slow", "tiny"]
