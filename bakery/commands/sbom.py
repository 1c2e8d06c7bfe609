"""`bakery sbom SERVICE`: the SBOM of an image, as its verification recorded it or made now."""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bakery.commands import AppContext, Result
from bakery.commands.verify import pick_image
from bakery.errors import ConfigError


@dataclass(frozen=True)
class Sbom(Result):
    image: str
    format: str
    source: str  # "verification <run id>" or "made now"
    document: dict

    def to_json(self):
        return self.document

    def render(self, out, err):
        print(json.dumps(self.document, indent=2), file=out)
        print(f"sbom of {self.image} ({self.format}, {self.source})", file=err)


def sbom(app: AppContext, service: str, image: str | None = None, fmt: str = "cyclonedx",
         target_name: str | None = None) -> Sbom:
    from bakery import sbom as sboms

    if fmt not in sboms.FORMATS:
        raise ConfigError(f"unknown SBOM format '{fmt}'", hint=f"use one of: {', '.join(sboms.FORMATS)}")
    project = app.load()
    project.service(service)
    target = app.target(project, target_name)
    record = pick_image(target, service, image)
    recorded = recorded_sbom(project.state_dir(), record.image_id, fmt)
    if recorded is not None:
        return Sbom(record.ref, fmt, f"recorded by verification run {recorded[1]}", recorded[0])
    if target.hygiene_on_instance:
        raise ConfigError(f"{record.ref} has no SBOM on this machine and the {target.name} target cannot mount it here",
                          hint=f"run bakery verify {service} on this machine first")
    with tempfile.TemporaryDirectory(prefix="bakery-sbom-") as out, target.image_root(record) as root:
        sboms.generate(root, Path(out))
        document = json.loads((Path(out) / sboms.sbom_name(fmt)).read_text())
    return Sbom(record.ref, fmt, "made now (the image has no verification on this machine)", document)


def recorded_sbom(state_dir: Path, image_id: str, fmt: str) -> tuple[dict, str] | None:
    """The SBOM the image's last verification here wrote, when its file still has the digest the report names."""
    from bakery import catalog, statefile

    report = statefile.read_json(catalog.report_path(state_dir, image_id), "verify report", quiet=True) or {}
    try:
        for entry in (report.get("sbom") or {}).get("files", []):
            path = Path(entry["path"])
            if entry["format"] == fmt and path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]:
                return json.loads(path.read_text()), report.get("run_id", "")
    except (AttributeError, KeyError, TypeError, ValueError):  # a report edited by hand: no recorded SBOM, make one
        return None
    return None
