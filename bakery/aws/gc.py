"""`bakery gc` on AWS: retire old AMIs (and their snapshots) and reap what killed runs left.

gc_amis keeps, per service, the newest N verified AMIs, and never removes an AMI that is
still referenced: by a launch template version, by an auto scaling group (its launch
template or launch configuration), by an SSM parameter under /bakery/, by a
bakery:promoted-<env> tag, or by a run still in progress. An AMI that is not verified stays
while it is younger than a threshold (default 24 hours): someone may be verifying it now.
Everything else of bakery's (tag bakery:service, owner self) is deregistered and its
snapshots deleted. What AWS refuses to deregister or delete is reported as failed, never as
removed; raise_if_failed turns that into an error once the result has been shown.

gc_orphans removes instances, key pairs, security groups and volumes tagged bakery:run-id
whose run is not alive and is older than the threshold (bakery/aws/runs.py has the rule).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import botocore.exceptions

from bakery.aws import images, resources, runs, tags
from bakery.aws.session import AwsError, Connection, describe_client_error, error_code, translated_errors

SSM_PREFIX = "/bakery/"
DEFAULT_ORPHAN_AGE_S = 6 * 3600.0
DEFAULT_UNVERIFIED_AGE_S = 24 * 3600.0
AMI_GONE_CODES = frozenset({"InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"})
SNAPSHOT_GONE_CODES = frozenset({"InvalidSnapshot.NotFound"})
SNAPSHOT_ATTEMPTS, SNAPSHOT_RETRY_S = 5, 3.0  # AWS may hold a snapshot "in use" briefly after deregistration


@dataclass(frozen=True)
class KeptAmi:
    ami_id: str
    service: str
    reason: str


@dataclass(frozen=True)
class RemovedAmi:
    ami_id: str
    service: str
    snapshots: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class FailedAmi:
    """An AMI gc meant to remove, and what AWS refused."""

    ami_id: str
    service: str
    reason: str  # why gc meant to remove it
    error: str  # what AWS answered, one line per refusal
    deregistered: bool  # the AMI is gone; only (some of) its snapshots are left
    snapshots_left: tuple[str, ...]


@dataclass
class AmiGcResult:
    dry_run: bool
    keep: int
    unverified_min_age_s: float
    kept: list[KeptAmi] = field(default_factory=list)
    removed: list[RemovedAmi] = field(default_factory=list)  # in a dry run: would be removed
    failed: list[FailedAmi] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class OrphanGcResult:
    dry_run: bool
    older_than_s: float
    removed: list[resources.RunResource] = field(default_factory=list)  # in a dry run: would be removed
    kept: list[tuple[resources.RunResource, str]] = field(default_factory=list)
    failed: list[tuple[resources.RunResource, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


# -- AMIs ----------------------------------------------------------------------------------

def gc_amis(conn: Connection, *, keep: int = 3, dry_run: bool = False, state_dir: Path | None = None,
            services: list[str] | None = None, unverified_min_age_s: float = DEFAULT_UNVERIFIED_AGE_S,
            now: float | None = None) -> AmiGcResult:
    """Deregister the AMIs no one needs and delete their snapshots (nothing changes in a dry run).

    With services, only those services' AMIs are considered.
    """
    with translated_errors():
        amis = [ami for ami in images.bakery_amis(conn)
                if services is None or tags.as_dict(ami.get("Tags")).get(tags.SERVICE) in services]
        result = plan_amis(amis, ami_references(conn), keep, lambda run_id: runs.is_alive(state_dir, run_id),
                           unverified_min_age_s, now or time.time())
        result.dry_run = dry_run
        if not dry_run:
            outcomes = [(item, remove_ami(conn.client("ec2"), item)) for item in result.removed]
            result.removed = [item for item, failure in outcomes if failure is None]
            result.failed = [failure for _, failure in outcomes if failure is not None]
    return result


def plan_amis(amis: list[dict], references: dict[str, list[str]], keep: int, alive: Callable[[str], bool],
              unverified_min_age_s: float, now: float) -> AmiGcResult:
    """Which AMIs stay and why; amis newest first."""
    result, verified_seen = AmiGcResult(dry_run=True, keep=keep, unverified_min_age_s=unverified_min_age_s), {}
    for ami in amis:
        ami_tags = tags.as_dict(ami.get("Tags"))
        service = ami_tags.get(tags.SERVICE, "")
        verified = ami_tags.get(tags.VERIFIED) == tags.TRUE
        verified_seen[service] = rank = verified_seen.get(service, 0) + int(verified)
        reason = protection(ami["ImageId"], ami_tags, references, alive)
        if reason is None and verified and rank <= keep:
            reason = f"newest verified ({rank} of {keep})"
        if reason is None and not verified:
            reason = too_young_to_judge(ami, unverified_min_age_s, now)
        if reason is not None:
            result.kept.append(KeptAmi(ami["ImageId"], service, reason))
        else:
            why = f"older than the newest {keep} verified" if verified else \
                f"not verified (bakery:verified is '{ami_tags.get(tags.VERIFIED, 'missing')}')"
            result.removed.append(RemovedAmi(ami["ImageId"], service, snapshots_of(ami), why))
    return result


def protection(ami_id: str, ami_tags: dict[str, str], references: dict[str, list[str]],
               alive: Callable[[str], bool]) -> str | None:
    """Why the AMI must stay whatever its age, or None."""
    if references.get(ami_id):
        return "referenced by " + "; ".join(sorted(references[ami_id]))
    promoted = tags.promotions(ami_tags)
    if promoted:
        return "promoted to " + ", ".join(sorted(promoted))
    run_id = ami_tags.get(tags.RUN_ID, "")
    if run_id and alive(run_id):
        return f"run {run_id} is still in progress"
    return None


def too_young_to_judge(ami: dict, min_age_s: float, now: float) -> str | None:
    """Why an unverified AMI stays for now (someone may be verifying it), or None when it is old enough."""
    age = now - images.created_at(ami)
    if age > min_age_s:
        return None
    return f"not verified, but only {max(age, 0):.0f} s old (not older than {min_age_s:.0f} s): it may be under verification"


def snapshots_of(ami: dict) -> tuple[str, ...]:
    return tuple(m["Ebs"]["SnapshotId"] for m in ami.get("BlockDeviceMappings", [])
                 if m.get("Ebs", {}).get("SnapshotId"))


def remove_ami(ec2, item: RemovedAmi) -> FailedAmi | None:
    """Deregister the AMI, then delete each of its snapshots; what AWS refused, or None.

    An AMI or snapshot that is gone already counts as removed. A snapshot that cannot be
    deleted does not stop the others.
    """
    try:
        ec2.deregister_image(ImageId=item.ami_id)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in AMI_GONE_CODES:
            return FailedAmi(item.ami_id, item.service, item.reason, describe_client_error(exc).message,
                             deregistered=False, snapshots_left=item.snapshots)
    refusals = {snapshot: why for snapshot in item.snapshots if (why := delete_snapshot(ec2, snapshot))}
    if not refusals:
        return None
    return FailedAmi(item.ami_id, item.service, item.reason, "; ".join(f"{k}: {v}" for k, v in refusals.items()),
                     deregistered=True, snapshots_left=tuple(refusals))


def delete_snapshot(ec2, snapshot_id: str) -> str:
    """Delete one snapshot; "" when it is gone, else what AWS answered."""
    for attempt in range(SNAPSHOT_ATTEMPTS):
        try:
            ec2.delete_snapshot(SnapshotId=snapshot_id)
            return ""
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code in SNAPSHOT_GONE_CODES:
                return ""
            if code != "InvalidSnapshot.InUse" or attempt == SNAPSHOT_ATTEMPTS - 1:
                return describe_client_error(exc).message
            time.sleep(SNAPSHOT_RETRY_S)
    return ""


def ami_references(conn: Connection) -> dict[str, list[str]]:
    """{ami_id: [who references it]} over launch templates, auto scaling groups and SSM."""
    found: dict[str, list[str]] = {}
    parameters = bakery_parameters(conn)
    for ami_id, who in [*launch_template_refs(conn, parameters), *auto_scaling_refs(conn, parameters),
                        *((ami, f"SSM parameter {name}") for name, ami in parameters.items())]:
        if ami_id.startswith("ami-"):
            found.setdefault(ami_id, []).append(who)
    return found


def bakery_parameters(conn: Connection) -> dict[str, str]:
    pages = conn.client("ssm").get_paginator("get_parameters_by_path").paginate(Path=SSM_PREFIX, Recursive=True)
    return {p["Name"]: p["Value"] for page in pages for p in page["Parameters"]}


def _image_of(data: dict, parameters: dict[str, str]) -> str:
    """A launch template's ImageId, with `resolve:ssm:/bakery/...` resolved."""
    image = data.get("ImageId", "")
    if image.startswith("resolve:ssm:"):
        return parameters.get(image.removeprefix("resolve:ssm:").split(":")[0], "")
    return image


