"""Reading systemd on a booted instance: when boot is done, and whether its units are healthy.

Boot is done when `systemctl is-system-running` has settled AND systemd has no queued jobs: a
unit in a restart loop can leave the system `running` for a moment while its restart job waits.
Health is read as one shell script (one `podman exec` or SSH command): the system state, the
queued jobs, the units that failed or wait to restart (`activating (auto-restart)`), and every
service's restart count since boot. A unit that failed, waits to restart, or restarted at all
fails the image; the finding carries the unit's last journal lines.

`shell(script)` runs a POSIX sh script as root on the instance and returns its stdout; each
target supplies it (podman exec locally, sudo over SSH on AWS).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Shell = Callable[[str], str]

SETTLED_STATES = ("running", "degraded", "maintenance", "stopping")
JOURNAL_LINES = 5

_SECTION = "@@bakery@@"
HEALTH_SCRIPT = f"""
echo "{_SECTION} state"; systemctl is-system-running 2>/dev/null
echo "{_SECTION} jobs"; systemctl list-jobs --plain --no-legend --no-pager 2>/dev/null
echo "{_SECTION} units"; systemctl list-units --all --plain --no-legend --no-pager --state=failed,auto-restart 2>/dev/null
echo "{_SECTION} restarts"; systemctl show --property=Id --property=NRestarts '*.service' 2>/dev/null
true
"""


@dataclass(frozen=True)
class UnitFinding:
    unit: str
    problem: str  # "failed", "waiting to restart", "restarted 3 time(s)"
    journal: tuple[str, ...] = ()

    def describe(self) -> str:
        last = f" (journal: {' | '.join(self.journal[-2:])})" if self.journal else ""
        return f"{self.unit} {self.problem}{last}"


@dataclass(frozen=True)
class Health:
    """The instance's units at one moment."""

    state: str  # is-system-running's answer ("" when it printed nothing yet)
    queued_jobs: tuple[str, ...] = ()  # units with a job waiting
    findings: tuple[UnitFinding, ...] = ()

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES and not self.queued_jobs

    @property
    def ok(self) -> bool:
        return self.state == "running" and not self.queued_jobs and not self.findings

    def describe(self) -> str:
        parts = [f"{f.describe()}" for f in self.findings]
        if self.queued_jobs:
            parts.append(f"jobs still queued for {', '.join(self.queued_jobs)}")
        if not parts and self.state != "running":
            parts.append(f"systemd is {self.state or 'not answering'}")
        return "; ".join(parts) or "systemd is running, no unit failed or restarted"


@dataclass(frozen=True)
class BootResult:
    """How boot went: settled (no queued jobs) in seconds, or 'timeout'; then the health after the settle window."""

    state: str  # systemd's is-system-running answer when boot was done, or "timeout"
    seconds: float
    failed_units: tuple[str, ...] = ()
    pending_units: tuple[str, ...] = ()  # jobs still queued (at the timeout)
    settle: dict = field(default_factory=dict)  # asdict(Health) after the settle window, when it was held

    @property
    def ok(self) -> bool:
        return self.state == "running" and not self.pending_units and not self.failed_units

    def describe(self) -> str:
        if self.state == "timeout":
            return (f"systemd did not settle in {self.seconds:.0f} s; still starting: "
                    f"{', '.join(self.pending_units) or 'unknown'}")
        if self.state == "degraded" or self.failed_units:
            return f"systemd is {self.state}; failed units: {', '.join(self.failed_units) or 'unknown'}"
        return f"systemd is {self.state}"


def read_health(shell: Shell) -> Health:
    sections = _sections(shell(HEALTH_SCRIPT))
    state = next((line.strip() for line in sections.get("state", []) if line.strip()), "")
    jobs = tuple(sorted({f[1] for f in map(str.split, sections.get("jobs", [])) if len(f) > 1 and f[0].isdigit()}))
    problems: dict[str, str] = {}
    for fields in map(str.split, sections.get("units", [])):
        if len(fields) >= 4:  # UNIT LOAD ACTIVE SUB
            problems[fields[0]] = "waiting to restart" if fields[3] == "auto-restart" else fields[2]
    for unit, count in _restart_counts(sections.get("restarts", [])).items():
        if count > 0 and unit not in problems:
            problems[unit] = f"restarted {count} time(s) since boot"
    findings = tuple(UnitFinding(unit, why, _journal(shell, unit)) for unit, why in sorted(problems.items()))
    return Health(state, jobs, findings)


def wait_for_boot(shell: Shell, timeout_s: float, started: float, poll_s: float = 0.2) -> BootResult:
    """Poll until systemd has settled with no queued jobs, or timeout_s (counted from started) passes."""
    health = Health("")
    while time.monotonic() - started < timeout_s:
        health = _quick_state(shell)
        if health.settled:
            break
        time.sleep(poll_s)
    seconds = round(time.monotonic() - started, 2)
    if not health.settled:
        return BootResult("timeout", seconds, pending_units=health.queued_jobs)
    failed = tuple(f.unit for f in read_health(shell).findings if f.problem == "failed")
    return BootResult(health.state, seconds, failed_units=failed)


def hold(shell: Shell, until: float) -> Health:
    """Wait until the settle window ends (monotonic time `until`), then read the units again."""
    remaining = until - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    return read_health(shell)


def _quick_state(shell: Shell) -> Health:
    """The state and the queued jobs only (each poll is one command on the instance)."""
    out = shell(f'systemctl is-system-running 2>/dev/null; echo "{_SECTION} jobs";'
                " systemctl list-jobs --plain --no-legend --no-pager 2>/dev/null; true")
    state, _, jobs = out.partition(f"{_SECTION} jobs")
    queued = tuple(sorted({f[1] for f in map(str.split, jobs.splitlines()) if len(f) > 1 and f[0].isdigit()}))
    return Health(state.strip().splitlines()[-1].strip() if state.strip() else "", queued)


def _sections(out: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if line.startswith(_SECTION):
            current = line[len(_SECTION):].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def _restart_counts(lines: list[str]) -> dict[str, int]:
    """Id= and NRestarts= of each block of `systemctl show` (blocks end at a blank line; the
    properties come in systemd's order, not the order asked for)."""
    counts: dict[str, int] = {}
    block: dict[str, str] = {}
    for line in [*lines, ""]:
        if line.strip():
            key, _, value = line.partition("=")
            block[key.strip()] = value.strip()
            continue
        if block.get("Id") and block.get("NRestarts", "").isdigit():
            counts[block["Id"]] = int(block["NRestarts"])
        block = {}
    return counts


def _journal(shell: Shell, unit: str) -> tuple[str, ...]:
    out = shell(f"journalctl --no-pager --quiet -o cat -n {JOURNAL_LINES} -u '{unit}' 2>/dev/null; true")
    return tuple(line.strip()[:200] for line in out.splitlines() if line.strip())[-JOURNAL_LINES:]
