"""Promotion of a verified AMI through the environments, in the order bakery.yml gives.

An AMI may be promoted to an environment when it is an image of the service, is tagged
a trusted signed verdict that passed for the checks the project asks for now, (when the environment has `after: <prev>`) already carries
bakery:promoted-<prev>, and (when the environment has `approval: true`) the caller approved.
Promotion tags it bakery:promoted-<env>=<UTC timestamp>; the tag is the record, so promoting
twice keeps the first timestamp (and needs no approval the second time: nothing changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bakery import catalog, verify
from bakery.aws import images, tags, verdicts
from bakery.aws.session import Connection, translated_errors
from bakery.config import Project
from bakery.errors import ConfigError, GateRefused


@dataclass(frozen=True)
class Promotion:
    service: str
    env: str
    ami_id: str
    at: str  # UTC, ISO 8601
    already: bool  # it had been promoted to env before


def promote(conn: Connection, project: Project, service: str, env: str, ami_id: str,
            *, approve: bool = False, now: datetime | None = None) -> Promotion:
    """Promote ami_id of service to env, or raise GateRefused naming the gate that refused."""
    project.service(service)
    after = environment_after(project, env)
    needs_approval = project.environments[env].approval
    with translated_errors():
        image = images.describe(conn, ami_id)
        if image is None:
            raise ConfigError(f"AMI {ami_id} does not exist in {conn.region}", hint=f"see bakery images {service}")
        image_tags = tags.as_dict(image.get("Tags"))
        promoted = tags.promotions(image_tags)
        if env in promoted:
            return Promotion(service, env, ami_id, promoted[env], already=True)
        verdict = verdicts.verdict_state(images.record(image), verify.expected_key(project, service),
                                         verify.trusted_keys(project))
        check_gates(image_tags, verdict, service, env, after, ami_id)
        check_approval(env, needs_approval, approve)
        at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        conn.client("ec2").create_tags(Resources=[ami_id], Tags=tags.as_list({tags.PROMOTED_PREFIX + env: at}))
    return Promotion(service, env, ami_id, at, already=False)


def environment_after(project: Project, env: str) -> str | None:
    if env not in project.environments:
        known = ", ".join(project.environments) or "none"
        raise ConfigError(f"unknown environment '{env}'", hint=f"environments in bakery.yml: {known}")
    return project.environments[env].after


def check_gates(image_tags: dict[str, str], verdict: catalog.VerdictState, service: str, env: str, after: str | None,
                ami_id: str) -> None:
    """Raise GateRefused for the first gate the AMI does not pass."""
    owner = image_tags.get(tags.SERVICE)
    if owner != service:
        raise GateRefused(f"{ami_id} is not an image of '{service}' (bakery:service is '{owner or 'missing'}')")
    if not verdict.passed:
        raise GateRefused(f"{ami_id} is not verified (its verdict is {verdict.describe()}); only verified"
                          f" images are promoted", hint=f"bakery verify {service} --image {ami_id} --target aws")
    if after is not None and tags.PROMOTED_PREFIX + after not in image_tags:
        raise GateRefused(f"{ami_id} cannot go to {env} before {after}: it has not been promoted to {after}",
                          hint=f"promote it to {after} first")


def check_approval(env: str, needs_approval: bool, approve: bool) -> None:
    """The last gate: an environment with `approval: true` takes an AMI only with --approve."""
    if needs_approval and not approve:
        raise GateRefused(f"promoting to {env} needs approval (environments.{env}.approval is true)",
                          hint="rerun with --approve")