# The most EC2 returns per page (fewer calls; moto also returns only the first page, 15 by default).
LARGEST_PAGE = {"PageSize": 200}


def launch_template_refs(conn: Connection, parameters: dict[str, str]) -> list[tuple[str, str]]:
    ec2, refs = conn.client("ec2"), []
    for page in ec2.get_paginator("describe_launch_templates").paginate(PaginationConfig=LARGEST_PAGE):
        for template in page["LaunchTemplates"]:
            versions = ec2.get_paginator("describe_launch_template_versions").paginate(
                LaunchTemplateId=template["LaunchTemplateId"], PaginationConfig=LARGEST_PAGE)
            refs += [(_image_of(v.get("LaunchTemplateData", {}), parameters),
                      f"launch template {template['LaunchTemplateName']} v{v['VersionNumber']}")
                     for vpage in versions for v in vpage["LaunchTemplateVersions"]]
    return refs


def auto_scaling_refs(conn: Connection, parameters: dict[str, str]) -> list[tuple[str, str]]:
    autoscaling, refs = conn.client("autoscaling"), []
    configurations = {c["LaunchConfigurationName"]: c.get("ImageId", "") for page in
                      autoscaling.get_paginator("describe_launch_configurations").paginate()
                      for c in page["LaunchConfigurations"]}
    refs += [(image, f"launch configuration {name}") for name, image in configurations.items()]
    for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate():
        for group in page["AutoScalingGroups"]:
            name = group["AutoScalingGroupName"]
            if group.get("LaunchConfigurationName"):
                refs.append((configurations.get(group["LaunchConfigurationName"], ""), f"auto scaling group {name}"))
            spec = group.get("LaunchTemplate") or \
                group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {}).get("LaunchTemplateSpecification")
            if spec:
                refs.append((_group_template_image(conn, spec, parameters), f"auto scaling group {name}"))
    return refs


