"""`bakery test-roles`: each role's Molecule scenario (create, converge, idempotence, verify, destroy)."""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from bakery import base as bases
from bakery import proc, strategy, yamltext
from bakery.config import Project
from bakery.errors import ConfigError, RoleTestsFailed
from bakery.events import callback_env, load_event
from bakery.progress import Reporter
from bakery.rundir import RunDir

SCENARIO = "default"
MOLECULE_TIMEOUT_S = 1800
DRIVERS = ("podman", "default", "delegated")  # what bakery's machines run (no docker daemon)
BAKERY_SCENARIO = "bakery-podman"
SHARED_CONFIG = ".config/molecule/config.yml"  # the project's Molecule base config, if it has one
PODMAN_STAND_IN = ("docker",)  # container drivers whose scenarios run as well under bakery's podman scenario


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
    via: str = ""  # how it ran, when not as the role's own scenario

    def describe(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        if self.passed:
            return f"passed {self.via}".strip()
        if self.failed_step == "idempotence":
            return f"not idempotent: changed on the second run: {', '.join(self.changed_tasks)}"
        failed = f"failed at {self.failed_step or 'an unknown step'}: {self.message}".rstrip(": ")
        return f"{failed} ({self.via})" if self.via else failed


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


def scenario_dir(project: Project, role: str) -> Path:
    return project.path("roles") / role / "molecule" / SCENARIO


def scenario_config(project: Project, role: str) -> dict:
    """The role's scenario as Molecule reads it: its molecule.yml over the project's shared config
    (top-level keys; enough to know the driver)."""
    return {**_yaml_file(project.path(SHARED_CONFIG)), **_yaml_file(scenario_dir(project, role) / "molecule.yml")}


def _yaml_file(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return yamltext.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


def unsupported_driver(config: dict) -> str | None:
    """The scenario's driver when bakery's machines cannot run it (docker needs a daemon)."""
    driver = (config.get("driver") or {}).get("name", "default")
    return None if driver in DRIVERS else str(driver)


def podman_scenario(project: Project, role: str, config: dict, dest: Path) -> Path:
    """bakery's podman scenario for a role whose own scenario needs another driver: the role's
    scenario files (converge, verify, tests) as they are, on the bakery base under podman."""
    scenario = dest / BAKERY_SCENARIO
    shutil.rmtree(scenario, ignore_errors=True)
    shutil.copytree(scenario_dir(project, role), scenario, ignore=shutil.ignore_patterns("molecule.yml"))
    provisioner = dict(config.get("provisioner") or {"name": "ansible"})
    provisioner["env"] = {**(provisioner.get("env") or {}), "ANSIBLE_ROLES_PATH": str(project.path("roles"))}
    bakery_config = {
        **config,
        "dependency": {"name": "galaxy", "enabled": False},  # Galaxy is out of reach; the roles are here
        "driver": {"name": "podman"},
        "platforms": [{
            "name": "bakery-molecule${BAKERY_MOLECULE_SUFFIX}",
            "image": "${BAKERY_BASE_IMAGE}",
            "pre_build_image": True,
            "systemd": "always",
            "command": "/sbin/init",
            "extra_opts": ["--label=bakery.run-id=${BAKERY_RUN_ID}", f"--label=bakery.molecule-role={role}"],
        }],
        "provisioner": provisioner,
    }
    (scenario / "molecule.yml").write_text(yaml.safe_dump(bakery_config, sort_keys=False))
    return scenario


def test_roles(project: Project, roles: list[str], base_name: str, run: RunDir, reporter: Reporter) -> list[RoleResult]:
    """Run every role's scenario on the bakery base image; raises RoleTestsFailed if any fails."""
    reporter.stage("base")
    base = bases.ensure_base(project, base_name, log=reporter.info)
    chosen = strategy.for_installed(project.build.ansible_strategy)  # the bakes' strategy
    if chosen.warning:
        reporter.info(chosen.warning)
    results = []
    for role in roles:
        reporter.stage(f"molecule test {role}")
        result = run_scenario(project, role, base.ref, run, chosen)
        reporter.info(f"  {role}: {result.describe()} ({result.duration_s:.0f} s)")
        results.append(result)
    run.write_json("role-tests.json", [r.__dict__ for r in results])
    return results


def run_scenario(project: Project, role: str, base_ref: str, run: RunDir,
                 chosen: strategy.Strategy = strategy.Strategy("linear", "linear")) -> RoleResult:
    """The role's own scenario; when it needs a driver bakery cannot run, bakery's podman
    scenario with the role's playbooks and tests instead."""
    config = scenario_config(project, role)
    driver = unsupported_driver(config)
    if driver is not None and driver not in PODMAN_STAND_IN:
        return RoleResult(role, False, 0.0, skipped=f"its scenario needs the {driver} driver, which bakery does not run")
    artifacts = run.path / "roles" / role
    scenario, via, extra_env = SCENARIO, "", {}
    if driver is not None:
        podman_scenario(project, role, config, artifacts / "scenarios")
        scenario, via = BAKERY_SCENARIO, f"under bakery's podman scenario (its own uses the {driver} driver)"
        extra_env = {"MOLECULE_GLOB": str(artifacts / "scenarios" / "*" / "molecule.yml")}
    log = run.path / "roles" / f"{role}.log"
    env = proc.tool_env({
        **callback_env(artifacts),
        "BAKERY_BASE_IMAGE": base_ref,
        "BAKERY_RUN_ID": run.run_id,
        "BAKERY_MOLECULE_SUFFIX": f"-{role.replace('_', '-')}-{run.run_id[-6:]}",  # concurrent runs: own instances
        "BAKERY_MOLECULE_ROLE": role,
        "MOLECULE_EPHEMERAL_DIRECTORY": str(artifacts / "molecule"),  # ...and their own molecule state
        "ANSIBLE_ROLES_PATH": str(project.path("roles")),
        "ANSIBLE_NOCOLOR": "1",
        "PY_COLORS": "0",
        **chosen.ansible_env(),
        **extra_env,
    })
    podman_driver = driver is not None or (config.get("driver") or {}).get("name") == "podman"
    base_configs = shared_config(project)
    if podman_driver and chosen.name != "linear":
        base_configs += linear_podman_driver(artifacts / "driver")
    started = time.monotonic()
    result = proc.run(["molecule", *base_configs, "test", "-s", scenario], env=env, cwd=project.path("roles") / role,
                      log_path=log, check=False, timeout=MOLECULE_TIMEOUT_S)
    duration = round(time.monotonic() - started, 1)
    if result.ok:
        return RoleResult(role, True, duration, log=str(log), via=via)
    step, changed, message = diagnose(artifacts / "job_events", result)
    return RoleResult(role, False, duration, step, changed, message, str(log), via=via)


def shared_config(project: Project) -> list[str]:
    """The project's shared Molecule base config (.config/molecule/config.yml), which every role
    scenario builds on; given explicitly, since another --base-config would replace Molecule's own
    lookup of it (and a project that is no git checkout has none)."""
    path = project.path(SHARED_CONFIG)
    return ["--base-config", str(path)] if path.is_file() else []


def linear_podman_driver(dest: Path) -> list[str]:
    """Molecule options (a base config) that run the podman driver's create and destroy playbooks,
    on the controller, with the linear strategy: under Mitogen their asynchronous podman_container
    job never finishes. The plays on the instance (converge, idempotence, verify) keep the bakes'
    strategy."""
    from importlib.util import find_spec

    driver_playbooks = Path(list(find_spec("molecule_plugins").submodule_search_locations)[0]) / "podman" / "playbooks"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(driver_playbooks, dest)  # create.yml finds its Dockerfile.j2 next to it
    for name in ("create.yml", "destroy.yml"):
        plays = [{**play, "strategy": "linear"} for play in yamltext.safe_load((dest / name).read_text())]
        (dest / name).write_text(yaml.safe_dump(plays, sort_keys=False))
    base = dest / "base-config.yml"
    playbooks = {"create": str(dest / "create.yml"), "destroy": str(dest / "destroy.yml")}
    base.write_text(yaml.safe_dump({"provisioner": {"name": "ansible", "playbooks": playbooks}}))
    return ["--base-config", str(base)]


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
