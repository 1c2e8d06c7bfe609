"""Two projects on one machine share the podman store: one never re-tags, reuses, lists or gcs the other's
images, nor removes the layers they use."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time

import pytest

from helpers import REPO, bakery_process, copy_fixture_project, image_labels, podman_json, processes_mentioning

pytestmark = [pytest.mark.faults, pytest.mark.integration]  # real podman, Packer, Ansible


def bakery(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv" / "bin" / "bakery"), *args], cwd=project, capture_output=True, text=True,
                          timeout=900)


def image_id(ref: str) -> str:
    return podman_json("image", "inspect", ref)[0]["Id"]


def test_a_forced_bake_of_the_same_service_leaves_the_other_projects_image(faults_project, tmp_path):
    ours = json.loads(bakery(faults_project, "build", "tiny", "--no-verify", "--json").stdout)
    ours_id = image_id(ours["image"])
    other = copy_fixture_project(tmp_path / "other")  # the same service, the same inputs: the same fingerprint
    forced = bakery(other, "build", "tiny", "--force", "--no-verify", "--json")
    assert forced.returncode == 0, forced.stderr[-2000:]
    theirs = json.loads(forced.stdout)
    try:
        assert theirs["fingerprint"] == ours["fingerprint"]
        assert theirs["image"] != ours["image"] and image_id(theirs["image"]) != ours_id
        assert image_id(ours["image"]) == ours_id  # our name still names our image
        assert image_labels(theirs["image"])["bakery.project"] != image_labels(ours["image"])["bakery.project"]

        again = json.loads(bakery(other, "build", "tiny", "--no-verify", "--json").stdout)
        assert again["reused"] is True and again["image"] == theirs["image"]
        listed = {i["image"] for i in json.loads(bakery(faults_project, "images", "tiny", "--json").stdout)}
        assert ours["image"] in listed and theirs["image"] not in listed

        planned = bakery(faults_project, "gc", "tiny", "--keep", "1", "--dry-run", "--json")
        refs = {a["ref"]: a["action"] for a in json.loads(planned.stdout)}
        assert theirs["image"] not in refs
        chain = image_labels(theirs["image"])["bakery.layer-chain"].split(",")
        assert not [ref for ref, action in refs.items() if action == "remove" and ref.rsplit(":", 1)[1] in chain]
        mine = bakery(other, "gc", "tiny", "--keep", "1", "--dry-run", "--json")
        assert {a["ref"]: a["action"] for a in json.loads(mine.stdout)} .get(ours["image"]) is None
    finally:
        subprocess.run(["podman", "rmi", theirs["image"]], capture_output=True)
        shutil.rmtree(other, ignore_errors=True)


def test_two_projects_forcing_the_same_bake_at_once_each_get_their_own_image(faults_project, tmp_path):
    other = copy_fixture_project(tmp_path / "other")
    argv = ["build", "tiny", "--force", "--no-verify", "--json"]
    both = [subprocess.Popen([str(REPO / ".venv" / "bin" / "bakery"), *argv], cwd=project, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for project in (faults_project, other)]
    done = [p.communicate(timeout=900) for p in both]
    assert [p.returncode for p in both] == [0, 0], [err[-2000:] for _, err in done]
    ours, theirs = (json.loads(out) for out, _ in done)
    try:
        assert ours["fingerprint"] == theirs["fingerprint"]
        assert ours["image"] != theirs["image"]  # one holds the shared tag, the other its project's own
        assert image_id(ours["image"]) == ours["image_id"] and image_id(theirs["image"]) == theirs["image_id"]
        for project, mine, not_mine in ((faults_project, ours, theirs), (other, theirs, ours)):
            assert image_labels(mine["image"])["bakery.project"] != image_labels(not_mine["image"])["bakery.project"]
            listed = {i["image"] for i in json.loads(bakery(project, "images", "tiny", "--json").stdout)}
            assert mine["image"] in listed and not_mine["image"] not in listed
            again = json.loads(bakery(project, "build", "tiny", "--no-verify", "--json").stdout)
            assert again["reused"] is True and again["image"] == mine["image"]
    finally:
        for result in (ours, theirs):
            if result["image"].rsplit(":", 1)[1].count("-"):  # the project's own tag, not the shared one
                subprocess.run(["podman", "rmi", result["image"]], capture_output=True)
        shutil.rmtree(other, ignore_errors=True)


def test_a_second_project_waits_for_the_first_ones_bootstrap_of_the_same_base(faults_project, tmp_path):
    """Bases are shared by the machine's projects: while one project bootstraps a base, another that needs
    the same base waits (it would bootstrap it a second time and re-tag it under the first one's feet).
    The first bootstrap is stopped once the second is seen waiting; the second then finds the base."""
    other = copy_fixture_project(tmp_path / "other")
    before = json.loads(bakery(faults_project, "base", "build", "debian-12", "--json").stdout)
    work_root = faults_project / ".bakery" / "tmp"
    first = bakery_process("base", "build", "debian-12", "--rebuild", cwd=faults_project)
    second = None
    try:
        deadline = time.monotonic() + 300
        while not any("mmdebstrap" in p for d in work_root.glob("base-debian-12-*") for p in processes_mentioning(str(d))):
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()[1][-2000:]
            time.sleep(0.2)
        second = bakery_process("base", "build", "debian-12", "--json", cwd=other)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(second.stderr), daemon=True)
        reader.start()
        while not any("waiting for another bakery run" in line for line in lines):  # said before it blocks
            assert time.monotonic() < deadline and second.poll() is None, lines
            time.sleep(0.2)
        assert not list((other / ".bakery" / "tmp").glob("base-debian-12-*"))  # it did not start a bootstrap
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
        out = second.stdout.read()
        second.wait(timeout=300)
        reader.join(timeout=10)
        assert second.returncode == 0, lines
        found = json.loads(out)
        assert found["built"] is False and found["image_id"] == before["image_id"]  # the stopped rebuild kept the old base
        assert not list((other / ".bakery" / "tmp").glob("base-debian-12-*"))
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate()
        shutil.rmtree(other, ignore_errors=True)
