import pytest

from bakery import proc
from bakery.errors import CommandFailed, ConfigError, PrerequisiteError
from bakery.events import TaskEvent, to_task_event
from bakery.pipeline import Stage, select_stages

STAGES = [Stage(n, lambda ctx: None, optional=n == "verify") for n in ("base", "fingerprint", "bake", "verify")]


def names(stages):
    return [s.name for s in stages]


def test_until_and_skip_are_list_operations():
    assert names(select_stages(STAGES, until="fingerprint")) == ["base", "fingerprint"]
    assert names(select_stages(STAGES, skip=["verify"])) == ["base", "fingerprint", "bake"]
    with pytest.raises(ConfigError, match="unknown stage 'x'"):
        select_stages(STAGES, skip=["x"])


def test_run_returns_a_frozen_result():
    result = proc.run(["sh", "-c", "echo out; echo err >&2"])
    assert (result.rc, result.stdout, result.stderr) == (0, "out\n", "err\n")
    assert result.argv == ("sh", "-c", "echo out; echo err >&2")
    with pytest.raises(AttributeError):
        result.rc = 1


def test_large_stdout_is_returned_whole_and_stderr_keeps_its_tail():
    # `podman images --format json` of a busy store is over 256 KiB and is parsed as a whole
    big = 600 * 1024
    script = f"import sys; sys.stdout.write('[' + 'x' * {big} + ']'); sys.stderr.write('e' * {big} + 'END')"
    result = proc.run(["python3", "-c", script])
    assert len(result.stdout) == big + 2 and result.stdout.startswith("[") and result.stdout.endswith("]")
    assert result.stderr.endswith("END") and len(result.stderr) < big


def test_failure_raises_with_last_lines():
    with pytest.raises(CommandFailed) as err:
        proc.run(["sh", "-c", "echo one >&2; echo two >&2; exit 3"])
    assert err.value.result.rc == 3
    assert "one | two" in err.value.message


def test_missing_tool_is_a_prerequisite_error():
    with pytest.raises(PrerequisiteError, match="'no-such-tool-xyz' is not installed"):
        proc.run(["no-such-tool-xyz"])


def test_log_path_receives_output(tmp_path):
    log = tmp_path / "log"
    proc.run(["sh", "-c", "echo to-log; echo err >&2"], log_path=log)
    assert log.read_text() == "to-log\nerr\n"


def test_timeout_stops_the_command():
    result = proc.run(["sleep", "30"], timeout=0.5, check=False)
    assert result.rc != 0 and result.duration_s < 20


def test_run_parallel_keeps_order_output_and_the_job_limit(tmp_path):
    live, counts = tmp_path / "live", tmp_path / "counts"
    live.mkdir()
    script = ('touch "$1/$2"; ls "$1" | wc -l >> "$3"; sleep 0.2; rm "$1/$2"; '
              'echo "out $2"; echo "err $2" >&2; exit "$2"')
    commands = [["sh", "-c", script, "sh", str(live), str(i), str(counts)] for i in range(5)]
    logs = [tmp_path / f"{i}.log" for i in range(5)]
    results = proc.run_parallel(commands, jobs=2, log_paths=logs)
    assert [r.rc for r in results] == [0, 1, 2, 3, 4]
    assert [r.stdout for r in results] == [f"out {i}\n" for i in range(5)]
    assert [log.read_text() for log in logs] == [f"err {i}\n" for i in range(5)]
    running_at_start = [int(n) for n in counts.read_text().split()]
    assert len(running_at_start) == 5 and max(running_at_start) <= 2


def test_ansible_events_become_task_events():
    failed = to_task_event({
        "event": "runner_on_failed",
        "event_data": {"role": "web", "task": "Start", "host": "default",
                       "res": {"msg": "first\nService failed to start"}},
    })
    assert failed == TaskEvent("failed", "web", "Start", "default", "Service failed to start", False)
    assert failed.is_failure and failed.where == "role 'web' task 'Start'"
    changed = to_task_event({"event": "runner_on_ok", "event_data": {"task": "x", "res": {"changed": True}}})
    assert changed.kind == "changed"
    ignored = to_task_event({"event": "runner_on_failed", "event_data": {"task": "x", "ignore_errors": True, "res": {}}})
    assert not ignored.is_failure
    assert to_task_event({"event": "playbook_on_stats", "event_data": {}}) is None


def test_only_optional_stages_can_be_skipped():
    stages = [Stage("bake", lambda ctx: None), Stage("verify", lambda ctx: None, optional=True)]
    assert names(select_stages(stages, skip=["verify"])) == ["bake"]
    with pytest.raises(ConfigError, match="stage 'bake' cannot be skipped.*skippable: verify"):
        select_stages(stages, skip=["bake"])


def test_run_parallel_fail_fast_stops_the_running_and_starts_no_more(tmp_path):
    """The first failure: the running command gets SIGINT and cleans up; the pending one never starts."""
    cleaned = tmp_path / "cleaned"
    slow = ["sh", "-c", f'trap "touch {cleaned}; exit 130" INT; sleep 60 & wait']
    commands = [["sh", "-c", "sleep 0.3; exit 3"], slow, ["touch", str(tmp_path / "started")]]
    logs = [tmp_path / f"{i}.log" for i in range(3)]
    results = proc.run_parallel(commands, jobs=2, log_paths=logs, fail_fast=True)
    assert results[0].rc == 3
    assert results[1].rc == 130 and cleaned.exists()
    assert results[2] is None and not (tmp_path / "started").exists()
