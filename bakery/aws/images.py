"""AMIs: the base found by its filter, bakery's own AMIs found by their tags."""

from __future__ import annotations

from datetime import datetime

from bakery.aws import tags
from bakery.aws.session import Connection
from bakery.config import AmiFilter
from bakery.errors import BuildFailed, ConfigError
from bakery.targets.base import ImageRecord

GIB = 1024**3


def matching_amis(conn: Connection, ami_filter: AmiFilter) -> list[dict]:
    """Available AMIs matching the filter, newest first."""
    filters = [
        {"Name": "name", "Values": [ami_filter.name]},
        {"Name": "virtualization-type", "Values": [ami_filter.virtualization_type]},
        {"Name": "root-device-type", "Values": [ami_filter.root_device_type]},
        {"Name": "state", "Values": ["available"]},
    ]
    images = conn.client("ec2").describe_images(Owners=ami_filter.owners, Filters=filters)["Images"]
    return sorted(images, key=lambda i: (i.get("CreationDate", ""), i["ImageId"]), reverse=True)


def pick_base_ami(images: list[dict], ami_filter: AmiFilter, base_name: str) -> dict | None:
    if len(images) > 1 and not ami_filter.most_recent:
        names = ", ".join(i["ImageId"] for i in images[:3])
        raise ConfigError(f"bases.{base_name}.source_ami_filter matches {len(images)} AMIs ({names}, ...)",
                          hint="narrow the name pattern or set most_recent: true")
    return images[0] if images else None


def describe(conn: Connection, ami_id: str) -> dict | None:
    found = conn.client("ec2").describe_images(Filters=[{"Name": "image-id", "Values": [ami_id]}])["Images"]
    return found[0] if found else None


def bakery_amis(conn: Connection, service: str | None = None, extra_filters: list[dict] | None = None) -> list[dict]:
    """bakery's AMIs in this account (optionally of one service), newest first."""
    service_filter = {"Name": f"tag:{tags.SERVICE}", "Values": [service]} if service else \
        {"Name": "tag-key", "Values": [tags.SERVICE]}
    found = conn.client("ec2").describe_images(Owners=["self"], Filters=[service_filter, *(extra_filters or [])])
    return sorted(found["Images"], key=newest_key, reverse=True)


def newest_key(image: dict) -> tuple[str, str, str]:
    """CreationDate has second resolution; the build time tag and the name break ties."""
    image_tags = tags.as_dict(image.get("Tags"))
    return image.get("CreationDate", ""), image_tags.get(tags.BUILD_TIME, ""), image.get("Name", "")


def is_verified_ami(image: dict, service: str, fingerprint: str) -> bool:
    """What verified_ami asks EC2 for, checked on an AMI already listed (a snapshot of bakery_amis)."""
    image_tags = tags.as_dict(image.get("Tags"))
    return (image_tags.get(tags.SERVICE) == service and image_tags.get(tags.FINGERPRINT) == fingerprint
            and image_tags.get(tags.VERIFIED) == tags.TRUE and image.get("State") == "available")


def verified_ami(conn: Connection, service: str, fingerprint: str) -> dict | None:
    found = bakery_amis(conn, service, [{"Name": f"tag:{tags.FINGERPRINT}", "Values": [fingerprint]},
                                        {"Name": f"tag:{tags.VERIFIED}", "Values": [tags.TRUE]},
                                        {"Name": "state", "Values": ["available"]}])
    return found[0] if found else None


def record(image: dict) -> ImageRecord:
    image_tags = tags.as_dict(image.get("Tags"))
    return ImageRecord(
        service=image_tags.get(tags.SERVICE, ""),
        ref=image["ImageId"],
        image_id=image["ImageId"],
        fingerprint=image_tags.get(tags.FINGERPRINT, ""),
        labels={**tags.labels(image_tags), "aws.name": image.get("Name", "")},
        created=created_at(image),
        size_bytes=sum(m.get("Ebs", {}).get("VolumeSize", 0) for m in image.get("BlockDeviceMappings", [])) * GIB,
    )


def created_at(image: dict) -> float:
    text = image.get("CreationDate")
    return datetime.fromisoformat(text).timestamp() if text else 0.0


def amis_by_region(artifact_id: str) -> dict[str, str]:
    """Packer's amazon-ebs artifact id, "us-east-1:ami-1,eu-west-1:ami-2", as {region: ami}."""
    pairs = [part.split(":", 1) for part in artifact_id.split(",") if part.strip()]
    if not pairs or any(len(p) != 2 or not p[1].startswith("ami-") for p in pairs):
        raise BuildFailed(f"Packer's manifest names no AMI: artifact_id '{artifact_id}'")
    return {region.strip(): ami.strip() for region, ami in pairs}


def home_ami(artifact_id: str, region: str) -> str:
    amis = amis_by_region(artifact_id)
    if region not in amis:
        raise BuildFailed(f"Packer made no AMI in {region}: artifact_id '{artifact_id}'")
    return amis[region]
