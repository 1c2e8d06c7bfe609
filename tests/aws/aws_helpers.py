"""Helpers for the AWS rehearsal tests: questions asked to moto over its real API."""

from __future__ import annotations

import itertools

CATALOG_AMI_NAME = "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*"
CATALOG_OWNER = "099720109477"
_build_times = itertools.count(1)


def run_filter(run_id: str) -> list[dict]:
    return [{"Name": "tag:bakery:run-id", "Values": [run_id]}]


def leftovers(ec2, run_id: str) -> dict[str, list[str]]:
    """What of a run still exists in moto: live instances, key pairs, security groups, volumes."""
    instances = [i["InstanceId"] for r in ec2.describe_instances(Filters=run_filter(run_id))["Reservations"]
                 for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    found = {
        "instances": instances,
        "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs(Filters=run_filter(run_id))["KeyPairs"]],
        "security_groups": [g["GroupId"] for g in
                            ec2.describe_security_groups(Filters=run_filter(run_id))["SecurityGroups"]],
        "volumes": [v["VolumeId"] for v in ec2.describe_volumes(Filters=run_filter(run_id))["Volumes"]],
    }
    return {kind: ids for kind, ids in found.items() if ids}


def instances_of(ec2, run_id: str) -> list[dict]:
    return [i for r in ec2.describe_instances(Filters=run_filter(run_id))["Reservations"] for i in r["Instances"]]


def tags_of(ec2, ami_id: str) -> dict[str, str]:
    image = ec2.describe_images(ImageIds=[ami_id])["Images"][0]
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}


def catalog_ami(ec2) -> str:
    found = ec2.describe_images(Owners=[CATALOG_OWNER], Filters=[{"Name": "name", "Values": [CATALOG_AMI_NAME]}])
    return sorted(found["Images"], key=lambda i: i["CreationDate"])[-1]["ImageId"]


def make_ami(ec2, service: str, *, verified: str | None = "true", run_id: str = "20200101T000000Z-aaaaaa",
             tags: dict[str, str] | None = None, project_dir=None) -> str:
    """An AMI as bakery tags one (made through moto's API from a catalog AMI), newer than the last."""
    instance = ec2.run_instances(ImageId=catalog_ami(ec2), MinCount=1, MaxCount=1, InstanceType="t3.small")
    instance_id = instance["Instances"][0]["InstanceId"]
    build_time = f"2020-01-01T00:{next(_build_times):05d}Z"  # sortable, increasing
    ami_id = ec2.create_image(InstanceId=instance_id, Name=f"bakery-{service}-{build_time}-{run_id}")["ImageId"]
    ec2.terminate_instances(InstanceIds=[instance_id])
    all_tags = {"bakery:service": service, "bakery:fingerprint": f"fp-{ami_id}", "bakery:run-id": run_id,
                "bakery:build-time": build_time, **(signed_verdict_tags(ami_id, service, verified, project_dir) if verified else {}),
                **(tags or {})}
    ec2.create_tags(Resources=[ami_id], Tags=[{"Key": k, "Value": v} for k, v in all_tags.items()])
    return ami_id


def signed_verdict_tags(ami_id: str, service: str, verified: str, project_dir=None) -> dict[str, str]:
    """The tags bakery's verify writes: a verdict signed with this machine's key, bound to the key of
    checks the project (default: the fixture project) asks for, or to a made-up one (other services)."""
    from bakery import __version__, catalog
    from bakery.aws.verdicts import verdict_tags
    from bakery.config import CONFIG_NAME, parse_project
    from bakery.verify import verdict_key
    from helpers import FIXTURE_PROJECT

    root = project_dir or FIXTURE_PROJECT
    project = parse_project((root / CONFIG_NAME).read_text(), source=CONFIG_NAME)
    project.__pydantic_private__["_root"] = root  # as load_project sets it (the fixture has no packer/)
    key = verdict_key(project, service) if service in project.services else {"suite": "made-up"}
    outcome = catalog.PASSED if verified == "true" else catalog.FAILED
    return verdict_tags(catalog.Verdict(service, ami_id, ami_id, f"fp-{ami_id}", outcome, key, "0" * 64,
                                        "20200101T000000Z-aaaaaa", 1.0, __version__))


def images_and_snapshots(ec2) -> tuple[list, list]:
    """moto's state of AMIs and snapshots of this account, comparable before and after."""
    images = sorted((i["ImageId"], i["State"], tuple(sorted((t["Key"], t["Value"]) for t in i.get("Tags", []))))
                    for i in ec2.describe_images(Owners=["self"])["Images"])
    snapshots = sorted(s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])
    return images, snapshots


def snapshots_of(ec2, ami_id: str) -> list[str]:
    image = ec2.describe_images(ImageIds=[ami_id])["Images"][0]
    return [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]


def snapshot_ids(ec2) -> set[str]:
    return {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
