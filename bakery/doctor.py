"""`bakery doctor`: every prerequisite, checked, with how to fix what is missing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from bakery import packer, proc
from bakery.errors import BakeryError

MIN_FREE_BYTES = 5 * 1024**3
SETUP_HINT = "run ./run true (installs podman, runc, packer, mmdebstrap, haproxy and the Python deps)"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_podman() -> Check:
    result = _try(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Version.Version}}"])
    if result is None or not result.ok:
        return Check("podman", False, _why(result), SETUP_HINT)
    runtime, version = (result.stdout.split() + ["?", "?"])[:2]
    if runtime != "runc":
        return Check("podman", False, f"runtime is {runtime}", "set CONTAINERS_CONF to bakery's containers.conf")
    return Check("podman", True, f"podman {version}, runtime runc")


def check_packer() -> Check:
    try:
        return Check("packer", True, f"Packer {packer.version_string()}")
    except BakeryError as exc:
        return Check("packer", False, exc.message, SETUP_HINT)


def check_ansible() -> Check:
    try:
        return Check("ansible", True, f"ansible-core {package_version('ansible-core')}")
    except PackageNotFoundError:
        return Check("ansible", False, "ansible-core not installed", SETUP_HINT)


def check_tool(name: str) -> Callable[[], Check]:
    def check() -> Check:
        path = shutil.which(name)
        return Check(name, True, path) if path else Check(name, False, "not on PATH", SETUP_HINT)
    return check


def check_disk(path: Path) -> Callable[[], Check]:
    def check() -> Check:
        free = shutil.disk_usage(path).free
        detail = f"{free / 1024**3:.1f} GiB free at {path}"
        if free < MIN_FREE_BYTES:
            return Check("disk", False, detail, "free space: podman image prune, podman rmi old localhost/bakery/* images")
        return Check("disk", True, detail)
    return check


def run_checks(project_root: Path) -> list[Check]:
    checks = [check_podman, check_tool("runc"), check_packer, check_ansible, check_tool("mmdebstrap"),
              check_tool("haproxy"), check_disk(project_root)]
    return [c() for c in checks]


def _try(argv: list[str]) -> proc.CommandResult | None:
    try:
        return proc.run(argv, check=False, timeout=60)
    except BakeryError:
        return None


def _why(result: proc.CommandResult | None) -> str:
    return "not installed" if result is None else result.tail(1)
