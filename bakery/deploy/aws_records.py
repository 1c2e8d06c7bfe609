"""Deployment records of the aws target, kept in AWS so every machine (every CI job) sees them.

That SERVICE runs AMI in ENV is recorded twice in AWS, and once more locally:
- the SSM parameter /bakery/<service>/deployed/<env> (type String, data type aws:ec2:image,
  value the AMI id). It is the record the gates read, and `bakery gc` keeps every AMI an SSM
  parameter under /bakery/ names, so a deployed AMI is never retired;
- the AMI tag bakery:deployed-<env> = UTC time of the deploy, moved from the previous AMI to
  the new one (an AMI carries it while it runs in env);
- .bakery/deployments/<service>/<env>.json, as the local target writes it (history, offline).

Only a healthy rollout is recorded; `bakery destroy` removes all three.
"""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.exceptions

from bakery.aws import images, tags
from bakery.aws.session import Connection, error_code, translated_errors
from bakery.config import Project
from bakery.deploy import Deployment, Records, current_deployment, forget_deployment, record_deployment

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parameter_name(service: str, env: str) -> str:
    return f"/bakery/{service}/deployed/{env}"


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(TIME_FORMAT)


def utc_epoch(text: str) -> float:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC).timestamp()


class AwsRecords(Records):
    def __init__(self, conn: Connection, project: Project):
        self.conn, self.project = conn, project

    def deployed_ami(self, service: str, env: str) -> str | None:
        """The AMI the SSM record names, or None."""
        with translated_errors():
            try:
                found = self.conn.client("ssm").get_parameter(Name=parameter_name(service, env))
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "ParameterNotFound":
                    return None
                raise
        return found["Parameter"]["Value"]

    def current(self, service: str, env: str) -> Deployment | None:
        ami_id = self.deployed_ami(service, env)
        if ami_id is None:
            return None
        local = current_deployment(self.project, service, env)
        if local is not None and local.target == "aws" and local.image_id == ami_id:
            return local  # this machine made it: it knows the run id and the instance count too
        with translated_errors():
            image = images.describe(self.conn, ami_id)
        image_tags = tags.as_dict(image.get("Tags")) if image else {}
        at = image_tags.get(tags.DEPLOYED_PREFIX + env)
        return Deployment(service, env, "aws", ami_id, ami_id, image_tags.get(tags.FINGERPRINT, ""), 0, True,
                          utc_epoch(at) if at else 0.0, "")

    def record(self, deployment: Deployment) -> None:
        service, env, ami_id = deployment.service, deployment.env, deployment.image_id
        previous = self.deployed_ami(service, env)
        ec2, tag = self.conn.client("ec2"), tags.DEPLOYED_PREFIX + env
        with translated_errors():
            self.conn.client("ssm").put_parameter(
                Name=parameter_name(service, env), Value=ami_id, Type="String", DataType="aws:ec2:image",
                Overwrite=True, Description=f"AMI of {service} deployed to {env} by bakery")
            ec2.create_tags(Resources=[ami_id], Tags=tags.as_list({tag: utc_text(deployment.at)}))
            if previous and previous != ami_id:
                self._untag(previous, tag)
        record_deployment(self.project, deployment)

    def forget(self, service: str, env: str) -> None:
        ami_id = self.deployed_ami(service, env)
        with translated_errors():
            try:
                self.conn.client("ssm").delete_parameter(Name=parameter_name(service, env))
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) != "ParameterNotFound":
                    raise
            if ami_id:
                self._untag(ami_id, tags.DEPLOYED_PREFIX + env)
        forget_deployment(self.project, service, env)

    def _untag(self, ami_id: str, key: str) -> None:
        """Remove a tag; an AMI that is gone has no tags to remove."""
        try:
            self.conn.client("ec2").delete_tags(Resources=[ami_id], Tags=[{"Key": key}])
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"):
                raise
