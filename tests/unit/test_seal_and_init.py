"""The seal in a bake's plan, `bakery init`'s project, and how --image names an image (no containers)."""

import subprocess

import pytest
import yaml

from bakery import seal
from bakery.config import load_project
from bakery.errors import ConfigError, ExitStatus
from bakery.fingerprint import Fingerprint
from bakery.images import resolve_image
from bakery.init import init_project
from bakery.inputs import resolve_service_playbook
from bakery.layers import plan_layers, why_no_layers
from bakery.targets import ImageRecord
from helpers import copy_fixture_project


def planned(project_root, service, **options):
    project = load_project(project_root)
    playbook = resolve_service_playbook(project, service)
    fingerprint = Fingerprint("f" * 64, ())
    return plan_layers(playbook, fingerprint, "base", project.path("roles"), project_root / "out", **options)


def test_the_seal_is_the_last_layer_and_runs_the_bundled_role(tmp_path):
    root = copy_fixture_project(tmp_path / "p")
    steps = planned(root, "layered", sealed=True)
    assert [s.role for s in steps] == ["static_file", "motd", "cleanup", seal.ROLE_NAME]
    play = yaml.safe_load(steps[-1].playbook.read_text())[0]
    assert play["roles"] == [seal.ROLE_NAME] and play["become"] is True
    assert (seal.role_dir() / "tasks" / "main.yml").is_file()
    # the role layers before the seal are those of an unsealed bake but the last (which carries the image)
    unsealed = planned(root, "layered")
    assert [s.key for s in steps[:2]] == [s.key for s in unsealed[:2]] and steps[2].key != unsealed[2].key


def test_sealed_playbook_imports_the_service_playbook_then_seals(tmp_path):
    root = copy_fixture_project(tmp_path / "p")
    (root / "playbooks" / "group_vars").mkdir()
    path = seal.write_sealed_playbook(root / "playbooks" / "tiny.yml", tmp_path / "run" / "sealed.yml")
    plays = yaml.safe_load(path.read_text())
    assert plays[0] == {"import_playbook": str((root / "playbooks" / "tiny.yml").resolve())}
    assert plays[1] == seal.seal_play()
    assert (tmp_path / "run" / "group_vars").resolve() == (root / "playbooks" / "group_vars").resolve()


def test_the_seal_script_is_valid_sh():
    assert subprocess.run(["sh", "-n", str(seal.role_dir() / "files" / "seal.sh")]).returncode == 0


@pytest.mark.parametrize(("play", "reason"), [
    ({"hosts": "all", "roles": ["a"]}, None),
    ({"hosts": "all", "pre_tasks": [{"debug": {}}], "roles": ["a"]}, "its play has pre_tasks"),
    ({"hosts": "all", "roles": ["a"], "tasks": []}, "its play has tasks"),
])
def test_why_no_layers_names_the_play_keys(tmp_path, play, reason):
    path = tmp_path / "site.yml"
    path.write_text(yaml.safe_dump([play]))
    why = why_no_layers(path)
    assert why == reason if reason is None else why.startswith(reason)


def test_init_writes_a_project_that_loads_and_refuses_to_overwrite(tmp_path):
    result = init_project(tmp_path / "new")
    assert set(result.files) == {"bakery.yml", "playbooks/app.yml", "tests/images/app/test_app.py", "roles/.gitkeep",
                                 ".gitignore"}
    project = load_project(tmp_path / "new")
    assert list(project.services) == ["app"] and project.build.packer_template is None
    assert ".bakery/" in (tmp_path / "new" / ".gitignore").read_text().splitlines()
    before = (tmp_path / "new" / "bakery.yml").read_text()
    with pytest.raises(ConfigError, match="bakery.yml already exists"):
        init_project(tmp_path / "new")
    assert (tmp_path / "new" / "bakery.yml").read_text() == before


def test_init_command_writes_once_then_refuses_in_one_line(tmp_path, cli):
    first = cli("-C", tmp_path / "p", "init", "--json")
    assert first.rc == 0, first.err
    assert first.json()["root"] == str((tmp_path / "p").resolve())
    again = cli("init", tmp_path / "p")
    assert again.rc == ExitStatus.CONFIG
    assert again.err.strip().splitlines() == [f"bakery: error: {tmp_path / 'p' / 'bakery.yml'} already exists; bakery init "
                                              "writes only new files (run it in an empty directory or pass another DIR)"]


def test_init_adds_the_state_dir_to_an_existing_gitignore(tmp_path):
    (tmp_path / ".gitignore").write_text("*.pyc")
    init_project(tmp_path, "web")
    assert (tmp_path / ".gitignore").read_text() == "*.pyc\n# bakery's state: runs, catalog, locks\n.bakery/\n"


def record(fingerprint: str, image_id: str) -> ImageRecord:
    return ImageRecord("web", f"localhost/bakery/web:{fingerprint[:12]}", image_id, fingerprint)


IMAGES = [record("6bb84fb0d0e8" + "1" * 52, "a" * 64), record("6bb8" + "2" * 60, "b" * 64)]


@pytest.mark.parametrize("ref", ["localhost/bakery/web:6bb84fb0d0e8", "6bb84fb0d0e8", "6bb84f", "a" * 64, "aaaa",
                                 "sha256:" + "a" * 12])
def test_image_is_found_by_reference_tag_id_or_prefix(ref):
    assert resolve_image(IMAGES, ref, "web") is IMAGES[0]


@pytest.mark.parametrize(("ref", "message"), [("6bb8", "names 2 images"), ("ccc", "is not a baked image")])
def test_ambiguous_or_unknown_image_is_a_config_error(ref, message):
    with pytest.raises(ConfigError, match=message) as raised:
        resolve_image(IMAGES, ref, "web")
    assert raised.value.exit_status == ExitStatus.CONFIG
