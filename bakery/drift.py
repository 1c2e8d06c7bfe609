"""Drift: what changed in a running local replica against its image (`podman diff`).

A booted replica changes some paths by itself (its runtime state, first-boot host keys, logs):
RUNTIME_PATHS and the service's deploy.runtime_paths are ignored. A directory that is only
listed because something under it changed is not named again.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass

from bakery import podman

RUNTIME_PATHS = (
    "/run", "/tmp", "/var/tmp", "/var/log", "/var/cache", "/var/lib/systemd", "/var/lib/private",
    "/etc/machine-id", "/etc/.pwd.lock", "/etc/ssh/ssh_host_*",  # made at first boot (the image is sealed)
    "/etc/hostname", "/etc/hosts", "/etc/resolv.conf",  # podman writes them into every container
)


@dataclass(frozen=True)
class ReplicaDrift:
    replica: str
    added: list[str]
    changed: list[str]
    deleted: list[str]

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.changed or self.deleted)


def ignored(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


def container_diff(name: str, runtime_paths: list[str]) -> ReplicaDrift:
    """The changes of one container against its image, runtime paths left out."""
    raw = json.loads(podman.podman("diff", "--format", "json", name).stdout or "{}")
    patterns = [*RUNTIME_PATHS, *runtime_paths]
    every = [p for kind in ("added", "changed", "deleted") for p in raw.get(kind) or []]
    kept = {kind: sorted(p for p in raw.get(kind) or [] if not ignored(p, patterns)
                         and not (kind == "changed" and _is_parent(p, every)))
            for kind in ("added", "changed", "deleted")}
    return ReplicaDrift(name, kept["added"], kept["changed"], kept["deleted"])


def _is_parent(path: str, paths: list[str]) -> bool:
    prefix = path.rstrip("/") + "/"
    return any(p.startswith(prefix) for p in paths)
