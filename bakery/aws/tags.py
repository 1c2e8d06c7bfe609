"""The tags bakery puts on AWS resources, and conversions between EC2's tag lists and dicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

PREFIX = "bakery:"
SERVICE = "bakery:service"
FINGERPRINT = "bakery:fingerprint"
RUN_ID = "bakery:run-id"
PURPOSE = "bakery:purpose"
VERIFIED = "bakery:verified"
VERIFIED_AT = "bakery:verified-at"
SSH_USER = "bakery:ssh-user"
BASE_AMI = "bakery:base-ami"
BUILD_TIME = "bakery:build-time"
PROMOTED_PREFIX = "bakery:promoted-"
DEPLOYED_PREFIX = "bakery:deployed-"  # + env: UTC time the AMI was deployed there (while it runs there)
ENV = "bakery:env"
TRUE, FALSE = "true", "false"


def as_dict(tags: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or ()}


def as_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def specs(resource_types: Iterable[str], tags: Mapping[str, str]) -> list[dict]:
    """TagSpecifications for a create call: the resource is tagged as it is born."""
    return [{"ResourceType": kind, "Tags": as_list(tags)} for kind in resource_types]


def run_tags(run_id: str, purpose: str, service: str = "") -> dict[str, str]:
    tags = {RUN_ID: run_id, PURPOSE: purpose, "Name": f"bakery {purpose} {run_id}"}
    return {**tags, SERVICE: service} if service else tags


def labels(tags: Mapping[str, str]) -> dict[str, str]:
    """AMI tags as image labels: `bakery:x` becomes `bakery.x`, the local target's label names."""
    return {(f"bakery.{k[len(PREFIX):]}" if k.startswith(PREFIX) else k): v for k, v in tags.items()}


def promotions(tags: Mapping[str, str]) -> dict[str, str]:
    """{environment: timestamp} from the bakery:promoted-<env> tags."""
    return {k[len(PROMOTED_PREFIX):]: v for k, v in tags.items() if k.startswith(PROMOTED_PREFIX)}


def run_filter(run_id: str) -> dict:
    return {"Name": f"tag:{RUN_ID}", "Values": [run_id]}
