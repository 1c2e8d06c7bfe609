"""Is a process still the one we recorded? Pids are reused, so compare start times too
(a run's liveness by its run.json: bakery/aws/runs.py)."""

from __future__ import annotations


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22); None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2:].split()
    return None if fields[0] in (b"Z", b"X") else int(fields[19])


def same_process(pid: int, ticks: int | None) -> bool:
    """Whether pid still names the process that had start time ticks."""
    return ticks is not None and start_ticks(pid) == ticks
