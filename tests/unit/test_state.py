"""One owner of .bakery/: its paths, the run-id format, the atomic JSON write."""

import json
from datetime import UTC, datetime

from bakery.rundir import RunDir
from bakery.state import StateDir, new_run_id, parse_run_id, write_json_atomic


def test_a_run_id_says_when_the_run_started_and_sorts_by_it():
    early, late = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
    first, second = new_run_id(early), new_run_id(late)
    assert parse_run_id(first) == early.timestamp() and parse_run_id(second) == late.timestamp()
    assert sorted([second, first]) == [first, second]
    assert parse_run_id("not-a-run-id") is None


def test_write_json_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "deep" / "record.json"
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    write_json_atomic(path, {"b": 2})
    assert json.loads(path.read_text()) == {"b": 2}
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]


def test_a_run_dir_lives_where_the_state_dir_says_and_knows_its_project(tmp_path):
    state = StateDir.of_project(tmp_path)
    run = RunDir.create(state.path, "verify")
    assert run.path == state.run(run.run_id) and run.read_json("run.json")["kind"] == "verify"
    assert StateDir.of_run(run.path) == StateDir(state.path.resolve())
    assert StateDir.of_run(run.path).project_root == tmp_path.resolve()
    assert state.deployment("web", "dev") == tmp_path / ".bakery" / "deployments" / "web" / "dev.json"
