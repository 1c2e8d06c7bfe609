"""Which Molecule step failed, read from ansible-runner events: roletest.diagnose on event files in tmp_path."""

import json

import pytest

from bakery.proc import CommandResult
from bakery.roletest import diagnose

FAILED = CommandResult(("molecule", "test"), 1, "", "CRITICAL Ansible return code was 2\nscenario failed", 1.0)


class Events:
    """Writes job_events/*-partial.json files as ansible-runner does, one playbook run at a time."""

    def __init__(self, directory):
        self.directory, self.count = directory, 0
        directory.mkdir()

    def run(self, playbook: str, *events: tuple[str, str, dict]) -> None:
        uuid = f"run-{self.count}"
        for event, task, extra in events:
            self.count += 1
            data = {"playbook": f"/scenario/{playbook}", "playbook_uuid": uuid, "task": task, "role": "nginx", **extra}
            (self.directory / f"{self.count}-{uuid}-partial.json").write_text(json.dumps(
                {"event": event, "created": f"2026-01-01T00:00:{self.count:02d}", "event_data": data}))


@pytest.fixture
def events(tmp_path):
    return Events(tmp_path / "job_events")


def ok(task, changed=False):
    return ("runner_on_ok", task, {"res": {"changed": changed}})


def test_a_task_failing_in_the_first_converge(events):
    events.run("create.yml", ok("create"))
    events.run("converge.yml", ok("install", changed=True),
               ("runner_on_failed", "template", {"res": {"msg": "AnsibleUndefinedVariable: 'port'"}}))
    assert diagnose(events.directory, FAILED) == ("converge", (), "nginx : template: AnsibleUndefinedVariable: 'port'")


def test_an_ignored_failure_is_not_the_cause(events):
    events.run("converge.yml", ("runner_on_failed", "probe", {"ignore_errors": True, "res": {"msg": "no"}}),
               ok("install", changed=True))
    events.run("converge.yml", ok("install"))
    step, changed, message = diagnose(events.directory, FAILED)
    assert (step, changed) == ("verify", ()) and message == "CRITICAL Ansible return code was 2 | scenario failed"


def test_tasks_that_change_on_the_second_converge_are_not_idempotent(events):
    events.run("converge.yml", ok("install", changed=True), ok("config", changed=True))
    events.run("converge.yml", ok("install"), ok("config", changed=True), ok("config", changed=True))
    assert diagnose(events.directory, FAILED) == ("idempotence", ("nginx : config",), "")


def test_a_task_failing_on_the_second_converge_is_an_idempotence_failure(events):
    events.run("converge.yml", ok("install", changed=True))
    events.run("converge.yml", ("runner_on_unreachable", "install", {"res": {"msg": "ssh: connection refused"}}))
    assert diagnose(events.directory, FAILED)[0] == "idempotence"


def test_a_failure_in_the_verify_playbook(events):
    events.run("converge.yml", ok("install", changed=True))
    events.run("converge.yml", ok("install"))
    events.run("verify.yml", ("runner_on_failed", "port answers", {"res": {"msg": "timeout"}}))
    assert diagnose(events.directory, FAILED) == ("verify", (), "nginx : port answers: timeout")


def test_no_events_at_all_blames_molecule_with_its_last_lines(events):
    assert diagnose(events.directory, FAILED) == ("molecule", (), "CRITICAL Ansible return code was 2 | scenario failed")
