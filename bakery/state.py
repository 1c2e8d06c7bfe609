"""The one owner of `.bakery/`: every path under it, the run-id format, the atomic JSON write.

    .bakery/
      runs/<run-id>/          one directory per run (bakery.rundir.RunDir)
      locks/<name>.lock       named file locks (bakery.locks)
      deployments/<service>/<env>.json, deployments/history.jsonl
      lb/<service>-<env>/     the local load balancer of one environment: haproxy.cfg, haproxy.pid, admin.sock
      quarantine/<image id>   images untagged after they leaked a secret (gc removes them first)
      bases/                  base bootstrap logs
      tmp/                    scratch space of base bootstraps

A run id is <UTC start, %Y%m%dT%H%M%SZ>-<6 hex digits>: it sorts by start time and says when the
run started without reading anything.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

STATE_DIR_NAME = ".bakery"
RUN_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def new_run_id(now: datetime | None = None) -> str:
    return f"{(now or datetime.now(UTC)):{RUN_ID_TIME_FORMAT}}-{secrets.token_hex(3)}"


def parse_run_id(run_id: str) -> float | None:
    """When the run started (epoch seconds), from its id; None for an id bakery did not make."""
    try:
        return datetime.strptime(run_id.split("-", 1)[0], RUN_ID_TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def write_json_atomic(path: Path, data) -> Path:
    """Write data as indented, key-sorted JSON, atomically: readers see the old file or the new one."""
    return write_bytes_atomic(path, (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write data to path atomically (a temp file beside it, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:  # e.g. a full disk: no half-written temp file left, and the error names the file
        tmp.unlink(missing_ok=True)
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    return path


@dataclass(frozen=True)
class StateDir:
    """A project's .bakery directory; nothing else builds paths under it."""

    path: Path

    @classmethod
    def of_project(cls, root: Path) -> StateDir:
        return cls(root / STATE_DIR_NAME)

    @classmethod
    def of_run(cls, run_path: Path) -> StateDir:
        """The state dir a run directory (<state>/runs/<run-id>) belongs to."""
        return cls(run_path.resolve().parent.parent)

    @property
    def project_root(self) -> Path:
        return self.path.parent

    @property
    def runs(self) -> Path:
        return self.path / "runs"

    def run(self, run_id: str) -> Path:
        return self.runs / run_id

    @property
    def locks(self) -> Path:
        return self.path / "locks"

    def lock(self, name: str) -> Path:
        return self.locks / f"{name}.lock"

    @property
    def deployments(self) -> Path:
        return self.path / "deployments"

    def deployment(self, service: str, env: str) -> Path:
        return self.deployments / service / f"{env}.json"

    @property
    def deployment_history(self) -> Path:
        return self.deployments / "history.jsonl"

    def balancer(self, service: str, env: str) -> Path:
        return self.path / "lb" / f"{service}-{env}"

    @property
    def quarantine(self) -> Path:
        return self.path / "quarantine"

    @property
    def bases(self) -> Path:
        return self.path / "bases"

    @property
    def tmp(self) -> Path:
        return self.path / "tmp"
