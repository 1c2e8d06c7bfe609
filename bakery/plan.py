"""`bakery plan`: per service, "up to date" or "would rebuild", with the inputs that changed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from bakery import catalog
from bakery.config import Project
from bakery.fingerprint import Fingerprint
from bakery.inputs import Hashes, service_fingerprint
from bakery.targets import ImageRecord, Target
from bakery.verify import trusted_keys, verdict_of

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


@dataclass
class Survey:
    """What planning many services reads once: one snapshot of the image store (taken by the caller,
    see Target.snapshot), the digests of shared inputs, the trusted keys, the bases."""

    project: Project
    target: Target
    hashes: Hashes = field(default_factory=Hashes)
    _trusted: list | None = None
    _bases: dict = field(default_factory=dict)

    def trusted(self) -> list:
        if self._trusted is None:
            self._trusted = trusted_keys(self.project)
        return self._trusted

    def base_id(self, service: str) -> str:
        name = self.project.service(service).base
        if name not in self._bases:
            base = self.target.find_base(self.project, name)
            self._bases[name] = base.image_id if base else MISSING_BASE_ID
        return self._bases[name]

    def verdict(self, image: ImageRecord) -> catalog.VerdictState:
        return verdict_of(self.project, image, self.target, self.trusted())


def plan_services(project: Project, services: list[str], target: Target) -> list[PlanEntry]:
    """Plan every service from one listing of the image store; shared inputs hashed once."""
    survey = Survey(project, target)
    with target.snapshot():
        return [surveyed(survey, name).entry for name in services]


def plan_service(project: Project, service: str, target: Target) -> PlanEntry:
    return plan_services(project, [service], target)[0]


@dataclass(frozen=True)
class Surveyed:
    """One service as the survey found it: its fingerprint now, and the image with it (and its verdict) if any."""

    entry: PlanEntry
    image: ImageRecord | None = None
    verdict: catalog.VerdictState | None = None


def surveyed(survey: Survey, service: str) -> Surveyed:
    project, target = survey.project, survey.target
    fp = service_fingerprint(project, service, survey.base_id(service), target.name, survey.hashes)
    same = target.find_image(service, fp.digest)
    if same is not None:
        verdict = survey.verdict(same)
        if verdict.status == catalog.STALE:
            changes = [f"{part} changed" for part in verdict.changed]
            return Surveyed(PlanEntry(service, WOULD_REVERIFY, fp.digest, same.ref, changes), same, verdict)
        return Surveyed(PlanEntry(service, UP_TO_DATE, fp.digest, same.ref), same, verdict)
    return Surveyed(_would_rebuild(project, service, target, fp))


def _would_rebuild(project: Project, service: str, target: Target, fp: Fingerprint) -> PlanEntry:
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
