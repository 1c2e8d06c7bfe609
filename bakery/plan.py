"""`bakery plan`: per service, "up to date" or "would rebuild", with the inputs that changed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bakery import catalog
from bakery.config import Project
from bakery.inputs import service_fingerprint
from bakery.targets import Target
from bakery.verify import verdict_of

UP_TO_DATE = "up to date"
WOULD_REBUILD = "would rebuild"
WOULD_REVERIFY = "would re-verify"  # the image is there, but what its verdict checked has changed
MISSING_BASE_ID = "base-not-built"


@dataclass(frozen=True)
class PlanEntry:
    service: str
    status: str
    fingerprint: str
    current_image: str | None  # the newest image of the service, if any
    changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def plan_service(project: Project, service: str, target: Target) -> PlanEntry:
    base = target.find_base(project, project.service(service).base)
    fp = service_fingerprint(project, service, base.image_id if base else MISSING_BASE_ID, target.name)
    same = target.find_image(service, fp.digest)
    if same is not None:
        verdict = verdict_of(project, same, target)
        if verdict.status == catalog.STALE:
            return PlanEntry(service, WOULD_REVERIFY, fp.digest, same.ref, [f"{part} changed" for part in verdict.changed])
        return PlanEntry(service, UP_TO_DATE, fp.digest, same.ref)
    images = target.list_images(service)
    if not images:
        return PlanEntry(service, WOULD_REBUILD, fp.digest, None, ["never built"])
    newest = images[0]
    previous = catalog.inputs_for(project.state_dir(), newest.fingerprint)
    if previous is None:
        return PlanEntry(service, WOULD_REBUILD, fp.digest, newest.ref, ["inputs of the newest image are not recorded"])
    current = [asdict(i) for i in fp.inputs]
    return PlanEntry(service, WOULD_REBUILD, fp.digest, newest.ref, diff_inputs(previous, current))


def diff_inputs(before: list[dict], after: list[dict]) -> list[str]:
    """Human lines for every input that differs, naming files or variables where known."""
    old = {(i["kind"], i["name"]): i for i in before}
    new = {(i["kind"], i["name"]): i for i in after}
    lines = []
    for key in sorted(old.keys() | new.keys()):
        kind, name = key
        if key not in old:
            lines.append(f"{kind} {name}: added")
        elif key not in new:
            lines.append(f"{kind} {name}: removed")
        elif old[key]["digest"] != new[key]["digest"]:
            lines.append(_describe_change(kind, name, old[key], new[key]))
    return lines


def _describe_change(kind: str, name: str, old: dict, new: dict) -> str:
    if kind == "base":
        return "base image"
    if kind == "tool":
        return f"tool {name}: {old['digest']} -> {new['digest']}"
    before, after = old.get("parts") or {}, new.get("parts") or {}
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if not changed:
        return f"{kind} {name}"
    label = "variables" if kind == "variables" else f"{kind} {name}: files"
    return f"{label} {', '.join(changed)}"
