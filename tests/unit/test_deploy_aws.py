"""The instance-refresh follower against botocore's Stubber (moto 5.2.5 has no instance refresh API),
and Terraform runs when terraform is installed. The whole `bakery deploy --target aws` runs in
tests/aws/test_aws_deploy.py."""

import shutil

import boto3
import pytest
from botocore.stub import Stubber

from bakery.deploy.aws import (
    RefreshEnded,
    destroy_argv,
    follow_instance_refresh,
    refresh_started_since,
    terraform_argvs,
)
from bakery.errors import DeployFailed, ExitStatus


def autoscaling_client():
    return boto3.client("autoscaling", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def refreshes(*states, refresh_id="r-1"):
    return [{"InstanceRefreshes": [{"InstanceRefreshId": refresh_id, "AutoScalingGroupName": "asg",
                                    "Status": status, "PercentageComplete": pct,
                                    "StatusReason": "because"}]} for status, pct in states]


def follow(*states):
    client = autoscaling_client()
    stubber = Stubber(client)
    for response in refreshes(*states):
        stubber.add_response("describe_instance_refreshes", response,
                             {"AutoScalingGroupName": "asg", "InstanceRefreshIds": ["r-1"]})
    seen, slept = [], []
    with stubber:
        try:
            return follow_instance_refresh(client, "asg", "r-1", poll_s=15, log=seen.append,
                                           sleep=slept.append), seen, slept
        finally:
            stubber.assert_no_pending_responses()


def test_successful_refresh_is_followed_to_the_end():
    outcome, seen, slept = follow(*[("Pending", 0)] * 3, ("InProgress", 40), ("InProgress", 40), ("Successful", 100))
    assert outcome.status == "Successful" and outcome.percentage == 100 and outcome.refresh_id == "r-1"
    assert seen == ["instance refresh r-1: Pending 0%", "instance refresh r-1: InProgress 40%",
                    "instance refresh r-1: Successful 100%"]
    assert slept == [1, 2, 4, 8, 15]  # quick at first, then every poll_s


@pytest.mark.parametrize("status,code", [
    ("Failed", ExitStatus.DEPLOY_FAILED),
    ("Cancelled", ExitStatus.REFRESH_CANCELLED),
    ("RollbackSuccessful", ExitStatus.REFRESH_ROLLED_BACK),
])
def test_each_ending_has_its_exit_code(status, code):
    with pytest.raises(RefreshEnded) as err:
        follow(("InProgress", 10), (status, 30))
    assert err.value.exit_status == code
    assert status in err.value.message and "because" in err.value.message
    assert err.value.hint  # says what state the group is left in


def test_a_refresh_that_disappears_is_a_failed_deploy():
    client = autoscaling_client()
    stubber = Stubber(client)
    stubber.add_response("describe_instance_refreshes", {"InstanceRefreshes": []},
                         {"AutoScalingGroupName": "asg", "InstanceRefreshIds": ["r-1"]})
    with stubber, pytest.raises(DeployFailed, match="instance refresh r-1 of asg is gone"):
        follow_instance_refresh(client, "asg", "r-1", sleep=lambda _s: None)


@pytest.mark.parametrize("before,newest,started", [
    (("asg", "r-1"), "r-1", None),  # apply started none: the newest is the one noted before
    (("asg", "r-1"), "r-2", "r-2"),
    ((None, None), "r-1", "r-1"),  # no state before apply: every refresh is this deploy's
    (("old-asg", "r-1"), "r-1", "r-1"),  # apply replaced the group; ids are per group
    (("asg", None), None, None),
])
def test_only_a_refresh_started_by_this_apply_is_followed(before, newest, started):
    client = autoscaling_client()
    stubber = Stubber(client)
    found = refreshes(("InProgress", 0), refresh_id=newest)[0] if newest else {"InstanceRefreshes": []}
    stubber.add_response("describe_instance_refreshes", found, {"AutoScalingGroupName": "asg", "MaxRecords": 1})
    with stubber:
        assert refresh_started_since(client, "asg", before) == started


def test_terraform_is_called_non_interactively_with_the_ami():
    argvs = terraform_argvs("dev", "ami-123")
    assert [a[2] for a in argvs] == ["init", "plan", "apply"]
    assert all("-input=false" in a for a in argvs)
    assert all(a[1] == "-chdir=terraform/envs/dev" for a in argvs)
    assert "-var=ami_id=ami-123" in argvs[1]
    assert destroy_argv("dev", "ami-123") == ["terraform", "-chdir=terraform/envs/dev", "destroy", "-input=false",
                                              "-auto-approve", "-var=ami_id=ami-123"]


needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None,
                                     reason="terraform is not installable on this machine")


@needs_terraform
def test_terraform_code_is_formatted():
    from bakery import proc
    from helpers import REPO

    result = proc.run(["terraform", "fmt", "-check", "-recursive", str(REPO / "terraform")], check=False)
    assert result.rc == 0, result.stdout


@needs_terraform
def test_init_plan_apply_and_outputs(tmp_path):
    """Real terraform on an env that needs no provider download (this machine reaches no registry)."""
    from bakery.deploy.aws import init_terraform, plan_and_apply, terraform_outputs

    env = tmp_path / "terraform" / "envs" / "dev"
    env.mkdir(parents=True)
    (env / "main.tf").write_text(
        'terraform {\n  backend "local" {}\n}\n'
        'variable "ami_id" {\n  type = string\n}\n'
        'resource "terraform_data" "rollout" {\n  input = var.ami_id\n}\n'
        'output "ami_id" {\n  value = terraform_data.rollout.output\n}\n'
    )
    (env / "backend.hcl").write_text('path = "state.tfstate"\n')
    logs = tmp_path / "logs"
    logs.mkdir()
    init_terraform(tmp_path, "dev", logs)
    assert terraform_outputs(tmp_path, "dev") == {}
    plan_and_apply(tmp_path, "dev", "ami-0123", logs)
    assert terraform_outputs(tmp_path, "dev") == {"ami_id": "ami-0123"}
    assert (env / "state.tfstate").exists()
    assert {p.name for p in logs.iterdir()} == {"terraform-init.log", "terraform-plan.log", "terraform-apply.log"}


def test_terraform_missing_is_a_prerequisite_error(tmp_path, monkeypatch):
    from bakery.deploy.aws import init_terraform
    from bakery.errors import PrerequisiteError

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteError, match="terraform is not installed") as err:
        init_terraform(tmp_path, "dev", tmp_path)
    assert err.value.exit_status == ExitStatus.PREREQ
