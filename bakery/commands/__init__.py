"""Commands as functions: each takes typed options and an AppContext and returns a Result.

A Result has one human rendering (render: stdout and stderr lines) and one JSON rendering
(to_json); the CLI only parses arguments, calls the command and shows its result. After
rendering, raise_for_status raises the command's typed error (a failed build among many, a
failed check), so a partial report is always printed before the exit code says it failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bakery.errors import ExitStatus

if TYPE_CHECKING:
    from bakery.config import Project
    from bakery.targets import Target


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass(frozen=True)
class AppContext:
    """What every command gets from the global options: the project, --debug, the aws flags, a progress log."""

    project_dir: Path = Path(".")
    debug: bool = False
    aws: dict = field(default_factory=dict)  # --region/--profile/--endpoint-url: options of the aws target
    log: Callable[[str], None] = log_to_stderr
    registry: str | None = None  # --registry: HOST[:PORT]/PATH (else BAKERY_REGISTRY, else registry.url)

    def load(self) -> Project:
        from bakery import config

        return config.load_project(self.project_dir)

    def target_name(self, project: Project, name: str | None) -> str:
        return name or project.build.target

    def target(self, project: Project, name: str | None = None) -> Target:
        """The target by name (default: build.target in bakery.yml), bound to the project and the aws flags."""
        from bakery.targets import get_target

        return get_target(self.target_name(project, name), project, **self.aws)

    def aws_connection(self, project: Project):
        """A boto3 connection for the aws target's own commands (promote, gc, deployment records)."""
        from bakery.aws.session import connect

        return connect(project.aws, **self.aws)

    def global_args(self) -> list[str]:
        """The global flags again (aws, --registry), for child bakery processes."""
        aws = [a for key, value in self.aws.items() if value for a in (f"--{key.replace('_', '-')}", value)]
        return [*aws, *(["--registry", self.registry] if self.registry else [])]


class Result:
    """A command's outcome: one human rendering, one JSON rendering, an exit status."""

    def to_json(self) -> object:
        raise NotImplementedError

    def json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True, default=str)

    def render(self, out: TextIO, err: TextIO) -> None:
        """The human rendering: results on out, summaries on err."""

    def raise_for_status(self) -> None:
        """Raise the command's typed error after the report was shown (default: none)."""

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.OK


def finish_run(run, result: Result) -> Result:
    """Write the run's result.json with the outcome result will exit with (its error, else its status)."""
    from bakery.errors import BakeryError

    try:
        result.raise_for_status()
    except BakeryError as exc:
        run.finish(exc.exit_status, exc.one_line())
    else:
        run.finish(result.exit_status)
    return result


def line(stream: TextIO, text: str = "") -> None:
    print(text, file=stream)
