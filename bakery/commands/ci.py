"""`bakery ci matrix`: the services that would rebuild or re-verify, as a CI fan-out (bakery.ci)."""

from __future__ import annotations

from dataclasses import dataclass

from bakery.commands import AppContext, Result
from bakery.errors import ConfigError


@dataclass(frozen=True)
class Matrix(Result):
    entries: list  # bakery.plan.PlanEntry of the services that would change
    format: str  # github | gitlab
    target: str

    @property
    def services(self) -> list[str]:
        return [e.service for e in self.entries]

    def to_json(self):
        return {"format": self.format, "target": self.target, "services": self.services,
                "plan": [e.as_dict() for e in self.entries]}

    def render(self, out, err):
        from bakery import ci

        out.write(ci.render(self.services, self.format, self.target).rstrip("\n") + "\n")


def matrix(app: AppContext, services: list[str], all_services: bool = False, fmt: str = "github",
           target: str | None = None) -> Matrix:
    from bakery import ci, plan

    if fmt not in ci.FORMATS:  # the CLI offers only these
        raise ConfigError(f"unknown CI format '{fmt}'", hint=f"use one of: {', '.join(ci.FORMATS)}")
    project = app.load()
    names = list(project.services) if all_services or not services else services
    for name in names:
        project.service(name)  # unknown names fail before any work
    target_impl = app.target(project, target)
    changing = [e for e in plan.plan_services(project, names, target_impl) if e.status != plan.UP_TO_DATE]
    return Matrix(changing, fmt, target_impl.name)
