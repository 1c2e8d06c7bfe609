"""Two projects on one machine: gc in one never offers the other's images, nor the layers they use."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from helpers import REPO, copy_fixture_project, image_labels

pytestmark = pytest.mark.faults


def bakery(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv" / "bin" / "bakery"), *args], cwd=project, capture_output=True, text=True,
                          timeout=900)


def test_gc_in_one_project_leaves_the_others_images(faults_project, tmp_path):
    other = copy_fixture_project(tmp_path / "other")
    config = yaml.safe_load((other / "bakery.yml").read_text())
    config["services"]["tiny"]["variables"]["motd_text"] = "the other project"
    (other / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    theirs = bakery(other, "build", "tiny", "--no-verify", "--json")
    assert theirs.returncode == 0, theirs.stderr[-2000:]
    theirs_image = json.loads(theirs.stdout)["image"]
    try:
        ours = json.loads(bakery(faults_project, "images", "tiny", "--json").stdout)
        assert theirs_image in {i["image"] for i in ours}  # one podman store: both see every image
        assert image_labels(theirs_image)["bakery.project"] != ""
        planned = bakery(faults_project, "gc", "tiny", "--keep", "1", "--dry-run", "--json")
        assert planned.returncode == 0, planned.stderr
        refs = {a["ref"]: a["action"] for a in json.loads(planned.stdout)}
        assert theirs_image not in refs
        chain = image_labels(theirs_image)["bakery.layer-chain"].split(",")
        assert not [ref for ref, action in refs.items() if action == "remove" and ref.rsplit(":", 1)[1] in chain]
        mine = bakery(other, "gc", "tiny", "--keep", "1", "--dry-run", "--json")
        assert {a["ref"]: a["action"] for a in json.loads(mine.stdout)}[theirs_image] == "keep"
    finally:
        bakery(other, "gc", "tiny", "--keep", "1")
        subprocess.run(["podman", "rmi", theirs_image], capture_output=True)
        shutil.rmtree(other, ignore_errors=True)
