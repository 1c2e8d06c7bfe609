"""Ansible's structured event stream (ansible-runner's job_events/*.json), read as it is written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


RESULT_KINDS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass(frozen=True)
class TaskEvent:
    kind: str  # task_start, ok, changed, failed, unreachable, skipped
    role: str | None
    task: str
    host: str | None = None
    message: str = ""
    ignored: bool = False

    @property
    def is_failure(self) -> bool:
        return self.kind in ("failed", "unreachable") and not self.ignored

    @property
    def where(self) -> str:
        return f"role '{self.role}' task '{self.task}'" if self.role else f"task '{self.task}'"


def callback_env(artifact_dir: Path) -> dict[str, str]:
    """Environment that makes ansible-playbook write its events into artifact_dir/job_events."""
    import ansible_runner.display_callback.callback as runner_callbacks  # only a bake needs it (0.03 s)

    (artifact_dir / "job_events").mkdir(parents=True, exist_ok=True)
    return {
        "ANSIBLE_CALLBACK_PLUGINS": str(Path(runner_callbacks.__file__).parent),
        "ANSIBLE_STDOUT_CALLBACK": "awx_display",
        "AWX_ISOLATED_DATA_DIR": str(artifact_dir),
        "RUNNER_OMIT_EVENTS": "False",
    }


class EventReader:
    """Yields each event file once, in creation order."""

    def __init__(self, events_dir: Path):
        self.events_dir = events_dir
        self._seen: set[str] = set()

    def poll(self) -> list[TaskEvent]:
        fresh = [p for p in sorted(self.events_dir.glob("*-partial.json")) if p.name not in self._seen]
        raw = [r for r in (load_event(p) for p in fresh) if r is not None]
        self._seen.update(p.name for p in fresh)
        raw.sort(key=lambda e: e.get("created", ""))
        return [e for e in map(to_task_event, raw) if e is not None]


def load_event(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def to_task_event(raw: dict) -> TaskEvent | None:
    data = raw.get("event_data", {})
    name = raw.get("event")
    if name == "playbook_on_task_start":
        return TaskEvent("task_start", data.get("role"), data.get("task", ""))
    if name not in RESULT_KINDS:
        return None
    res = data.get("res") or {}
    kind = RESULT_KINDS[name]
    if kind == "ok" and res.get("changed"):
        kind = "changed"
    return TaskEvent(
        kind,
        data.get("role"),
        data.get("task", ""),
        data.get("host"),
        failure_message(res) if kind in ("failed", "unreachable") else "",
        bool(data.get("ignore_errors")),
    )


def failure_message(res: dict) -> str:
    text = res.get("msg") or res.get("stderr") or res.get("module_stderr") or ""
    if not text and res.get("results"):
        failed = [r for r in res["results"] if r.get("failed")]
        text = failed[0].get("msg", "") if failed else ""
    lines = [ln for ln in str(text).strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no message"
