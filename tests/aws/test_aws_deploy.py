"""`bakery deploy/status/destroy --target aws` against a real moto server over HTTP.

moto 5.2.5 has auto scaling groups and launch templates but no instance refresh API, so
bakery talks to an instance refresh stand-in in front of moto (refresh_standin.py) that
answers those three actions and forwards everything else. Terraform is real when it is
installed; since this machine reaches no Terraform registry, each environment is a
provider-free root whose `terraform_data` runs rollout.py to do what the module does to the
group (new launch template version, start an instance refresh). The gate tests need no
Terraform: a refused deploy must not start it anyway.
"""

from __future__ import annotations

import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml

from aws_helpers import catalog_ami, make_ami, tags_of
from bakery.aws import gc as aws_gc
from bakery.aws import session
from bakery.errors import ExitStatus
from helpers import REPO, copy_fixture_project
from refresh_standin import InstanceRefreshStandIn

pytestmark = pytest.mark.aws_rehearsal
REGION = "us-east-1"
ENVS = ("dev", "staging", "prod")
ROLLOUT = REPO / "tests" / "aws" / "rollout.py"
needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")

# One environment: what the real module's outputs say, and what it does to the group, without the aws provider.
ROOT_TF = """\
terraform {
  backend "local" {}
}

variable "ami_id" {
  type = string
}

variable "service" {
  type = string
}

variable "env" {
  type = string
}

resource "terraform_data" "group" {
  input = "@ASG@"

  provisioner "local-exec" {
    when    = destroy
    command = "@PYTHON@ @ROLLOUT@ delete --asg ${self.input}"
  }
}

resource "terraform_data" "rollout" {
  triggers_replace = var.ami_id
  input            = var.ami_id

  provisioner "local-exec" {
    command = "@PYTHON@ @ROLLOUT@ apply --asg ${terraform_data.group.output} --ami ${var.ami_id}"
  }
}

output "asg_name" {
  value = terraform_data.group.output
}

output "ami_id" {
  value = terraform_data.rollout.output
}
"""


@dataclass(frozen=True)
class Rehearsal:
    project: Path
    service: str
    asgs: dict[str, str]  # env -> auto scaling group
    old_ami: str  # what every group runs before the first deploy

    def root(self, env: str) -> Path:
        return self.project / "terraform" / "envs" / env

    def deployed(self, ssm, env: str) -> str | None:
        found = ssm.get_parameters(Names=[f"/bakery/{self.service}/deployed/{env}"])["Parameters"]
        return found[0]["Value"] if found else None

    def terraform_logs(self) -> list[Path]:
        return sorted((self.project / ".bakery" / "runs").glob("*/terraform-*.log"))


@pytest.fixture(scope="session")
def standin(moto_endpoint):
    with InstanceRefreshStandIn(moto_endpoint, REGION) as running:
        yield running


@pytest.fixture
def deploy_env(monkeypatch, standin, tmp_path):
    """Fake credentials; bakery (and rollout.py) reach moto through the stand-in."""
    none = tmp_path / "no-aws-config"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
                        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(none),
                        "AWS_SHARED_CREDENTIALS_FILE": str(none), "AWS_EC2_METADATA_DISABLED": "true",
                        "BAKERY_AWS_ENDPOINT_URL": standin.url}.items():
        monkeypatch.setenv(name, value)


def moto_client(moto_endpoint: str, service: str):
    return boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


@pytest.fixture
def ec2(moto_endpoint):
    return moto_client(moto_endpoint, "ec2")


@pytest.fixture
def ssm(moto_endpoint):
    return moto_client(moto_endpoint, "ssm")


@pytest.fixture
def autoscaling(moto_endpoint):
    return moto_client(moto_endpoint, "autoscaling")


