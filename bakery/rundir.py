"""A run directory per run: .bakery/runs/<run-id>/ with inputs, logs, events, manifest, state."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bakery.errors import BakeryError, ExitStatus

from bakery.state import StateDir, new_run_id, write_json_atomic

__all__ = ["RunDir", "new_run_id"]


@dataclass(frozen=True)
class RunDir:
    run_id: str
    path: Path

    @classmethod
    def create(cls, state_dir: Path, kind: str) -> RunDir:
        run_id = new_run_id()
        path = StateDir(state_dir).run(run_id)
        path.mkdir(parents=True)
        run = cls(run_id, path)
        run.write_json("run.json", {"run_id": run_id, "kind": kind, "pid": os.getpid(), "started": time.time()})
        return run

    @property
    def packer_log(self) -> Path:
        return self.path / "packer.log"

    @property
    def ansible_dir(self) -> Path:
        return self.path / "ansible"

    @property
    def events_dir(self) -> Path:
        return self.ansible_dir / "job_events"

    @property
    def inputs_dir(self) -> Path:
        return self.path / "inputs"

    @property
    def manifest(self) -> Path:
        return self.path / "manifest.json"

    def write_json(self, name: str, data) -> Path:
        return write_json_atomic(self.path / name, data)

    @contextlib.contextmanager
    def recording(self, *, finish: bool = True) -> Iterator[RunDir]:
        """Run the body, then write result.json with its status and exit code (a run without one is in progress).

        With finish=False only a failure is written here; the caller finishes a body that returned.
        """
        try:
            yield self
        except BaseException as exc:
            self.finish(exit_status_of(exc), str(exc) or type(exc).__name__)
            raise
        if finish:
            self.finish(ExitStatus.OK)

    def finish(self, exit_status: ExitStatus, error: str | None = None) -> None:
        status = "ok" if exit_status == ExitStatus.OK else "interrupted" if exit_status == ExitStatus.INTERRUPTED else "failed"
        self.write_json("result.json", {"status": status, "exit_code": int(exit_status), "error": error,
                                        "finished": time.time()})

    def read_json(self, name: str):
        return json.loads((self.path / name).read_text())

    def record_stage(self, stage: str, status: str, **details) -> None:
        """Append a stage's outcome to state.json, so a run can be explained afterwards."""
        state_file = self.path / "state.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else {"stages": []}
        state["stages"].append({"stage": stage, "status": status, "at": time.time(), **details})
        self.write_json("state.json", state)

    def relative(self, cwd: Path | None = None) -> str:
        try:
            return str(self.path.relative_to(cwd or Path.cwd()))
        except ValueError:
            return str(self.path)


def exit_status_of(exc: BaseException) -> ExitStatus:
    if isinstance(exc, BakeryError):
        return exc.exit_status
    return ExitStatus.INTERRUPTED if isinstance(exc, KeyboardInterrupt) else ExitStatus.ERROR
