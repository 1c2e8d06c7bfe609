"""Which roles test-roles runs, and bakery's podman scenario for a role whose own needs docker (no containers)."""

import shutil

import yaml

from bakery import roletest
from bakery.config import load_project
from bakery.init import init_project
from helpers import REPO

GALAXY_ROLE = REPO / "tests" / "fixtures" / "galaxy_roles" / "memcached"


def project_with_roles(root, *names):
    init_project(root)
    for name in names:
        shutil.copytree(GALAXY_ROLE, root / "roles" / name)
    return load_project(root)


def test_vendored_roles_are_tested_only_when_named(tmp_path):
    project = project_with_roles(tmp_path, "memcached", "example.memcached", "pinned")
    (tmp_path / "bakery.yml").write_text((tmp_path / "bakery.yml").read_text() + "role_tests: {vendored: [pinned]}\n")
    project = load_project(tmp_path)
    assert roletest.select_roles(project, []) == ["memcached"]
    assert roletest.select_roles(project, ["example.memcached"]) == ["example.memcached"]


def test_a_docker_scenario_becomes_a_podman_scenario_with_the_roles_own_files(tmp_path):
    project = project_with_roles(tmp_path / "p", "memcached")
    config = roletest.scenario_config(project, "memcached")
    assert roletest.unsupported_driver(config) == "docker"
    scenario = roletest.podman_scenario(project, "memcached", config, tmp_path / "scenarios")
    written = yaml.safe_load((scenario / "molecule.yml").read_text())
    assert written["driver"] == {"name": "podman"} and written["dependency"]["enabled"] is False
    (platform,) = written["platforms"]
    assert platform["image"] == "${BAKERY_BASE_IMAGE}" and platform["systemd"] == "always"
    assert written["provisioner"]["playbooks"] == config["provisioner"]["playbooks"]  # the role's own, kept
    assert written["provisioner"]["env"]["ANSIBLE_ROLES_PATH"] == str(project.path("roles"))
    assert (scenario / "converge.yml").read_text() == (GALAXY_ROLE / "molecule/default/converge.yml").read_text()


def test_a_vm_driver_is_skipped_with_its_reason(tmp_path):
    project = project_with_roles(tmp_path / "p", "memcached")
    scenario = project.path("roles") / "memcached" / "molecule" / "default" / "molecule.yml"
    scenario.write_text(scenario.read_text().replace("name: docker", "name: vagrant"))
    result = roletest.run_scenario(project, "memcached", "unused", run=None)
    assert result.skipped == "its scenario needs the vagrant driver, which bakery does not run"
    assert result.describe().startswith("skipped: ")