@pytest.fixture
def rehearsal(tmp_path, deploy_env, ec2, autoscaling) -> Rehearsal:
    """The fixture project with its own service; per environment a group in moto and a provider-free root."""
    service = f"svc-{secrets.token_hex(3)}"
    project = copy_fixture_project(tmp_path / "project")
    config = yaml.safe_load((project / "bakery.yml").read_text())
    config["services"][service] = {"playbook": "playbooks/tiny.yml", "base": "debian-12"}
    config["aws"] = {"region": REGION}
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    old_ami = catalog_ami(ec2)
    asgs = {env: make_group(ec2, autoscaling, service, env, old_ami) for env in ENVS}
    for env, asg in asgs.items():
        write_root(project / "terraform" / "envs" / env, service, env, asg)
    return Rehearsal(project, service, asgs, old_ami)


def make_group(ec2, autoscaling, service: str, env: str, ami_id: str) -> str:
    """A group of two instances on ami_id, tagged as the Terraform module tags its group."""
    name = f"{service}-{env}"
    template = ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": ami_id, "InstanceType": "t3.small"})["LaunchTemplate"]["LaunchTemplateId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    group_tags = {"bakery:service": service, "bakery:env": env}
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=1, MaxSize=3, DesiredCapacity=2, AvailabilityZones=[zone],
        Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name,
               "ResourceType": "auto-scaling-group"} for k, v in group_tags.items()])
    return name


def write_root(path: Path, service: str, env: str, asg: str) -> None:
    shutil.rmtree(path)
    path.mkdir()
    text = ROOT_TF.replace("@ASG@", asg).replace("@PYTHON@", sys.executable).replace("@ROLLOUT@", str(ROLLOUT))
    (path / "main.tf").write_text(text)
    (path / "backend.hcl").write_text('path = "terraform.tfstate"\n')
    (path / "terraform.tfvars").write_text(f'service = "{service}"\nenv     = "{env}"\n')


def deploy(cli, r: Rehearsal, env: str, *extra):
    return cli("-C", r.project, "deploy", r.service, "--env", env, "--target", "aws", *extra)


def status(cli, r: Rehearsal, env: str) -> dict:
    result = cli("-C", r.project, "status", r.service, "--env", env, "--target", "aws", "--json")
    assert result.rc == 0, result.err
    return result.json()


