"""Built-in image hygiene checks, run on the image's filesystem before its first boot.

Every image gets them; a service can only waive one explicitly, with a reason, in bakery.yml.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bakery import proc

HOME_GLOBS = ("root", "home/*")


@dataclass(frozen=True)
class HygieneResult:
    check: str
    passed: bool
    findings: tuple[str, ...]
    waived: str | None = None  # the waiver's reason

    @property
    def ok(self) -> bool:
        return self.passed or self.waived is not None


def _existing(root: Path, patterns: list[str]) -> list[str]:
    return sorted("/" + str(p.relative_to(root)) for pattern in patterns for p in root.glob(pattern))


def _homes(suffixes: list[str]) -> list[str]:
    return [f"{home}/{suffix}" for home in HOME_GLOBS for suffix in suffixes]


def ssh_host_keys(root: Path) -> list[str]:
    return _existing(root, ["etc/ssh/ssh_host_*"])


def machine_id(root: Path) -> list[str]:
    path = root / "etc/machine-id"
    stale = [p for p in (path, root / "var/lib/dbus/machine-id") if p.is_file() and p.stat().st_size > 0]
    return ["/" + str(p.relative_to(root)) + " is not empty" for p in stale]


def authorized_keys(root: Path) -> list[str]:
    return _existing(root, _homes([".ssh/authorized_keys", ".ssh/authorized_keys2"]))


def ansible_tmp(root: Path) -> list[str]:
    return _existing(root, _homes([".ansible"]) + ["tmp/.ansible*", "tmp/ansible*", "var/tmp/.ansible*"])


def apt_lists(root: Path) -> list[str]:
    lists = root / "var/lib/apt/lists"
    return _existing(root, ["var/lib/apt/lists/*"]) if lists.is_dir() and _has_index(lists) else []


def _has_index(lists: Path) -> bool:
    return any(p.is_file() and p.name != "lock" for p in lists.iterdir())


def apt_cache(root: Path) -> list[str]:
    return _existing(root, ["var/cache/apt/*.bin", "var/cache/apt/archives/*.deb"])


def shell_history(root: Path) -> list[str]:
    names = [".bash_history", ".zsh_history", ".python_history", ".lesshst", ".viminfo", ".mysql_history"]
    return _existing(root, _homes(names))


CHECKS: dict[str, Callable[[Path], list[str]]] = {
    "ssh-host-keys": ssh_host_keys,
    "machine-id": machine_id,
    "authorized-keys": authorized_keys,
    "ansible-tmp": ansible_tmp,
    "apt-lists": apt_lists,
    "apt-cache": apt_cache,
    "shell-history": shell_history,
}
CANARY_CHECK = "canary-secret"  # a leaked secret is never acceptable: it cannot be waived
CHECK_NAMES = (*CHECKS, CANARY_CHECK)
WAIVABLE_CHECKS = tuple(CHECKS)


def files_containing(secret: str, *roots: Path) -> list[str]:
    """Every file under roots whose bytes contain secret (grep, so binary files count too)."""
    existing = [str(r) for r in roots if r.exists()]
    if not secret or not existing:
        return []
    result = proc.run(["grep", "-rlsF", "--no-messages", "-e", secret, "--", *existing], check=False, timeout=300)
    return sorted(result.stdout.splitlines())


def run_hygiene(root: Path, waivers: dict[str, str], secrets: list[str], extra_roots: list[Path]) -> list[HygieneResult]:
    results = [_result(name, check(root), waivers) for name, check in CHECKS.items()]
    leaks = [path for secret in secrets for path in files_containing(secret, root, *extra_roots)]
    results.append(_result(CANARY_CHECK, leaks, waivers))
    return results


def _result(name: str, findings: list[str], waivers: dict[str, str]) -> HygieneResult:
    return HygieneResult(name, not findings, tuple(findings[:20]), waivers.get(name) if findings else None)
