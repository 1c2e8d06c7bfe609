"""Built-in image hygiene checks, run on the image's filesystem before its first boot.

Every image gets them; a service can only waive one explicitly, with a reason, in bakery.yml.

Where the filesystem is mounted here (the local target's podman image), run_hygiene checks
it. Where it is mounted on another machine (an AMI's volume on the verification instance),
this module's own source is the program that machine runs (remote_program): it needs only
python3 (3.7 or newer) and grep there, so this module imports nothing outside the standard
library at the top, and its checks keep to what Python 3.7 understands.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HOME_GLOBS = ("root", "home/*")
REMOTE_GREP_TIMEOUT_S = 1500  # on a volume fresh from a snapshot every first read is slow


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
    from bakery import proc  # here, not at the top: the module's source also runs where bakery is not installed

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


# -- the checks on another machine -----------------------------------------------------------

def remote_program(secrets: list[str]) -> str:
    """A self-contained python3 program: `python3 - ROOT` prints every check's findings on ROOT as
    one JSON line. Send it on stdin: the secrets travel inside it, never in a command line."""
    packed = base64.b64encode(json.dumps([s for s in secrets if s]).encode()).decode()
    return (Path(__file__).read_text() + "\n\nif __name__ == '__main__':\n"
            f"    print_findings(sys.argv[1], json.loads(base64.b64decode('{packed}')))\n")


def print_findings(root: str, secrets: list[str]) -> None:
    """(On the machine where the image is mounted at root.) Findings per check, image paths, one JSON line."""
    findings = {name: check(Path(root)) for name, check in CHECKS.items()}
    findings[CANARY_CHECK] = ["/" + os.path.relpath(path, root) for path in _files_containing_any(secrets, root)]
    sys.stdout.write(json.dumps({"findings": findings}) + "\n")


def _files_containing_any(secrets: list[str], root: str) -> list[str]:
    """grep with the secrets as patterns on its stdin (-f -), so no secret shows in a process list."""
    if not secrets:
        return []
    found = subprocess.run(["grep", "-rlsF", "--no-messages", "-f", "-", "--", root], input="\n".join(secrets),
                           stdout=subprocess.PIPE, universal_newlines=True, timeout=REMOTE_GREP_TIMEOUT_S, check=False)
    return sorted(found.stdout.splitlines())


def results_from_remote(printed: str, waivers: dict[str, str], secrets: list[str],
                        extra_roots: list[Path]) -> list[HygieneResult]:
    """The results, as run_hygiene gives them, from what remote_program printed; the secrets are
    also searched for here, in extra_roots (the bake's run dirs)."""
    findings = _printed_findings(printed)
    results = [_result(name, list(findings[name]), waivers) for name in CHECKS]
    leaks = list(findings[CANARY_CHECK]) + [path for secret in secrets for path in files_containing(secret, *extra_roots)]
    results.append(_result(CANARY_CHECK, leaks, waivers))
    return results


def _printed_findings(printed: str) -> dict[str, list[str]]:
    from bakery.errors import BakeryError  # see files_containing

    lines = printed.strip().splitlines()
    try:
        findings = json.loads(lines[-1])["findings"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise BakeryError(f"the hygiene program printed no findings: '{printed.strip()[-200:]}'") from None
    missing = [name for name in CHECK_NAMES if not isinstance(findings.get(name), list)]
    if missing:
        raise BakeryError(f"the hygiene program printed no findings for {', '.join(missing)}")
    return findings

