"""`bakery doctor`: every prerequisite, and how to fix what is missing (exit 4 if any check fails)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import ExitStatus


@dataclass(frozen=True)
class Checked(Result):
    checks: list  # bakery.doctor.Check

    def to_json(self):
        return [asdict(c) for c in self.checks]

    def render(self, out, err):
        for c in self.checks:
            mark = "ok  " if c.ok else "FAIL"
            line(out, f"{mark} {c.name:<10} {c.detail}" + (f"  -> {c.fix}" if not c.ok else ""))

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.OK if all(c.ok for c in self.checks) else ExitStatus.PREREQ


def doctor(app: AppContext) -> Checked:
    from bakery import doctor as checks

    return Checked(checks.run_checks(app.project_dir.resolve()))
