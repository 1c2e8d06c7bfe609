"""The instance-refresh follower against botocore's Stubber (moto has no instance refresh API),
and Terraform runs when terraform is installed."""

import shutil

import boto3
import pytest
from botocore.stub import Stubber

from bakery.deploy.aws import RefreshEnded, follow_instance_refresh, terraform_argvs
from bakery.errors import ExitStatus


def refreshes(*states):
    return [{"InstanceRefreshes": [{"InstanceRefreshId": "r-1", "AutoScalingGroupName": "asg",
                                    "Status": status, "PercentageComplete": pct,
                                    "StatusReason": "because"}]} for status, pct in states]


def follow(*states):
    client = boto3.client("autoscaling", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    stubber = Stubber(client)
    for response in refreshes(*states):
        stubber.add_response("describe_instance_refreshes", response,
                             {"AutoScalingGroupName": "asg", "MaxRecords": 1})
    seen = []
    with stubber:
        try:
            return follow_instance_refresh(client, "asg", poll_s=0, log=seen.append, sleep=lambda _s: None), seen
        finally:
            stubber.assert_no_pending_responses()


def test_successful_refresh_is_followed_to_the_end():
    outcome, seen = follow(("Pending", 0), ("InProgress", 40), ("InProgress", 40), ("Successful", 100))
    assert outcome.status == "Successful" and outcome.percentage == 100
    assert seen == ["instance refresh r-1: Pending 0%", "instance refresh r-1: InProgress 40%",
                    "instance refresh r-1: Successful 100%"]


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


def test_terraform_is_called_non_interactively_with_the_ami():
    argvs = terraform_argvs("dev", "ami-123")
    assert [a[2] for a in argvs] == ["init", "plan", "apply"]
    assert all("-input=false" in a for a in argvs)
    assert all(a[1] == "-chdir=terraform/envs/dev" for a in argvs)
    assert "-var=ami_id=ami-123" in argvs[1]


needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None,
                                     reason="terraform is not installable on this machine")


@needs_terraform
def test_terraform_code_is_formatted():
    from bakery import proc
    from helpers import REPO

    result = proc.run(["terraform", "fmt", "-check", "-recursive", str(REPO / "terraform")], check=False)
    assert result.rc == 0, result.stdout


@needs_terraform
def test_apply_runs_init_plan_apply_and_reads_outputs(tmp_path):
    """Real terraform on an env that needs no provider download (this machine reaches no registry)."""
    from bakery.deploy.aws import apply_terraform

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
    outputs = apply_terraform(tmp_path, "dev", "ami-0123", logs)
    assert outputs == {"ami_id": "ami-0123"}
    assert (env / "state.tfstate").exists()
    assert {p.name for p in logs.iterdir()} == {"terraform-init.log", "terraform-plan.log", "terraform-apply.log"}