def _group_template_image(conn: Connection, spec: dict, parameters: dict[str, str]) -> str:
    """The image of the launch template version a group uses ($Default when it names none)."""
    selector = {"LaunchTemplateId": spec["LaunchTemplateId"]} if spec.get("LaunchTemplateId") else \
        {"LaunchTemplateName": spec["LaunchTemplateName"]}
    versions = conn.client("ec2").describe_launch_template_versions(
        **selector, Versions=[spec.get("Version") or "$Default"])["LaunchTemplateVersions"]
    return _image_of(versions[0].get("LaunchTemplateData", {}), parameters) if versions else ""


# -- orphans -------------------------------------------------------------------------------

def gc_orphans(conn: Connection, state_dir: Path | None, *, older_than_s: float = DEFAULT_ORPHAN_AGE_S,
               dry_run: bool = False, now: float | None = None) -> OrphanGcResult:
    """Remove the temporary resources of runs that are over (nothing changes in a dry run)."""
    now = now or time.time()
    result = OrphanGcResult(dry_run, older_than_s)
    with translated_errors():
        for item in resources.run_resources(conn):
            reason = orphan_keep_reason(state_dir, item.run_id, older_than_s, now)
            if reason is None:
                result.removed.append(item)
            else:
                result.kept.append((item, reason))
        if not dry_run and result.removed:
            removal = resources.remove(conn, result.removed)
            result.removed, result.failed = removal.removed, removal.failed
    return result


def orphan_keep_reason(state_dir: Path | None, run_id: str, older_than_s: float, now: float) -> str | None:
    """Why a run's resources stay, or None when they are orphans."""
    if runs.is_alive(state_dir, run_id):
        return f"run {run_id} is alive"
    age = runs.age_s(run_id, now)
    if age is None:
        return f"run id '{run_id}' carries no start time"
    if age <= older_than_s:
        return f"run {run_id} is {age:.0f} s old, not older than {older_than_s:.0f} s"
    return None


# -- the outcome -----------------------------------------------------------------------------

class GcIncomplete(AwsError):
    """gc could not remove everything it meant to (exit 1); the result says what and why."""


def raise_if_failed(result: AmiGcResult | OrphanGcResult) -> None:
    """After the result has been shown: fail when AWS refused any removal."""
    if not result.failed:
        return
    if isinstance(result, AmiGcResult):
        first = result.failed[0]
        what, detail = f"{len(result.failed)} AMI(s)", f"{first.ami_id}: {first.error}"
    else:
        item, why = result.failed[0]
        what, detail = f"{len(result.failed)} resource(s)", f"{item.kind} {item.id}: {why}"
    raise GcIncomplete(f"gc could not remove {what}: {detail}",
                       hint="see the FAILED lines; fix the cause (often a permission) and run gc again")
