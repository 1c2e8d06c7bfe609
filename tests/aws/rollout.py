"""What the real Terraform module does to an auto scaling group, for the rehearsal's provider-free
Terraform roots (this machine reaches no Terraform registry, so the aws provider cannot be installed).

    rollout.py apply --asg NAME --ami AMI   new launch template version with the AMI; the group uses
                                            it; start an instance refresh (as the aws provider does)
    rollout.py delete --asg NAME            delete the group and its instances (terraform destroy)

It talks to BAKERY_AWS_ENDPOINT_URL (the instance refresh stand-in in front of moto).
"""

from __future__ import annotations

import argparse
import os

import boto3


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["BAKERY_AWS_ENDPOINT_URL"],
                        region_name=os.environ["AWS_REGION"])


def apply(asg_name: str, ami_id: str) -> None:
    autoscaling, ec2 = client("autoscaling"), client("ec2")
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]
    template = group["LaunchTemplate"]
    version = ec2.create_launch_template_version(
        LaunchTemplateId=template["LaunchTemplateId"], SourceVersion=template["Version"],
        LaunchTemplateData={"ImageId": ami_id})["LaunchTemplateVersion"]["VersionNumber"]
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=asg_name, LaunchTemplate={
        "LaunchTemplateId": template["LaunchTemplateId"], "Version": str(version)})
    autoscaling.start_instance_refresh(AutoScalingGroupName=asg_name, Strategy="Rolling",
                                       Preferences={"MinHealthyPercentage": 90, "SkipMatching": True,
                                                    "AutoRollback": True})


def delete(asg_name: str) -> None:
    client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName=asg_name, ForceDelete=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["apply", "delete"])
    parser.add_argument("--asg", required=True)
    parser.add_argument("--ami")
    args = parser.parse_args()
    if args.action == "apply":
        apply(args.asg, args.ami)
    else:
        delete(args.asg)


if __name__ == "__main__":
    main()
