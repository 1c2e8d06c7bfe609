"""`bakery config schema` and `bakery config check`."""

from __future__ import annotations

from dataclasses import dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import BakeryError


@dataclass(frozen=True)
class Schema(Result):
    schema: dict

    def to_json(self):
        return self.schema

    def render(self, out, err):
        line(out, self.json_text())  # the schema is JSON either way


@dataclass(frozen=True)
class Checked(Result):
    roles: dict[str, list[str]]  # service -> its roles, in order, up to the first service that does not resolve
    error: BakeryError | None = None  # raised after the services that resolved are listed

    def to_json(self):
        return self.roles

    def render(self, out, err):
        for name, roles in self.roles.items():
            line(out, f"{name}: {len(roles)} roles ({', '.join(roles)})")

    def raise_for_status(self):
        if self.error is not None:
            raise self.error


def config_schema(app: AppContext) -> Schema:
    from bakery import config

    return Schema(config.json_schema())


def config_check(app: AppContext) -> Checked:
    """Validate bakery.yml and resolve every service's playbook and roles."""
    from bakery.inputs import resolve_service_playbook

    project = app.load()
    roles: dict[str, list[str]] = {}
    for name in project.services:
        try:
            roles[name] = list(resolve_service_playbook(project, name).roles)
        except BakeryError as exc:
            return Checked(roles, exc)
    return Checked(roles)
