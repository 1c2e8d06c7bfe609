"""`bakery doctor`: every prerequisite, checked, with how to fix what is missing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

from bakery import packer, proc
from bakery.config import CONFIG_NAME
from bakery.errors import BakeryError

MIN_FREE_BYTES = 5 * 1024**3
REPO_HINT = "in bakery's repository, ./run true installs everything"
# Debian packages of the tools bakery runs (DESIGN.md: Components)
APT_PACKAGES = {"podman": "podman", "runc": "runc", "packer": "packer", "mmdebstrap": "mmdebstrap",
                "ssh": "openssh-client", "git": "git", "skopeo": "skopeo", "haproxy": "haproxy"}
# Python distributions bakery needs at run time (pyproject.toml dependencies), by what they give
PYTHON_PACKAGES = {"ansible-core": "ansible", "ansible-runner": "ansible-runner", "pytest": "pytest",
                   "pytest-testinfra": "pytest-testinfra", "molecule": "molecule",
                   "molecule-plugins": "molecule-plugins[podman]"}


def apt_hint(*tools: str) -> str:
    return f"sudo apt-get install {' '.join(APT_PACKAGES[t] for t in tools)} ({REPO_HINT})"


def pip_hint(distribution: str) -> str:
    return f"reinstall bakery (pip install bakery / pipx install bakery brings {PYTHON_PACKAGES[distribution]})"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_podman() -> Check:
    result = _try(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Version.Version}}"])
    if result is None or not result.ok:
        return Check("podman", False, _why(result), apt_hint("podman", "runc"))
    runtime, version = (result.stdout.split() + ["?", "?"])[:2]
    if runtime != "runc":
        return Check("podman", False, f"runtime is {runtime}", f"unset CONTAINERS_CONF or set it to {proc.containers_conf()}")
    return Check("podman", True, f"podman {version}, runtime runc")


def check_packer() -> Check:
    if shutil.which("packer") is None:
        return Check("packer", False, "not on PATH", apt_hint("packer"))
    try:
        return Check("packer", True, f"Packer {packer.version_string()}")
    except BakeryError as exc:
        return Check("packer", False, exc.message, exc.hint or apt_hint("packer"))


def check_python_packages() -> Check:
    """bakery's run-time Python packages (a `pip install` without them would fail later, in verify or test-roles)."""
    found, missing = [], []
    for distribution in PYTHON_PACKAGES:
        try:
            found.append(f"{distribution} {package_version(distribution)}")
        except PackageNotFoundError:
            missing.append(distribution)
    if missing:
        return Check("python", False, f"missing: {', '.join(missing)}", pip_hint(missing[0]))
    return Check("python", True, ", ".join(found[:3]) + f" and {len(found) - 3} more")


def check_tool(name: str, needed_for: str = "") -> Callable[[], Check]:
    """A tool on PATH. With needed_for, a tool only some commands run: missing is reported, never a
    failure (those commands say so themselves)."""
    def check() -> Check:
        path = shutil.which(name)
        if path:
            return Check(name, True, path)
        if needed_for:
            return Check(name, True, f"not on PATH (needed only for {needed_for}; {apt_hint(name)})")
        return Check(name, False, "not on PATH", apt_hint(name))
    return check


def check_disk(path: Path) -> Callable[[], Check]:
    def check() -> Check:
        free = shutil.disk_usage(path).free
        detail = f"{free / 1024**3:.1f} GiB free at {path}"
        if free < MIN_FREE_BYTES:
            return Check("disk", False, detail, "free space: podman image prune, podman rmi old localhost/bakery/* images")
        return Check("disk", True, detail)
    return check


def check_orphans(project_root: Path) -> Callable[[], Check]:
    """What dead runs of the project left (the list `bakery gc --orphans` removes). Reported, never a failure."""
    def check() -> Check:
        from bakery import config, gc
        try:
            found = gc.plan_local_orphans(config.load_project(project_root))
        except BakeryError as exc:
            return Check("orphans", True, f"not checked: {exc.message}")
        if not found:
            return Check("orphans", True, "none left by dead runs")
        listed = "; ".join(f"{a.kind} {a.ref}" for a in found)
        return Check("orphans", True, f"{len(found)} left by dead runs (remove: bakery gc --orphans): {listed}")
    return check


def run_checks(project_root: Path) -> list[Check]:
    checks = [check_podman, check_tool("runc"), check_packer, check_python_packages, check_tool("mmdebstrap"),
              check_tool("ssh"), check_tool("skopeo", "a registry: publish, reuse, deploy by digest"),
              check_tool("haproxy", "local deploys: the balancer of each service and environment"),
              check_disk(project_root)]
    if (project_root / CONFIG_NAME).is_file():
        checks.append(check_orphans(project_root))
    return [c() for c in checks]


def _try(argv: list[str]) -> proc.CommandResult | None:
    try:
        return proc.run(argv, check=False, timeout=60)
    except BakeryError:
        return None


def _why(result: proc.CommandResult | None) -> str:
    return "not installed" if result is None else result.tail(1)
