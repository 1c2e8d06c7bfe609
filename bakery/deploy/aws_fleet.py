"""What runs in an environment on AWS: its auto scaling group, each instance, its AMI and fingerprint."""

from __future__ import annotations

from dataclasses import dataclass

from bakery.aws import images, tags
from bakery.aws.session import Connection, translated_errors


@dataclass(frozen=True)
class InstanceStatus:
    instance_id: str
    lifecycle_state: str  # InService, Pending, Terminating, ...
    health_status: str  # Healthy or Unhealthy, as the auto scaling group sees it
    ami_id: str
    fingerprint: str  # the AMI's bakery:fingerprint tag
    launch_template_version: str
    healthy: bool


@dataclass(frozen=True)
class Fleet:
    asg_name: str
    desired: int
    launch_template_ami: str  # the image the group launches now
    instances: list[InstanceStatus]

    def runs_only(self, ami_id: str) -> bool:
        """Every instance in service runs ami_id, and enough of them are healthy."""
        serving = [i for i in self.instances if i.lifecycle_state == "InService"]
        healthy = [i for i in serving if i.healthy and i.ami_id == ami_id]
        return self.launch_template_ami == ami_id and len(healthy) == len(serving) and len(healthy) >= self.desired


def group(conn: Connection, name: str) -> dict | None:
    with translated_errors():
        found = conn.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return found["AutoScalingGroups"][0] if found["AutoScalingGroups"] else None


def group_by_tags(conn: Connection, service: str, env: str) -> dict | None:
    """The newest group tagged bakery:service and bakery:env (the Terraform module tags its group so)."""
    filters = [{"Name": f"tag:{tags.SERVICE}", "Values": [service]}, {"Name": f"tag:{tags.ENV}", "Values": [env]}]
    with translated_errors():
        pages = conn.client("autoscaling").get_paginator("describe_auto_scaling_groups").paginate(Filters=filters)
        groups = [g for page in pages for g in page["AutoScalingGroups"]]
    return max(groups, key=lambda g: str(g.get("CreatedTime", "")), default=None)


def fleet(conn: Connection, asg: dict) -> Fleet:
    members = asg.get("Instances", [])
    with translated_errors():
        amis = instance_amis(conn, [m["InstanceId"] for m in members])
        fingerprints = {ami: _fingerprint(conn, ami) for ami in set(amis.values())}
        template_ami = launch_template_ami(conn, asg)
    return Fleet(asg["AutoScalingGroupName"], int(asg.get("DesiredCapacity", 0)), template_ami, [
        InstanceStatus(m["InstanceId"], m.get("LifecycleState", ""), m.get("HealthStatus", ""),
                       amis.get(m["InstanceId"], ""), fingerprints.get(amis.get(m["InstanceId"], ""), ""),
                       str(m.get("LaunchTemplate", {}).get("Version", "")),
                       m.get("LifecycleState") == "InService" and m.get("HealthStatus") == "Healthy")
        for m in members])


def instance_amis(conn: Connection, instance_ids: list[str]) -> dict[str, str]:
    if not instance_ids:
        return {}
    pages = conn.client("ec2").get_paginator("describe_instances").paginate(InstanceIds=instance_ids)
    return {i["InstanceId"]: i.get("ImageId", "")
            for page in pages for reservation in page["Reservations"] for i in reservation["Instances"]}


def _fingerprint(conn: Connection, ami_id: str) -> str:
    image = images.describe(conn, ami_id)
    return tags.as_dict(image.get("Tags")).get(tags.FINGERPRINT, "") if image else ""


def launch_template_ami(conn: Connection, asg: dict) -> str:
    """The image of the launch template version the group launches ($Default when it names none)."""
    spec = asg.get("LaunchTemplate")
    if not spec:
        return ""
    selector = {"LaunchTemplateId": spec["LaunchTemplateId"]} if spec.get("LaunchTemplateId") else \
        {"LaunchTemplateName": spec["LaunchTemplateName"]}
    versions = conn.client("ec2").describe_launch_template_versions(
        **selector, Versions=[spec.get("Version") or "$Default"])["LaunchTemplateVersions"]
    return versions[0].get("LaunchTemplateData", {}).get("ImageId", "") if versions else ""
