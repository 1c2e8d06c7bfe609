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
from bakery.errors import BuildFailed
from bakery.rundir import RunDir
from bakery.targets import get_target


@dataclass(frozen=True)
class ServiceOutcome:
    service: str
    ok: bool
    result: dict | None  # the child's --json output
    error: str
    log: str


def build_all(project: Project, services: list[str], target_name: str, jobs: int, child_args: list[str],
              run: RunDir, log, global_args: list[str] | None = None, target_options: dict | None = None
              ) -> list[ServiceOutcome]:
    target = get_target(target_name, project, **(target_options or {}))
    target.ensure_prerequisites()
    for base_name in dict.fromkeys(project.service(s).base for s in services):
        target.prepare_base(project, base_name, log)  # once, before the parallel builds
    logs_dir = run.path / "services"
    logs_dir.mkdir()
    commands = [_child_argv(project, s, target_name, child_args, global_args or []) for s in services]
    logs = [logs_dir / f"{s}.log" for s in services]
    log(f"building {len(services)} services, {jobs} at a time (logs: {logs_dir})")
    results = proc.run_parallel(commands, jobs=jobs, log_paths=logs, env=proc.tool_env({"NO_COLOR": "1"}))
    outcomes = [_outcome(s, r, log_path) for s, r, log_path in zip(services, results, logs)]
    run.write_json("result.json", [o.__dict__ for o in outcomes])
    return outcomes


def _child_argv(project: Project, service: str, target: str, extra: list[str], global_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "bakery", "-C", str(project.root), *global_args, "build", service,
            "--target", target, "--json", *extra]


def _outcome(service: str, result: proc.CommandResult, log_path: Path) -> ServiceOutcome:
    if result.ok:
        return ServiceOutcome(service, True, json.loads(result.stdout), "", str(log_path))
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("bakery: error:")]
    error = lines[-1].removeprefix("bakery: error: ") if lines else result.tail(1)
    return ServiceOutcome(service, False, None, error, str(log_path))


def raise_if_failed(outcomes: list[ServiceOutcome]) -> None:
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise BuildFailed(f"{len(failed)} of {len(outcomes)} service build(s) failed; {failed[0].service}: "
                          f"{failed[0].error}", hint=f"log: {failed[0].log}")
