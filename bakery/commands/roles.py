"""`bakery test-roles`: each role's Molecule scenario on the bakery base image."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, finish_run, line
from bakery.progress import make_reporter
from bakery.rundir import RunDir

ROW = "{:<20} {:<8} {:>9}  {}"


@dataclass(frozen=True)
class RolesTested(Result):
    results: list  # bakery.roletest.RoleResult

    def to_json(self):
        return [asdict(r) for r in self.results]

    def render(self, out, err):
        line(out, ROW.format("ROLE", "RESULT", "DURATION", "DETAIL"))
        for r in self.results:
            detail = "" if r.passed else r.describe()
            line(out, ROW.format(r.role, "passed" if r.passed else "FAILED", f"{r.duration_s:.0f} s", detail))

    def raise_for_status(self):
        from bakery import roletest

        roletest.raise_if_failed(self.results)


def test_roles(app: AppContext, roles: list[str], base: str | None = None) -> RolesTested:
    from bakery import roletest

    project = app.load()
    chosen = roletest.select_roles(project, roles)
    run = RunDir.create(project.state_dir(), "test-roles")
    reporter = make_reporter()
    try:
        with run.recording(finish=False):
            tested = RolesTested(roletest.test_roles(project, chosen, base or next(iter(project.bases)), run, reporter))
    finally:
        reporter.finish()
    return finish_run(run, tested)
