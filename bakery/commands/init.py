"""`bakery init [DIR]`: a minimal project that bakes, seals and verifies as generated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bakery.commands import AppContext, Result, line


@dataclass(frozen=True)
class Initialized(Result):
    created: object  # bakery.init.InitResult

    def to_json(self):
        return self.created.as_dict()

    def render(self, out, err):
        line(err, self.created.human())


def init(app: AppContext, directory: Path | None, service: str) -> Initialized:
    from bakery.init import init_project

    return Initialized(init_project(directory or app.project_dir, service))
