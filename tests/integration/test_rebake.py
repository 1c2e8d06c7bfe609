"""Fast rebakes: role layers, locks against concurrent builds, `build --all -j`."""

import json
import uuid

import pytest
import yaml

from bakery.errors import ExitStatus
from helpers import bakery_process, podman_json

pytestmark = pytest.mark.integration


def mark_role(project, role: str) -> None:
    """Give the project's role a unique edit, so its images are new to the podman store."""
    with open(project / "roles" / role / "tasks" / "main.yml", "a") as handle:
        handle.write(f"\n# edit {uuid.uuid4()}\n")


def build_json(cli, project, *args):
    result = cli("-C", project, "build", *args, "--json")
    assert result.rc == 0, result.err
    return result.json()


def test_last_role_change_reuses_earlier_layers_and_stays_equivalent(cli, fixture_project):
    mark_role(fixture_project, "static_file")
    first = build_json(cli, fixture_project, "layered")
    assert first["layers_reused"] == 0 and first["verdict"] == "passed"
    mark_role(fixture_project, "cleanup")
    second = build_json(cli, fixture_project, "layered")
    assert second["fingerprint"] != first["fingerprint"]
    assert second["layers_reused"] == 1  # static_file; motd mentions the fingerprint, cleanup changed
    assert second["verdict"] == "passed"
    assert cli("-C", fixture_project, "plan", "layered").rc == 0
    full = build_json(cli, fixture_project, "layered", "--force", "--no-layers")
    assert full["fingerprint"] == second["fingerprint"] and full["verdict"] == "passed"


def test_failed_role_is_not_cached(cli, fixture_project):
    mark_role(fixture_project, "broken")
    result = cli("-C", fixture_project, "build", "broken")
    assert result.rc == ExitStatus.BUILD_FAILED
    assert podman_json("images", "--filter", "reference=localhost/bakery-layer/broken") == []
    assert podman_json("images", "--filter", "reference=localhost/bakery-layer/motd") != []


def test_concurrent_builds_of_one_service_are_serialised(fixture_project):
    mark_role(fixture_project, "static_file")
    processes = [bakery_process("build", "layered", "--no-verify", "--json", cwd=fixture_project) for _ in range(2)]
    outputs = [p.communicate(timeout=900) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-500:] for _, err in outputs]
    results = [json.loads(out) for out, _ in outputs]
    assert results[0]["image"] == results[1]["image"]
    assert sorted(r["reused"] for r in results) == [False, True]
    waiting = [err for (_, err), r in zip(outputs, results) if r["reused"]]
    assert "waiting for another bakery run that holds the lock 'service-layered'" in waiting[0]


def test_build_all_builds_each_service_once(cli, fixture_project):
    config = fixture_project / "bakery.yml"
    data = yaml.safe_load(config.read_text())
    data["services"] = {name: data["services"][name] for name in ("tiny", "layered", "dirty")}
    config.write_text(yaml.safe_dump(data))
    result = cli("-C", fixture_project, "build", "--all", "-j", "2", "--no-verify", "--json")
    assert result.rc == 0, result.err
    outcomes = result.json()
    assert sorted(o["service"] for o in outcomes) == ["dirty", "layered", "tiny"]
    assert all(o["ok"] for o in outcomes)
    builds = [json.loads(p.read_text()) for p in (fixture_project / ".bakery" / "runs").glob("*/result.json")]
    per_service = [b["service"] for b in builds if isinstance(b, dict)]
    assert sorted(per_service) == ["dirty", "layered", "tiny"]


def test_gc_keeps_the_newest_and_their_layers(cli, fixture_project):
    images = []
    for _ in range(2):
        mark_role(fixture_project, "cleanup")
        images.append(build_json(cli, fixture_project, "layered", "--no-verify")["image"])
    older, newest = images
    planned = cli("-C", fixture_project, "gc", "layered", "--keep", "1", "--dry-run", "--json").json()
    actions = {a["ref"]: a["action"] for a in planned}
    assert actions[older] == "remove" and actions[newest] == "keep"
    assert podman_json("images", "--filter", f"reference={older}") != []  # dry run changed nothing
    done = cli("-C", fixture_project, "gc", "layered", "--keep", "1", "--json").json()
    assert {a["ref"]: a["action"] for a in done}[older] == "removed"
    assert podman_json("images", "--filter", f"reference={older}") == []
    assert podman_json("images", "--filter", f"reference={newest}") != []
    again = build_json(cli, fixture_project, "layered", "--no-verify")
    assert again["image"] == newest and again["reused"] is True