def without_terraform(monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert shutil.which("terraform") is None


# -- the rollout -------------------------------------------------------------------------------

@needs_terraform
def test_deploy_follows_the_refresh_then_records_in_aws(cli, rehearsal, ec2, ssm, standin):
    r, ami = rehearsal, make_ami(ec2, rehearsal.service, project_dir=rehearsal.project)
    result = deploy(cli, r, "dev", "--json")
    assert result.rc == 0, result.err
    data = result.json()
    assert data["image_id"] == ami and data["target"] == "aws" and data["healthy"]
    assert data["asg_name"] == r.asgs["dev"] and data["refresh"]["status"] == "Successful"
    assert data["replicas"] == 2
    assert [f.name for f in r.terraform_logs()] == ["terraform-apply.log", "terraform-init.log", "terraform-plan.log"]
    assert (r.root("dev") / "terraform.tfstate").exists()

    parameter = ssm.get_parameter(Name=f"/bakery/{r.service}/deployed/dev")["Parameter"]
    assert parameter["Value"] == ami and parameter["DataType"] == "aws:ec2:image"
    assert "bakery:deployed-dev" in tags_of(ec2, ami)
    local = yaml.safe_load((r.project / ".bakery" / "deployments" / r.service / "dev.json").read_text())
    assert local["image_id"] == ami and local["target"] == "aws"
    refs = aws_gc.ami_references(session.connect(region=REGION))
    assert f"SSM parameter /bakery/{r.service}/deployed/dev" in refs[ami]  # so gc keeps it

    seen = status(cli, r, "dev")
    assert seen["asg_name"] == r.asgs["dev"] and seen["deployment"]["image_id"] == ami
    assert len(seen["instances"]) == 2
    assert all(i["ami_id"] == ami and i["fingerprint"] == f"fp-{ami}" and i["healthy"] for i in seen["instances"])


@needs_terraform
def test_deploying_what_already_runs_starts_no_refresh(cli, rehearsal, ec2, standin):
    r, ami = rehearsal, make_ami(ec2, rehearsal.service, project_dir=rehearsal.project)
    assert deploy(cli, r, "dev").rc == 0
    again = deploy(cli, r, "dev", "--json")
    assert again.rc == 0, again.err
    assert again.json()["refresh"] is None and again.json()["image_id"] == ami
    assert len(standin.started(r.asgs["dev"])) == 1  # the first deploy's only
    text = deploy(cli, r, "dev")
    assert text.rc == 0 and f"{ami} is already running in dev" in text.err


@needs_terraform
@pytest.mark.parametrize("ending,code", [
    ("Failed", ExitStatus.DEPLOY_FAILED),
    ("Cancelled", ExitStatus.REFRESH_CANCELLED),
    ("RollbackSuccessful", ExitStatus.REFRESH_ROLLED_BACK),
    ("RollbackFailed", ExitStatus.REFRESH_ROLLED_BACK),
])
def test_each_refresh_ending_has_its_exit_code_and_keeps_the_record(cli, rehearsal, ec2, ssm, standin, ending, code):
    r = rehearsal
    first, second = make_ami(ec2, r.service, project_dir=r.project), make_ami(ec2, r.service, project_dir=r.project)
    assert deploy(cli, r, "dev", "--image", first).rc == 0
    standin.script(r.asgs["dev"], "InProgress", ending)
    result = deploy(cli, r, "dev", "--image", second)
    assert result.rc == code, result.err
    assert f"instance refresh {ending}" in result.err
    assert r.deployed(ssm, "dev") == first
    assert "bakery:deployed-dev" not in tags_of(ec2, second)
    assert status(cli, r, "dev")["deployment"]["image_id"] == first
    if ending.startswith("Rollback"):
        assert {i["ami_id"] for i in status(cli, r, "dev")["instances"]} == {first}


@needs_terraform
def test_staging_takes_what_dev_runs_and_prod_needs_approval(cli, rehearsal, ec2, ssm):
    r = rehearsal
    ami = make_ami(ec2, r.service, project_dir=r.project)
    assert deploy(cli, r, "dev").rc == 0
    make_ami(ec2, r.service, project_dir=r.project)  # newer and verified, but dev does not run it
    staging = deploy(cli, r, "staging", "--json")
    assert staging.rc == 0, staging.err
    assert staging.json()["image_id"] == ami
    logs = r.terraform_logs()
    refused = deploy(cli, r, "prod")
    assert refused.rc == ExitStatus.GATE_REFUSED and "deploying to prod needs approval" in refused.err
    assert r.terraform_logs() == logs and not (r.root("prod") / "terraform.tfstate").exists()
    assert r.deployed(ssm, "prod") is None
    assert deploy(cli, r, "prod", "--approve").rc == 0
    assert r.deployed(ssm, "prod") == ami


# -- gates: nothing starts when one refuses ------------------------------------------------------

def test_staging_before_dev_is_refused_and_nothing_runs(cli, rehearsal, ec2, ssm):
    r, ami = rehearsal, make_ami(ec2, rehearsal.service, project_dir=rehearsal.project)
    refused = deploy(cli, r, "staging", "--image", ami)
    assert refused.rc == ExitStatus.GATE_REFUSED
    assert f"staging needs a healthy dev deployment of {ami} first" in refused.err
    default = deploy(cli, r, "staging")
    assert default.rc == ExitStatus.GATE_REFUSED and "nothing is deployed to dev yet" in default.err
    assert not (r.root("staging") / "terraform.tfstate").exists() and not (r.root("staging") / ".terraform").exists()
    assert r.terraform_logs() == [] and r.deployed(ssm, "staging") is None


def test_unverified_ami_is_refused(cli, rehearsal, ec2):
    r = rehearsal
    unverified = make_ami(ec2, r.service, verified="false", project_dir=r.project)
    refused = deploy(cli, r, "dev", "--image", unverified)
    assert refused.rc == ExitStatus.GATE_REFUSED and f"{unverified} is failed, not verified" in refused.err
    assert "--target aws" in refused.err  # the hint verifies on the right target
    none = deploy(cli, r, "dev")
    assert none.rc == ExitStatus.GATE_REFUSED and f"no verified image of '{r.service}'" in none.err
    assert r.terraform_logs() == []


def test_gates_read_the_records_in_aws_not_this_machine(cli, rehearsal, ec2, ssm, monkeypatch):
    """Another machine deployed to staging: its SSM record is all this project has (no .bakery)."""
    r, ami = rehearsal, make_ami(ec2, rehearsal.service, project_dir=rehearsal.project)
    ssm.put_parameter(Name=f"/bakery/{r.service}/deployed/staging", Value=ami, Type="String",
                      DataType="aws:ec2:image")
    refused = deploy(cli, r, "prod")
    assert refused.rc == ExitStatus.GATE_REFUSED and "deploying to prod needs approval" in refused.err
    without_terraform(monkeypatch)
    missing = deploy(cli, r, "prod", "--approve")
    assert missing.rc == ExitStatus.PREREQ and "terraform is not installed" in missing.err
    assert r.deployed(ssm, "prod") is None


def test_an_environment_of_another_service_is_a_config_error(cli, rehearsal, ec2):
    r, ami = rehearsal, make_ami(ec2, rehearsal.service, project_dir=rehearsal.project)
    (r.root("dev") / "terraform.tfvars").write_text('service = "api-service"\nenv = "dev"\n')
    result = deploy(cli, r, "dev", "--image", ami)
    assert result.rc == ExitStatus.CONFIG
    assert f"terraform/envs/dev deploys service 'api-service', not '{r.service}'" in result.err
    assert r.terraform_logs() == []


# -- status and destroy ------------------------------------------------------------------------

def test_status_finds_the_group_by_its_tags(cli, rehearsal, monkeypatch):
    without_terraform(monkeypatch)
    r = rehearsal
    seen = status(cli, r, "staging")
    assert seen["deployment"] is None and seen["asg_name"] == r.asgs["staging"]
    assert [i["ami_id"] for i in seen["instances"]] == [r.old_ami] * 2
    assert all(i["lifecycle_state"] == "InService" and i["healthy"] for i in seen["instances"])
    text = cli("-C", r.project, "status", r.service, "--env", "staging", "--target", "aws")
    assert text.rc == 0 and text.out.startswith(f"{r.service} in staging: not deployed (auto scaling group ")


@needs_terraform
def test_destroy_removes_the_environment_and_its_record(cli, rehearsal, ec2, ssm, autoscaling):
    r, ami = rehearsal, make_ami(ec2, rehearsal.service, project_dir=rehearsal.project)
    refused = cli("-C", r.project, "destroy", r.service, "--env", "prod", "--target", "aws")
    assert refused.rc == ExitStatus.GATE_REFUSED and "destroying prod needs approval" in refused.err
    assert deploy(cli, r, "dev").rc == 0
    result = cli("-C", r.project, "destroy", r.service, "--env", "dev", "--target", "aws")
    assert result.rc == 0, result.err
    assert f"destroyed {r.service} in dev (it ran {ami})" in result.err
    assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[r.asgs["dev"]])["AutoScalingGroups"] == []
    assert r.deployed(ssm, "dev") is None and "bakery:deployed-dev" not in tags_of(ec2, ami)
    assert not (r.project / ".bakery" / "deployments" / r.service / "dev.json").exists()
    assert status(cli, r, "dev") == {"deployment": None, "asg_name": None, "instances": []}
    again = cli("-C", r.project, "destroy", r.service, "--env", "dev", "--target", "aws")
    assert again.rc == 0 and "nothing was deployed" in again.err
