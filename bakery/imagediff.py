"""What changed between two images: their Debian packages (dpkg status) and a summary of their files.

Both images are mounted read-only at once (the local target's image_root). Files are compared by
type, size, mode, owner and modification time (not content: a summary, not a proof).
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from bakery.sbom import Package, installed_packages

SHOWN_PATHS = 20
# Written at every bake whatever the roles do: not a change worth naming.
VOLATILE = ("var/lib/dpkg/", "var/cache/", "var/log/", "etc/ld.so.cache", "var/lib/apt/", "etc/machine-id")


@dataclass(frozen=True)
class PackageDiff:
    added: dict[str, str] = field(default_factory=dict)  # name -> version
    removed: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (old, new)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        return ([f"+ {n} {v}" for n, v in self.added.items()] + [f"- {n} {v}" for n, v in self.removed.items()]
                + [f"~ {n} {a} -> {b}" for n, (a, b) in self.changed.items()])


@dataclass(frozen=True)
class FileDiff:
    added: int
    removed: int
    changed: int
    paths: list[str]  # the first SHOWN_PATHS, each with +, - or ~


def package_diff(old: dict[str, Package], new: dict[str, Package]) -> PackageDiff:
    return PackageDiff(
        {n: new[n].version for n in sorted(new.keys() - old.keys())},
        {n: old[n].version for n in sorted(old.keys() - new.keys())},
        {n: (old[n].version, new[n].version) for n in sorted(old.keys() & new.keys())
         if old[n].version != new[n].version},
    )


def file_index(root: Path) -> dict[str, tuple]:
    """relative path -> (type and mode, size, owner, mtime) of every file under root."""
    index = {}
    for directory, dirs, files in os.walk(root):
        for name in files + dirs:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            size = st.st_size if not os.path.isdir(path) or os.path.islink(path) else 0
            index[os.path.relpath(path, root)] = (st.st_mode, size, st.st_uid, st.st_gid, int(st.st_mtime))
    return index


def file_diff(old: dict[str, tuple], new: dict[str, tuple]) -> FileDiff:
    keep = lambda paths: sorted(p for p in paths if not p.startswith(VOLATILE))  # noqa: E731
    added, removed = keep(new.keys() - old.keys()), keep(old.keys() - new.keys())
    changed = keep(p for p in old.keys() & new.keys() if old[p] != new[p] and not stat.S_ISDIR(new[p][0]))
    shown = [f"+ /{p}" for p in added] + [f"- /{p}" for p in removed] + [f"~ /{p}" for p in changed]
    return FileDiff(len(added), len(removed), len(changed), shown[:SHOWN_PATHS])


def diff_images(target, old, new, *, files: bool = True) -> tuple[PackageDiff, FileDiff | None]:
    """The package diff (and the file summary) from old's to new's image (ImageRecords)."""
    with contextlib.ExitStack() as stack:
        old_root, new_root = (stack.enter_context(target.image_root(i)) for i in (old, new))
        packages = package_diff(installed_packages(old_root), installed_packages(new_root))
        return packages, file_diff(file_index(old_root), file_index(new_root)) if files else None
