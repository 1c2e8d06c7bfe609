"""`bakery build --all -j N`: independent services baked in parallel, each by its own bakery process.

Bases are built first, once each (under their lock); every service build then runs as a
child `bakery build SERVICE --json` so a failure or Ctrl-C in one is contained and reported.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from bakery import proc
from bakery.config import Project
from bakery.errors import BuildFailed, ExitStatus
from bakery.rundir import RunDir
from bakery.targets import get_target


NOT_STARTED = "not started"
STOPPED = "stopped"


@dataclass(frozen=True)
class ServiceOutcome:
    service: str
    ok: bool
    result: dict | None  # the child's --json output
    error: str
    log: str
    exit: int | None = None  # the child's exit code (None: decided here, or never started)


def build_all(project: Project, services: list[str], target_name: str, jobs: int, child_args: list[str],
              run: RunDir, log, global_args: list[str] | None = None, target_options: dict | None = None,
              reuse: bool = True, fail_fast: bool = False, hashes=None) -> list[ServiceOutcome]:
    """reuse: services whose image is there with a passed verdict are reported here, without a child.
    fail_fast: the first failed child stops the running ones (SIGINT: they clean up as on Ctrl-C)
    and the services not yet started are not started."""
    target = get_target(target_name, project, **(target_options or {}))
    target.ensure_prerequisites()
    for base_name in dict.fromkeys(project.service(s).base for s in services):
        target.prepare_base(project, base_name, log)  # once, before the parallel builds
    done = up_to_date(project, services, target, run, hashes) if reuse else {}
    todo = [s for s in services if s not in done]
    logs_dir = run.path / "services"
    logs_dir.mkdir()
    commands = [_child_argv(project, s, target_name, child_args, global_args or []) for s in todo]
    logs = [logs_dir / f"{s}.log" for s in todo]
    if todo:
        log(f"building {len(todo)} of {len(services)} services, {jobs} at a time (logs: {logs_dir})")
    results = proc.run_parallel(commands, jobs=jobs, log_paths=logs, env=proc.tool_env({"NO_COLOR": "1"}),
                                fail_fast=fail_fast)
    done |= {s: _outcome(s, r, log_path, fail_fast) for s, r, log_path in zip(todo, results, logs)}
    outcomes = [done[s] for s in services]
    run.write_json("result.json", [o.__dict__ for o in outcomes])
    return outcomes


def up_to_date(project: Project, services: list[str], target, run: RunDir, hashes=None) -> dict[str, ServiceOutcome]:
    """The services a child build would only find up to date and verified, decided here from one
    survey of the image store (bakery.plan), so a no-op build --all spawns no process."""
    from bakery import catalog, plan

    survey = plan.Survey(project, target, hashes or plan.Hashes())
    found = {}
    with target.snapshot():
        for service in services:
            seen = plan.surveyed(survey, service)
            if seen.image is not None and seen.verdict is not None and seen.verdict.status == catalog.PASSED:
                found[service] = ServiceOutcome(service, True, _reused(seen, target.name, run), "", str(run.path))
    return found


def _reused(seen, target_name: str, run: RunDir) -> dict:
    """What the child's --json would have said: the image reused, no stage run (this run's id)."""
    from bakery.build import BuildResult

    image = seen.image
    return BuildResult(seen.entry.service, target_name, image.ref, image.image_id, seen.entry.fingerprint, run.run_id,
                       str(run.path), 0.0, True, 0, seen.verdict.status, []).as_dict()


def _child_argv(project: Project, service: str, target: str, extra: list[str], global_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "bakery", "-C", str(project.root), *global_args, "build", service,
            "--target", target, "--json", *extra]


def _outcome(service: str, result: proc.CommandResult | None, log_path: Path, fail_fast: bool) -> ServiceOutcome:
    if result is None:
        return ServiceOutcome(service, False, None, f"{NOT_STARTED}: another service failed first (--fail-fast)", "")
    if result.ok:
        return ServiceOutcome(service, True, json.loads(result.stdout), "", str(log_path), result.rc)
    if fail_fast and result.rc == ExitStatus.INTERRUPTED:
        return ServiceOutcome(service, False, None, f"{STOPPED}: another service failed first (--fail-fast)",
                              str(log_path), result.rc)
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("bakery: error:")]
    error = lines[-1].removeprefix("bakery: error: ") if lines else result.tail(1)
    return ServiceOutcome(service, False, None, error, str(log_path), result.rc)


def raise_if_failed(outcomes: list[ServiceOutcome]) -> None:
    failed = sorted((o for o in outcomes if not o.ok), key=_knock_on)
    if failed:
        knocked_on = sum(1 for o in failed if _knock_on(o))
        also = f" ({knocked_on} more stopped or not started)" if knocked_on else ""
        raise BuildFailed(f"{len(failed) - knocked_on} of {len(outcomes)} service build(s) failed{also}; "
                          f"{failed[0].service}: {failed[0].error}", hint=f"log: {failed[0].log}")


def _knock_on(outcome: ServiceOutcome) -> bool:
    """Stopped or never started because another service failed: reported after the failure itself."""
    return outcome.error.startswith((NOT_STARTED, STOPPED))
