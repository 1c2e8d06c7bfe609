"""Helpers shared by unit and integration tests (real podman, real bakery processes)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bakery import proc

REPO = Path(__file__).resolve().parents[1]
FIXTURE_PROJECT = REPO / "tests" / "fixtures" / "project"


@dataclass(frozen=True)
class CliResult:
    rc: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def copy_fixture_project(dest: Path) -> Path:
    """The tiny fixture project (it bakes with bakery's bundled Packer template), in dest."""
    shutil.copytree(FIXTURE_PROJECT, dest, dirs_exist_ok=True)
    return dest


EXAMPLE_PARTS = ["bakery.yml", "roles", "playbooks", "app", "terraform", "tests/images", "tests/shared_checks"]


def copy_example_project(dest: Path) -> Path:
    """A copy of the repo's example project (its own .bakery state, files free to edit)."""
    for part in EXAMPLE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".molecule"))
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / part)
    return dest


def podman_json(*args: str):
    return json.loads(proc.run(["podman", *args, "--format", "json"]).stdout or "[]")


def container_ids() -> set[str]:
    """Every container bakery made (build, verify, replicas carry a bakery.run-id label)."""
    return {c["Id"] for c in podman_json("ps", "-a", "--filter", "label=bakery.run-id")}


def image_labels(ref: str) -> dict:
    return podman_json("image", "inspect", ref)[0]["Config"]["Labels"]


def bakery_process(*args: str, cwd: Path) -> subprocess.Popen:
    """The real bakery executable as a separate process (for signals)."""
    return subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "bakery"), *args],
        cwd=cwd, env=proc.tool_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args:
            found.append(args)
    return found


def free_port() -> int:
    """A 127.0.0.1 port nobody listens on now (for a test's balancer endpoint)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RequestLoop:
    """A bounded loop of GET requests at a fixed rate (a thread), counting answers, failures and latencies.

        with RequestLoop("http://127.0.0.1:8081/healthz", rate=20) as loop:
            ...  # a rollout
        loop.failures  # non-200 answers and connection errors, one line each
    """

    def __init__(self, url: str, rate: float = 20.0, limit: int = 6000):
        import threading

        self.url, self.interval, self.limit = url, 1.0 / rate, limit
        self.sent = 0
        self.failures: list[str] = []
        self.latencies_s: list[float] = []
        self.versions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import time

        next_at = time.monotonic()
        while not self._stop.is_set() and self.sent < self.limit:
            self._one()
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _one(self) -> None:
        import time
        import urllib.error
        import urllib.request

        self.sent += 1
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.url, timeout=5) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            self.failures.append(f"HTTP {exc.code}")
        except OSError as exc:
            self.failures.append(f"connection error: {getattr(exc, 'reason', exc)}")
        else:
            self.latencies_s.append(time.monotonic() - started)
            self.versions.append(str(json.loads(body).get("version", "")))

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile (0-100) of the successful requests' latency, in ms."""
        ordered = sorted(self.latencies_s)
        if not ordered:
            return float("nan")
        return 1000 * ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
