"""A project of one's own: made by `bakery init`, with a role written like a Galaxy role (nothing
from the example). One bake: it bakes, seals and verifies, sshd answers over SSH with host keys
made at first boot."""

import json
import shutil
from pathlib import Path

import pytest

from bakery.cli import main
from helpers import REPO, container_ids, podman_json

pytestmark = pytest.mark.integration

MEMCACHED_SUITE = '''\
def test_memcached_runs_and_listens(host):
    assert host.service("memcached").is_enabled and host.service("memcached").is_running
    assert host.socket("tcp://127.0.0.1:11211").is_listening
'''


@pytest.fixture(scope="module")
def own_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own") / "project"
    assert main(["init", str(root)]) == 0
    shutil.copytree(REPO / "tests" / "fixtures" / "galaxy_roles" / "memcached", root / "roles" / "memcached")
    playbook = root / "playbooks" / "app.yml"
    playbook.write_text(playbook.read_text().replace("roles: []", "roles: [memcached]"))
    (root / "tests" / "images" / "app" / "test_memcached.py").write_text(MEMCACHED_SUITE)
    return root


def test_init_project_with_a_galaxy_style_role_bakes_seals_and_verifies(cli, own_project):
    before = container_ids()
    # --force: a store kept from an earlier run may hold these role layers; this bake must run them
    result = cli("-C", own_project, "build", "app", "--force", "--json")
    assert result.rc == 0, result.err
    built = result.json()
    assert built["verdict"] == "passed" and built["reused"] is False
    run = Path(built["run_dir"])
    # the seal ran as the last layer, after the role (no update_cache in the role: the base has apt lists)
    assert sorted(p.name for p in (run / "layers").glob("0*.yml")) == ["00-memcached.yml", "01-bakery_seal.yml"]
    events = [json.loads(p.read_text())["event_data"] for p in (run / "ansible" / "job_events").glob("*.json")]
    assert {"memcached", "bakery_seal"} <= {e.get("role") for e in events}
    report = json.loads((run / "verify-report.json").read_text())
    assert all(h["passed"] for h in report["hygiene"]), report["hygiene"]
    # sshd answers in the booted image: the suite itself went over SSH, and it checked the keys
    # were made by the first-boot unit
    assert report["host"].startswith("ssh://bakery-verify@"), report["host"]
    outcomes = {t["name"].split("::")[-1].split("[")[0]: t["outcome"] for t in report["tests"]}
    assert outcomes == {"test_systemd_is_running": "passed", "test_sshd_runs_with_host_keys_made_at_first_boot": "passed",
                        "test_memcached_runs_and_listens": "passed"}
    assert container_ids() == before


def test_test_roles_runs_a_docker_scenario_under_podman_and_skips_vendored_roles(cli, own_project):
    shutil.copytree(own_project / "roles" / "memcached", own_project / "roles" / "example.memcached")
    result = cli("-C", own_project, "test-roles", "--json")
    assert result.rc == 0, result.out + result.err
    (only,) = result.json()  # example.memcached is vendored (a dotted name): not tested unless named
    assert only["role"] == "memcached" and only["passed"] is True
    assert only["via"] == "under bakery's podman scenario (its own uses the docker driver)"
    assert podman_json("ps", "-a", "--filter", "label=bakery.molecule-role") == []
