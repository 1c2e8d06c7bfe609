"""Is a run still going? The rule `gc_orphans` uses before it removes a run's resources.

A run is alive when this machine has `.bakery/runs/<run-id>/run.json`, no `result.json`
next to it, and the process named in run.json still runs (and started no later than the
run did, so a recycled pid does not count). `gc_orphans` removes a run's resources only
when the run is not alive *and* older than its threshold; this machine cannot see another
machine's runs, so for those only the age speaks: choose a threshold longer than any bake.
A run's age comes from its id, <UTC start>-<random>.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bakery.state import StateDir, parse_run_id

PID_START_SLACK_S = 5.0


def started_at(run_id: str) -> float | None:
    """When the run started, from its id; None for an id bakery did not make."""
    return parse_run_id(run_id)


def is_alive(state_dir: Path | None, run_id: str) -> bool:
    """True while a run of this machine is in progress (see the module docstring)."""
    if state_dir is None:
        return False
    run_dir = StateDir(state_dir).run(run_id)
    try:
        info = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return False
    if (run_dir / "result.json").exists():
        return False
    return process_alive(int(info.get("pid", 0)), float(info.get("started", 0.0)))


def process_alive(pid: int, run_started: float) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    process_start = _process_start(pid)
    return process_start is None or process_start <= run_started + PID_START_SLACK_S


def _process_start(pid: int) -> float | None:
    """The process's start time (Linux /proc), or None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def age_s(run_id: str, now: float | None = None) -> float | None:
    start = started_at(run_id)
    return None if start is None else (now or time.time()) - start
