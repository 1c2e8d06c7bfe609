"""`bakery plan`: which services would rebuild and why; exit 2 when any would (terraform's -detailed-exitcode)."""

from __future__ import annotations

from dataclasses import dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import ExitStatus


@dataclass(frozen=True)
class Plan(Result):
    entries: list  # bakery.plan.PlanEntry
    base_notes: tuple[str, ...] = ()  # what the last `bakery base status` of each base said

    def to_json(self):
        return [e.as_dict() for e in self.entries]

    def render(self, out, err):
        from bakery import plan

        for entry in self.entries:
            if entry.status == plan.WOULD_REVERIFY:  # `api-service: would re-verify: suite changed (…)`
                line(out, f"{entry.service}: {entry.status}: {', '.join(entry.changes)} ({entry.fingerprint[:12]})")
                continue
            line(out, f"{entry.service}: {entry.status} ({entry.fingerprint[:12]})")
            for change in entry.changes:
                line(out, f"    {change}")
        for note in self.base_notes:
            line(err, note)

    @property
    def exit_status(self) -> ExitStatus:
        from bakery import plan

        rebuild = any(e.status != plan.UP_TO_DATE for e in self.entries)
        return ExitStatus.WOULD_CHANGE if rebuild else ExitStatus.OK


def plan(app: AppContext, services: list[str], all_services: bool = False, target: str | None = None) -> Plan:
    from bakery import plan as planning

    project = app.load()
    target_impl = app.target(project, target)
    names = list(project.services) if all_services or not services else services
    for name in names:
        project.service(name)  # unknown names fail before any work
    return Plan(planning.plan_services(project, names, target_impl), base_notes(project, {project.service(n).base for n in names}))


def base_notes(project, names: set[str]) -> tuple[str, ...]:
    """One line per base whose last `bakery base status` (of the local base image there is now) found updates;
    no network, and no podman call for a base never checked."""
    from bakery import base as bases
    from bakery import basestatus

    notes = []
    for name in sorted(n for n in names if basestatus.status_path(project.state_dir(), n).is_file()):
        base = bases.find_base(project, name)
        status = basestatus.last_status(project.state_dir(), name, base.image_id) if base else None
        if status and status.updates:
            notes.append(f"{status.summary()} (checked {basestatus.age(status)})")
    return tuple(notes)
