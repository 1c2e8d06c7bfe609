"""`bakery fingerprint`: a service's image fingerprint and, with --explain, every input's digest."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line
from bakery.inputs import service_fingerprint


@dataclass(frozen=True)
class Fingerprinted(Result):
    fingerprint: object  # bakery.fingerprint.Fingerprint
    explain: bool = False

    def to_json(self):
        return {"fingerprint": self.fingerprint.digest, "inputs": [asdict(i) for i in self.fingerprint.inputs]}

    def render(self, out, err):
        line(out, self.fingerprint.digest)
        if self.explain:
            for item in self.fingerprint.inputs:
                line(out, f"  {item.kind:<10} {item.name:<40} {item.digest[:16]}")


def fingerprint(app: AppContext, service: str, target: str | None = None, explain: bool = False) -> Fingerprinted:
    """Builds the base first if it is missing (the base image id is an input)."""
    project = app.load()
    target_impl = app.target(project, target)
    base = target_impl.prepare_base(project, project.service(service).base, app.log)
    return Fingerprinted(service_fingerprint(project, service, base.image_id, target_impl.name), explain)
