"""A run is an ordered list of named stages; each outcome is recorded in the run's state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bakery.errors import BakeryError, ConfigError


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[Any], None]
    optional: bool = False  # later stages do not depend on it, so it may be skipped


def select_stages(stages: Sequence[Stage], *, skip: Sequence[str] = (), until: str | None = None) -> list[Stage]:
    names = [s.name for s in stages]
    for name in [*skip, *([until] if until else [])]:
        if name not in names:
            raise ConfigError(f"unknown stage '{name}'", hint=f"stages: {', '.join(names)}")
    required = [name for name in skip if not next(s for s in stages if s.name == name).optional]
    if required:
        optional = ", ".join(s.name for s in stages if s.optional)
        raise ConfigError(f"stage '{required[0]}' cannot be skipped", hint=f"skippable: {optional}")
    chosen = list(stages[: names.index(until) + 1] if until else stages)
    return [s for s in chosen if s.name not in skip]


def run_stages(stages: Sequence[Stage], ctx) -> None:
    """Run stages in order; record each as ok or failed in ctx.run's state."""
    for stage in stages:
        ctx.reporter.stage(stage.name)
        try:
            stage.run(ctx)
        except BakeryError as exc:
            ctx.run.record_stage(stage.name, "failed", error=exc.one_line())
            raise
        except BaseException as exc:
            ctx.run.record_stage(stage.name, "failed", error=type(exc).__name__)
            raise
        ctx.run.record_stage(stage.name, "ok")
