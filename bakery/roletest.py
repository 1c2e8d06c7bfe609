"""`bakery test-roles`: each role's Molecule scenario (create, converge, idempotence, verify, destroy)."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from bakery import base as bases
from bakery import proc, yamltext
from bakery.config import Project
from bakery.errors import ConfigError, RoleTestsFailed
from bakery.events import callback_env, load_event
from bakery.progress import Reporter
from bakery.rundir import RunDir

SCENARIO = "default"
MOLECULE_TIMEOUT_S = 1800
DRIVERS = ("podman", "default", "delegated")  # what bakery's machines run (no docker daemon)


@dataclass(frozen=True)
class RoleResult:
    role: str
    passed: bool
    duration_s: float
    failed_step: str = ""  # converge, idempotence, verify, create, ...
    changed_tasks: tuple[str, ...] = ()  # tasks that changed on the second converge
    message: str = ""
    log: str = ""
    skipped: str = ""  # why the scenario did not run

    def describe(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        if self.passed:
            return "passed"
        if self.failed_step == "idempotence":
            return f"not idempotent: changed on the second run: {', '.join(self.changed_tasks)}"
        return f"failed at {self.failed_step or 'an unknown step'}: {self.message}".rstrip(": ")


def roles_with_scenarios(project: Project) -> list[str]:
    roles_dir = project.path("roles")
    return sorted(p.parents[2].name for p in roles_dir.glob(f"*/molecule/{SCENARIO}/molecule.yml"))


def is_vendored(project: Project, role: str) -> bool:
    """A role from elsewhere (a Galaxy-style dotted name, or listed in role_tests.vendored)."""
    return "." in role or role in project.role_tests.vendored


def select_roles(project: Project, wanted: list[str]) -> list[str]:
    """The roles named, or every role with a scenario but the vendored ones."""
    available = roles_with_scenarios(project)
    missing = [r for r in wanted if r not in available]
    if missing:
        raise ConfigError(
            f"role '{missing[0]}' has no Molecule scenario",
            hint=f"create roles/{missing[0]}/molecule/{SCENARIO}/ (roles with scenarios: {', '.join(available) or 'none'})",
        )
    if not available:
        raise ConfigError(f"no role under {project.path('roles')} has a molecule/{SCENARIO} scenario")
    return wanted or [r for r in available if not is_vendored(project, r)]


def unsupported_driver(project: Project, role: str) -> str | None:
    """The driver of the role's scenario when bakery cannot run it (docker needs a daemon bakery does not use)."""
    path = project.path("roles") / role / "molecule" / SCENARIO / "molecule.yml"
    try:
        driver = ((yamltext.safe_load(path.read_text()) or {}).get("driver") or {}).get("name", "default")
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return None if driver in DRIVERS else str(driver)


def test_roles(project: Project, roles: list[str], base_name: str, run: RunDir, reporter: Reporter) -> list[RoleResult]:
    """Run every role's scenario on the bakery base image; raises RoleTestsFailed if any fails."""
    reporter.stage("base")
    base = bases.ensure_base(project, base_name, log=reporter.info)
    results = []
    for role in roles:
        reporter.stage(f"molecule test {role}")
        result = run_scenario(project, role, base.ref, run)
        reporter.info(f"  {role}: {result.describe()} ({result.duration_s:.0f} s)")
        results.append(result)
    run.write_json("role-tests.json", [r.__dict__ for r in results])
    return results


def run_scenario(project: Project, role: str, base_ref: str, run: RunDir) -> RoleResult:
    driver = unsupported_driver(project, role)
    if driver is not None:
        return RoleResult(role, False, 0.0, skipped=f"its scenario uses the {driver} driver; bakery runs podman scenarios"
                                                    f" (add one with driver podman to test it here)")
    artifacts = run.path / "roles" / role
    log = run.path / "roles" / f"{role}.log"
    env = proc.tool_env({
        **callback_env(artifacts),
        "BAKERY_BASE_IMAGE": base_ref,
        "BAKERY_RUN_ID": run.run_id,
        "BAKERY_MOLECULE_SUFFIX": f"-{run.run_id[-6:]}",  # concurrent runs get their own instances
        "MOLECULE_EPHEMERAL_DIRECTORY": str(artifacts / "molecule"),  # ...and their own molecule state
        "ANSIBLE_ROLES_PATH": str(project.path("roles")),
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
    })
    started = time.monotonic()
    result = proc.run(["molecule", "test", "-s", SCENARIO], env=env, cwd=project.path("roles") / role,
                      log_path=log, check=False, timeout=MOLECULE_TIMEOUT_S)
    duration = round(time.monotonic() - started, 1)
    if result.ok:
        return RoleResult(role, True, duration, log=str(log))
    step, changed, message = diagnose(artifacts / "job_events", result)
    return RoleResult(role, False, duration, step, changed, message, str(log))


def diagnose(events_dir: Path, result: proc.CommandResult) -> tuple[str, tuple[str, ...], str]:
    """Which step failed, read from the Ansible events of each playbook molecule ran."""
    runs = playbook_runs(events_dir)
    converges = [events for name, events in runs if name == "converge.yml"]
    for name, events in runs:
        failure = next((e for e in events if e["event"] in ("runner_on_failed", "runner_on_unreachable")
                        and not e["event_data"].get("ignore_errors")), None)
        if failure is not None:
            step = "idempotence" if name == "converge.yml" and events is not converges[0] else name.removesuffix(".yml")
            return step, (), _task_name(failure) + ": " + str(failure["event_data"].get("res", {}).get("msg", ""))[:200]
    if len(converges) >= 2:
        changed = tuple(dict.fromkeys(_task_name(e) for e in converges[1] if _changed(e)))
        if changed:
            return "idempotence", changed, ""
    step = "verify" if len(converges) >= 2 else "molecule"
    return step, (), result.tail(2)


def playbook_runs(events_dir: Path) -> list[tuple[str, list[dict]]]:
    """Events grouped per ansible-playbook run, in the order the runs started."""
    by_run: dict[str, list[dict]] = defaultdict(list)
    for path in events_dir.glob("*-partial.json"):
        event = load_event(path)
        if event is not None:
            by_run[event["event_data"].get("playbook_uuid", "")].append(event)
    runs = [sorted(events, key=lambda e: e.get("created", "")) for events in by_run.values()]
    runs.sort(key=lambda events: events[0].get("created", ""))
    return [(Path(events[0]["event_data"].get("playbook", "?")).name, events) for events in runs]


def _changed(event: dict) -> bool:
    return event["event"] == "runner_on_ok" and bool(event["event_data"].get("res", {}).get("changed"))


def _task_name(event: dict) -> str:
    data = event["event_data"]
    return f"{data['role']} : {data['task']}" if data.get("role") else data.get("task", "?")


def raise_if_failed(results: list[RoleResult]) -> None:
    failed = [r for r in results if not r.passed and not r.skipped]
    if failed:
        first = failed[0]
        raise RoleTestsFailed(f"{len(failed)} of {len(results)} role scenario(s) failed; {first.role} {first.describe()}",
                              hint=f"log: {first.log}")
