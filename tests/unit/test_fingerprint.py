import os
import shutil

import pytest

from bakery.config import load_project
from bakery.fingerprint import combine, tree_digest
from bakery.inputs import ToolVersions, resolve_service_playbook, service_inputs
from helpers import copy_fixture_project

TOOLS = ToolVersions(ansible_core="2.19.0", packer="1.6.6", bakery="0.1.0")


def fingerprint(root, service="tiny", base_id="sha256:base", tools=TOOLS):
    project = load_project(root)
    playbook = resolve_service_playbook(project, service)
    return combine(service_inputs(project, service, playbook, base_id, tools, "local")).digest


@pytest.fixture
def project(tmp_path):
    return copy_fixture_project(tmp_path / "p")


def test_same_inputs_same_fingerprint(project, tmp_path):
    other = copy_fixture_project(tmp_path / "q")
    assert fingerprint(project) == fingerprint(other)


def test_touching_mtime_does_not_change_it(project):
    before = fingerprint(project)
    task_file = project / "roles/motd/tasks/main.yml"
    os.utime(task_file, (1, 1))
    assert fingerprint(project) == before


@pytest.mark.parametrize("relative", [
    "roles/motd/tasks/main.yml",
    "roles/motd/defaults/main.yml",
    "playbooks/tiny.yml",
])
def test_changing_any_input_file_changes_it(project, relative):
    before = fingerprint(project)
    with open(project / relative, "a") as handle:
        handle.write("\n# changed\n")
    assert fingerprint(project) != before


def use_own_template(project):
    from bakery.packer import bundled_template

    shutil.copytree(bundled_template(), project / "packer")
    config = project / "bakery.yml"
    config.write_text(config.read_text().replace("version: 1\n", "version: 1\nbuild: {packer_template: packer}\n"))


def test_a_template_of_the_project_counts_with_its_content(project):
    bundled = fingerprint(project)
    use_own_template(project)
    own = fingerprint(project)
    assert own != bundled  # the input is named after where the template comes from
    with open(project / "packer" / "build.pkr.hcl", "a") as handle:
        handle.write("\n# changed\n")
    assert fingerprint(project) != own


def test_turning_the_seal_off_changes_it(project):
    before = fingerprint(project)
    config = project / "bakery.yml"
    config.write_text(config.read_text().replace("    playbook: playbooks/tiny.yml\n",
                                                 "    playbook: playbooks/tiny.yml\n    seal: false\n"))
    assert fingerprint(project) != before


def test_new_file_in_role_changes_it(project):
    before = fingerprint(project)
    (project / "roles/motd/templates").mkdir()
    (project / "roles/motd/templates/x.j2").write_text("x")
    assert fingerprint(project) != before


def test_unrelated_files_and_litter_do_not_change_it(project):
    before = fingerprint(project)
    (project / "README.txt").write_text("notes")
    (project / "roles/broken/tasks/extra.yml").write_text("[]")  # role not used by 'tiny'
    (project / "roles/motd/__pycache__").mkdir()
    (project / "roles/motd/__pycache__/x.pyc").write_bytes(b"\0")
    assert fingerprint(project) == before


def test_variables_base_and_tool_versions_change_it(project):
    before = fingerprint(project)
    text = (project / "bakery.yml").read_text().replace("baked by bakery", "baked again")
    assert fingerprint(project, base_id="sha256:other") != before
    assert fingerprint(project, tools=ToolVersions("2.19.1", "1.6.6", "0.1.0")) != before
    assert fingerprint(project, tools=ToolVersions("2.19.0", "1.11.0", "0.1.0")) != before
    (project / "bakery.yml").write_text(text)
    assert fingerprint(project) != before


def test_exec_bit_counts(tmp_path):
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "run.sh").write_text("echo hi\n")
    before = tree_digest(tree)
    (tree / "run.sh").chmod(0o755)
    assert tree_digest(tree) != before


def test_renaming_a_file_changes_it(tmp_path):
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "a").write_text("same")
    before = tree_digest(tree)
    shutil.move(tree / "a", tree / "b")
    assert tree_digest(tree) != before
