"""Progress of a bake per role and task: rich in a terminal, plain lines otherwise (stderr)."""

from __future__ import annotations

import sys
from collections import Counter

from rich.console import Console

from bakery.events import TaskEvent


class Reporter:
    """Plain-line progress; the base for the rich one."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.role: str | None = None
        self.counts: Counter = Counter()

    def info(self, message: str) -> None:
        print(message, file=self.stream, flush=True)

    def stage(self, name: str) -> None:
        self.info(f"==> {name}")

    def task_event(self, event: TaskEvent) -> None:
        if event.kind == "task_start":
            self._enter_role(event.role)
            self.info(f"    [{event.role or 'play'}] {event.task}")
            return
        self.counts[event.kind] += 1
        if event.is_failure:
            self.info(f"    FAILED: {event.where}: {event.message}")

    def end_roles(self) -> None:
        """Report the role in progress as done (at the end of a bake)."""
        self._enter_role(None)

    def finish(self) -> None:
        self.end_roles()

    def _enter_role(self, role: str | None) -> None:
        if role == self.role:
            return
        if self.role is not None:
            self.role_done(self.role, self.counts)
        self.role, self.counts = role, Counter()

    def role_done(self, role: str, counts: Counter) -> None:
        self.info(f"  role {role}: {counts['ok'] + counts['changed']} ok, {counts['changed']} changed")


class RichReporter(Reporter):
    def __init__(self):
        super().__init__()
        self.console = Console(stderr=True)
        self.status = self.console.status("starting")
        self.status.start()

    def info(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    def stage(self, name: str) -> None:
        self.console.print(f"[bold]==> {name}[/bold]")
        self.status.update(name)

    def task_event(self, event: TaskEvent) -> None:
        if event.kind == "task_start":
            self._enter_role(event.role)
            self.status.update(f"[cyan]{event.role or 'play'}[/cyan] › {event.task}")
            return
        self.counts[event.kind] += 1
        if event.is_failure:
            self.console.print(f"[red]  ✗ {event.where}: {event.message}[/red]", highlight=False)

    def role_done(self, role: str, counts: Counter) -> None:
        self.console.print(
            f"  [green]✓[/green] {role}: {counts['ok'] + counts['changed']} ok, {counts['changed']} changed",
            highlight=False,
        )

    def finish(self) -> None:
        super().finish()
        self.status.stop()


def make_reporter(quiet: bool = False) -> Reporter:
    if quiet:
        return Reporter(stream=_Null())
    return RichReporter() if sys.stderr.isatty() else Reporter()


class _Null:
    def write(self, _text):
        return 0

    def flush(self):
        pass
