"""An image's identity: a sha256 over the contents of everything that goes into it."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IGNORED_NAMES = {"__pycache__", ".git", ".pytest_cache", ".molecule", ".cache", ".bakery", ".venv"}
IGNORED_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".retry", ".swp")
SHORT_LENGTH = 12
ROLE_EXCLUDES = ("molecule", "tests")  # a role's own tests do not go into the image


@dataclass(frozen=True)
class Input:
    kind: str  # base, role, playbook, vars, variables, app, template, tool, target
    name: str
    digest: str
    parts: dict[str, str] | None = field(default=None, compare=False)  # per file / per variable, for explaining

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Fingerprint:
    digest: str
    inputs: tuple[Input, ...]

    @property
    def short(self) -> str:
        return self.digest[:SHORT_LENGTH]


def combine(inputs: list[Input]) -> Fingerprint:
    ordered = tuple(sorted(inputs, key=lambda i: i.key))
    h = hashlib.sha256()
    for item in ordered:
        h.update(f"{item.key}={item.digest}\n".encode())
    return Fingerprint(h.hexdigest(), ordered)


def value_digest(value: Any) -> str:
    """Digest of a JSON-able value, independent of key order."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(path: Path, exclude: tuple[str, ...] = ()) -> str:
    """Digest of a file or directory tree over relative paths, contents and the exec bit.

    Modification times, ownership and ignored build litter do not count; nor do the
    top-level entries named in exclude.
    """
    if path.is_file():
        return file_digest(path)
    h = hashlib.sha256()
    for relative, digest in tree_parts(path, exclude).items():
        h.update(f"{relative}\0{digest}\n".encode())
    return h.hexdigest()


def tree_parts(path: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Per-file digests (content and exec bit) of a tree, by relative path, in sorted order."""
    if path.is_file():
        return {path.name: file_digest(path)}
    parts = {}
    for relative, full in tree_files(path, exclude):
        executable = "x" if os.access(full, os.X_OK) else "-"
        parts[relative] = f"{executable}\0{file_digest(full)}"
    return parts


def tree_input(kind: str, name: str, path: Path, exclude: tuple[str, ...] = ()) -> Input:
    return Input(kind, name, tree_digest(path, exclude), tree_parts(path, exclude))


def values_input(kind: str, name: str, values: dict) -> Input:
    return Input(kind, name, value_digest(values), {k: value_digest(v) for k, v in sorted(values.items())})


def tree_files(root: Path, exclude: tuple[str, ...] = ()):
    """(relative path, full path) of every file in the tree, sorted, without ignored names."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        top = Path(dirpath) == root
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d) and not (top and d in exclude))
        for name in sorted(filenames):
            if not _ignored(name):
                full = Path(dirpath) / name
                yield full.relative_to(root).as_posix(), full


def _ignored(name: str) -> bool:
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)
