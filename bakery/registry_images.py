"""Images through the registry: publish a verified image with its attestation; adopt one that another
machine published (pull by digest, check the attestation, record its verdict locally)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from bakery import __version__, attestation, catalog, keys, proc
from bakery.config import Project
from bakery.errors import GateRefused
from bakery.registry import Registry, attestation_tag, attested
from bakery.registry_layers import push_layers
from bakery.targets import ImageRecord, Target
from bakery.verify import trusted_keys, verdict_of


@dataclass(frozen=True)
class Published:
    service: str
    image: str  # REPO@sha256:...
    digest: str
    tag: str  # REPO:<12-hex fingerprint>
    attestation: str  # REPO:sha256-<hex>.att
    base: str | None  # the base as pushed, or None
    layers: list[str]  # the role layers pushed, URL/bakery-layer/ROLE:<layer key>


@dataclass(frozen=True)
class Adopted:
    image: ImageRecord
    source: str  # REPO@sha256:...


def publish_image(project: Project, registry: Registry, target: Target, image: ImageRecord) -> Published:
    """Push a verified image (tagged with its fingerprint), its base, its role layers, and the signed attestations."""
    state = verdict_of(project, image, target)
    if not state.passed:
        raise GateRefused(f"{image.ref} is {state.describe()}: only a verified image is published",
                          hint=f"run bakery verify {image.service}")
    base = publish_base(project, registry, target, image.service)
    repository = registry.repository(image.service)
    tag = f"{repository}:{image.fingerprint[:12]}"
    digest = registry.push(image.ref, tag)
    statement = attestation.statement(repository, digest, predicate(project, image))
    envelope = attestation.envelope(statement, keys.project_signing_key(project))
    att_ref = f"{repository}:{attestation_tag(digest)}"
    registry.push_artifact(att_ref, envelope, attestation.ENVELOPE_MEDIA_TYPE)
    pushed_layers = push_layers(project, registry, image.labels, f"{repository}@{digest}")
    return Published(image.service, f"{repository}@{digest}", digest, tag, att_ref, base, pushed_layers)


def publish_base(project: Project, registry: Registry, target: Target, service: str) -> str | None:
    """The service's base, tagged by its input fingerprint (local target: a podman image)."""
    found = target.find_base(project, project.service(service).base)
    if found is None or ":" not in found.ref:
        return None
    ref = f"{registry.base_repository(found.name)}:{found.ref.rsplit(':', 1)[1]}"
    registry.push(found.ref, ref)
    return ref


def predicate(project: Project, image: ImageRecord) -> dict:
    """What the attestation says: the signed verdict record and its report, the inputs, bakery, the commit."""
    state_dir = project.state_dir()
    record = json.loads(catalog.verdict_path(state_dir, image.image_id).read_text())
    report = json.loads(catalog.report_path(state_dir, image.image_id).read_text())
    verdict = record["verdict"]
    return {
        "verdict": {"status": verdict["verdict"], "key": verdict["key"], "service": image.service,
                    "fingerprint": image.fingerprint, "image_id": image.image_id},
        "record": record,
        "report": report,
        "inputs": catalog.inputs_for(state_dir, image.fingerprint),
        "bakery_version": __version__,
        "git_commit": git_commit(project),
    }


def git_commit(project: Project) -> str:
    result = proc.run(["git", "-C", str(project.root), "rev-parse", "HEAD"], check=False, timeout=30)
    return result.stdout.strip() if result.ok else ""


def adopt(project: Project, registry: Registry, target: Target, repository: str, digest: str,
          pull: bool = True, service: str | None = None) -> Adopted:
    """Pull repository@digest after checking its attestation (and, given service, that it is an image of
    service), and record the attested verdict here.
    pull False: only referenced (the image stays in the registry; the verdict is recorded all the same)."""
    statement = attested(registry, repository, digest, trusted_keys(project))
    record = statement["predicate"]["record"]
    verdict = record["verdict"]
    if service is not None and verdict["service"] != service:
        raise GateRefused(f"{repository}@{digest[:19]} is an image of '{verdict['service']}', not of '{service}'")
    if not pull:
        image = ImageRecord(verdict["service"], f"{repository}@{digest}", verdict["image_id"], verdict["fingerprint"])
        record_attested_verdict(project, image, statement)
        return Adopted(image, image.ref)
    local_ref = target.adoption_ref(verdict["service"], verdict["fingerprint"])
    registry.pull(f"{repository}@{digest}", local_ref)
    image = target.find_image(verdict["service"], verdict["fingerprint"])
    if image is None or image.image_id.removeprefix("sha256:") != verdict["image_id"].removeprefix("sha256:"):
        raise GateRefused(f"{repository}@{digest[:19]} is not the image its attestation's verdict names")
    record_attested_verdict(project, image, statement)
    return Adopted(image, f"{repository}@{digest}")


def record_attested_verdict(project: Project, image: ImageRecord, statement: dict) -> None:
    """The verdict record the attestation carries, kept in the local catalog as it was signed, with its report."""
    predicate_data = statement["predicate"]
    report = (json.dumps(predicate_data["report"], indent=2, sort_keys=True, default=str) + "\n").encode()
    if hashlib.sha256(report).hexdigest() != predicate_data["record"]["verdict"]["report_sha256"]:
        raise GateRefused(f"the attestation of {image.ref} carries a report its verdict does not name")
    state_dir = project.state_dir()
    catalog.write_bytes_atomic(catalog.report_path(state_dir, image.image_id), report)
    catalog.write_json_atomic(catalog.verdict_path(state_dir, image.image_id), predicate_data["record"])
    if predicate_data.get("inputs"):
        catalog.record_inputs(state_dir, image.fingerprint, predicate_data["inputs"])


def reuse(project: Project, override: str | None, target: Target, service: str, fingerprint: str,
          log, pull: bool = True) -> Adopted | None:
    """The image with this fingerprint from the registry, when it is there with a valid attestation by a
    trusted key; None (and why, in log) otherwise, so the caller bakes."""
    from bakery.registry import registry_for

    registry = registry_for(project, override)
    if registry is None or target.name != "local":
        return None
    repository = registry.repository(service)
    digest = registry.digest_of(f"{repository}:{fingerprint[:12]}")
    if digest is None:
        return None
    try:
        statement = attested(registry, repository, digest, trusted_keys(project))
        if statement["predicate"]["record"]["verdict"]["fingerprint"] != fingerprint:
            raise GateRefused(f"{repository}:{fingerprint[:12]} was attested for another fingerprint")
        return adopt(project, registry, target, repository, digest, pull)
    except GateRefused as refused:
        log(f"not reusing {repository}:{fingerprint[:12]}: {refused.one_line()}")
        return None


def pull_base(project: Project, name: str, local_ref: str, log) -> bool:
    """Pull the base tagged with this input fingerprint from the registry, if it is there (True: pulled)."""
    from bakery.registry import registry_for

    registry = registry_for(project)
    if registry is None:
        return False
    ref = f"{registry.base_repository(name)}:{local_ref.rsplit(':', 1)[1]}"
    if registry.manifest(ref) is None:
        return False
    log(f"pulling base '{name}' from {ref}")
    registry.pull(ref, local_ref)
    return True
