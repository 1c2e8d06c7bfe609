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
