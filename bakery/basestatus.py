"""Outdated bases: a base's installed packages against the mirror's current Packages indexes.

The indexes are the suite's, its -updates' and its -security's (main), as the base was bootstrapped
from (mmdebstrap's defaults, or the base's mirror). The last answer per base is kept in the state
directory, so `bakery plan` can mention it without reaching the mirror.
"""

from __future__ import annotations

import json
import lzma
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from bakery.config import Base
from bakery.errors import PrerequisiteError
from bakery.sbom import Package

DEFAULT_MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
FETCH_TIMEOUT_S = 120


@dataclass(frozen=True)
class BaseStatus:
    name: str
    ref: str
    image_id: str
    packages: int
    updates: dict  # name -> [installed, available]
    indexes: list
    checked_at: float

    def summary(self) -> str:
        if not self.updates:
            return f"base {self.name}: up to date with the mirror"
        return (f"base {self.name}: {len(self.updates)} package(s) have updates;"
                f" rebuild with bakery base build {self.name} --rebuild")


def index_urls(base: Base, arch: str) -> list[str]:
    mirror = (base.mirror or DEFAULT_MIRROR).rstrip("/")
    security = SECURITY_MIRROR if not base.mirror else mirror + "-security"
    dists = [(mirror, base.suite), (mirror, f"{base.suite}-updates"), (security, f"{base.suite}-security")]
    return [f"{url}/dists/{suite}/main/binary-{arch}/Packages.xz" for url, suite in dists]


def newest_versions(urls: list[str]) -> dict[str, str]:
    """Package -> its newest version over the indexes (python-debian's parser and version order)."""
    from debian.deb822 import Packages
    from debian.debian_support import Version

    newest: dict[str, str] = {}
    for url in urls:
        for entry in Packages.iter_paragraphs(_fetch(url), use_apt_pkg=False, fields=["Package", "Version"]):
            name, version = entry["Package"], entry["Version"]
            if name not in newest or Version(version) > Version(newest[name]):
                newest[name] = version
    return newest


def _fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
            data = response.read()
    except OSError as error:
        raise PrerequisiteError(f"the mirror's index {url} cannot be read: {error}",
                                hint="check the network or bases.<name>.mirror in bakery.yml") from None
    return lzma.decompress(data).decode("utf-8", errors="replace").splitlines(keepends=True)


def outdated(installed: dict[str, Package], newest: dict[str, str]) -> dict[str, list[str]]:
    from debian.debian_support import Version

    return {name: [p.version, newest[name]] for name, p in sorted(installed.items())
            if name in newest and Version(newest[name]) > Version(p.version)}


def architecture(installed: dict[str, Package]) -> str:
    return next((p.arch for p in installed.values() if p.arch != "all"), "amd64")


def status_path(state_dir: Path, name: str) -> Path:
    return state_dir / "bases" / f"{name}-status.json"


def record(state_dir: Path, status: BaseStatus) -> None:
    from bakery.state import write_json_atomic

    path = status_path(state_dir, status.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, asdict(status))


def last_status(state_dir: Path, name: str, image_id: str) -> BaseStatus | None:
    """The last `bakery base status` answer for this very base image, if any (no network)."""
    try:
        data = json.loads(status_path(state_dir, name).read_text())
        status = BaseStatus(**data)
    except (OSError, ValueError, TypeError):
        return None
    return status if status.image_id == image_id else None


def age(status: BaseStatus) -> str:
    hours = (time.time() - status.checked_at) / 3600
    return f"{hours:.0f} h ago" if hours >= 1 else "less than an hour ago"
