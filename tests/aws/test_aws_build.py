"""`bakery build/verify --target aws`: real Packer amazon-ebs against moto, provisioning a container over SSH."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import boto3
import pytest
import yaml

from aws_helpers import instances_of, leftovers, tags_of
from bakery.aws import session
from bakery.aws.promote import promote
from bakery.config import load_project
from bakery.errors import ExitStatus
from helpers import bakery_process, podman_json, processes_mentioning

pytestmark = [pytest.mark.aws_rehearsal, pytest.mark.usefixtures("build_seam")]  # these bake: they need the base


@pytest.fixture(scope="module")
def tiny_ami(aws_project, bakery_cli) -> dict:
    """Bake tiny once for this module, unverified."""
    result = bakery_cli("-C", aws_project, "build", "tiny", "--target", "aws", "--no-verify", "--json")
    assert result.rc == 0, result.err
    return result.json()


@pytest.fixture(scope="module")
def tiny_verified(tiny_ami, aws_project, bakery_cli) -> dict:
    """Verify the tiny AMI once for this module; the report."""
    result = bakery_cli("-C", aws_project, "verify", "tiny", "--target", "aws", "--image", tiny_ami["image"], "--json")
    assert result.rc == 0, result.err
    return result.json()


def new_runs(project: Path, known: set[Path]) -> list[Path]:
    return sorted(r for r in (project / ".bakery" / "runs").glob("*") if r not in known)


def test_build_makes_a_tagged_ami_and_leaves_nothing(tiny_ami, ec2):
    ami, run_id, fingerprint = tiny_ami["image"], tiny_ami["run_id"], tiny_ami["fingerprint"]
    assert tiny_ami["target"] == "aws" and ami.startswith("ami-") and tiny_ami["verdict"] == "unverified"
    tags = tags_of(ec2, ami)
    assert tags["bakery:service"] == "tiny"
    assert tags["bakery:fingerprint"] == fingerprint
    assert tags["bakery:run-id"] == run_id
    assert tags["bakery:verified"] == "false"
    assert tags["bakery:base-ami"].startswith("ami-") and tags["bakery:git-commit"]
    name = ec2.describe_images(ImageIds=[ami])["Images"][0]["Name"]
    assert name == f"bakery-tiny-{fingerprint[:12]}-{run_id}"
    assert leftovers(ec2, run_id) == {}


def test_build_instance_was_tagged_and_made_to_require_imdsv2(tiny_ami, ec2):
    (instance,) = instances_of(ec2, tiny_ami["run_id"])
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["bakery:purpose"] == "build" and tags["bakery:service"] == "tiny"
    assert instance["KeyName"] == f"bakery-{tiny_ami['run_id']}-build"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    record = json.loads((Path(tiny_ami["run_dir"]) / "aws-build.json").read_text())
    assert record["source_cidr"] == "127.0.0.1/32"
    assert record["imdsv2_required_on"] == [instance["InstanceId"]]
    assert sorted(r.split()[0] for r in record["removed"]) == ["key-pair", "security-group"]


def test_packer_log_and_manifest_show_the_amazon_ebs_build(tiny_ami):
    log = (Path(tiny_ami["run_dir"]) / "packer.log").read_text()
    assert "Build 'bakery.amazon-ebs.aws' finished" in log
    manifest = json.loads((Path(tiny_ami["run_dir"]) / "manifest.json").read_text())
    assert manifest["builds"][-1]["artifact_id"] == f"us-east-1:{tiny_ami['image']}"


def test_images_lists_the_ami(tiny_ami, aws_project, bakery_cli):
    rows = bakery_cli("-C", aws_project, "images", "tiny", "--target", "aws", "--json").json()
    row = next(r for r in rows if r["image"] == tiny_ami["image"])
    assert row["fingerprint"] == tiny_ami["fingerprint"] and row["run_id"] == tiny_ami["run_id"]


def test_verify_passes_and_flips_the_tag_and_the_parameter(tiny_ami, tiny_verified, ec2, ssm):
    report = tiny_verified
    assert report["verdict"] == "passed" and report["boot"]["state"] == "running"
    assert [t["outcome"] for t in report["tests"]] == ["passed", "passed"]
    assert report["host"].startswith("ssh://admin@127.0.0.1:")
    assert all(h["passed"] for h in report["hygiene"])
    assert tags_of(ec2, tiny_ami["image"])["bakery:verified"] == "true"
    assert ssm.get_parameter(Name="/bakery/tiny/verified-ami")["Parameter"]["Value"] == tiny_ami["image"]
    (instance,) = instances_of(ec2, report["run_id"])
    assert instance["State"]["Name"] == "terminated"
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert leftovers(ec2, report["run_id"]) == {}
    run = Path(tiny_ami["run_dir"]).parent / report["run_id"]
    volume = json.loads((run / "aws-verify.json").read_text())["image_volume"]  # hygiene examined the AMI's volume
    assert volume["removed"] is True and volume["snapshot"].startswith("snap-")


def test_verified_ami_is_reused_and_can_be_promoted(tiny_ami, tiny_verified, aws_project, bakery_cli):
    again = bakery_cli("-C", aws_project, "build", "tiny", "--target", "aws", "--no-verify", "--json")
    assert again.rc == 0, again.err
    assert again.json()["reused"] is True and again.json()["image"] == tiny_ami["image"]
    plan = bakery_cli("-C", aws_project, "plan", "tiny", "--target", "aws", "--json")
    assert plan.rc == 0 and plan.json()[0]["status"] == "up to date", plan.err
    project = load_project(aws_project)
    assert promote(session.connect(project.aws), project, "tiny", "dev", tiny_ami["image"]).env == "dev"


def test_broken_image_fails_verification_and_stays_unverified(aws_project, bakery_cli, ec2, ssm):
    known = set((aws_project / ".bakery" / "runs").glob("*"))
    result = bakery_cli("-C", aws_project, "build", "dirty", "--target", "aws", "--force")
    assert result.rc == ExitStatus.VERIFY_FAILED, result.err
    assert "hygiene ssh-host-keys: /etc/ssh/ssh_host_" in result.err
    (run,) = new_runs(aws_project, known)
    assert json.loads((run / "result.json").read_text())["verdict"] == "failed"
    record = json.loads((run / "aws-verify.json").read_text())
    assert record["image_volume"]["removed"] is True
    ami = record["ami"]
    assert tags_of(ec2, ami)["bakery:verified"] == "false"
    assert ssm.get_parameters_by_path(Path="/bakery/dirty")["Parameters"] == []
    assert leftovers(ec2, run.name) == {}


def test_sigint_leaves_no_instance_key_pair_or_security_group(aws_project, ec2):
    known = set((aws_project / ".bakery" / "runs").glob("*"))
    process = bakery_process("build", "slow", "--target", "aws", "--no-verify", cwd=aws_project)
    run = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        fresh = new_runs(aws_project, known)
        if fresh and _task_started(fresh[0], "Take a while"):
            run = fresh[0]
            break
        time.sleep(0.2)
    assert run is not None, "the bake never reached the slow task"
    assert leftovers(ec2, run.name).keys() >= {"instances", "key_pairs", "security_groups"}
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == ExitStatus.INTERRUPTED, err
    assert leftovers(ec2, run.name) == {}
    assert processes_mentioning(run.name) == []
    made = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:bakery:run-id", "Values": [run.name]}])
    assert made["Images"] == []
    state = json.loads((run / "state.json").read_text())["stages"]
    assert state[-1]["stage"] == "bake" and state[-1]["status"] == "failed"


def _task_started(run: Path, task: str) -> bool:
    for path in (run / "ansible" / "job_events").glob("*.json"):
        try:
            event = json.loads(path.read_text())
        except ValueError:
            continue
        if event.get("event") == "playbook_on_task_start" and task in event.get("event_data", {}).get("task", ""):
            return True
    return False


def test_kms_encryption_and_copy_regions(aws_project, bakery_cli, tmp_path, moto_endpoint):
    """Packer encrypts the AMI with the configured key and copies it; moto does not model the encryption."""
    project = tmp_path / "kms-project"
    shutil.copytree(aws_project, project, ignore=shutil.ignore_patterns(".bakery"))
    key = boto3.client("kms", endpoint_url=moto_endpoint, region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    config = yaml.safe_load((project / "bakery.yml").read_text())
    config["aws"].update(kms_key_id=key, copy_regions=["us-west-2"])
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = bakery_cli("-C", project, "build", "tiny", "--target", "aws", "--no-verify", "--force", "--json")
    assert result.rc == 0, result.err
    built = result.json()
    run = Path(built["run_dir"])
    assert json.loads((run / "packer" / "bakery.pkrvars.json").read_text())["aws_kms_key_id"] == key
    assert "Copying/Encrypting AMI" in (run / "packer.log").read_text()
    artifact = json.loads((run / "manifest.json").read_text())["builds"][-1]["artifact_id"]
    regions = dict(part.split(":") for part in artifact.split(","))
    assert regions == {"us-east-1": built["image"], "us-west-2": regions["us-west-2"]}
    copy = boto3.client("ec2", endpoint_url=moto_endpoint, region_name="us-west-2")
    assert tags_of(copy, regions["us-west-2"])["bakery:fingerprint"] == built["fingerprint"]


def test_failing_task_names_role_and_task_and_leaves_nothing(aws_project, bakery_cli, ec2):
    known = set((aws_project / ".bakery" / "runs").glob("*"))
    result = bakery_cli("-C", aws_project, "build", "broken", "--target", "aws")
    assert result.rc == ExitStatus.BUILD_FAILED
    assert "in role 'broken' task 'Fail on purpose'" in result.err.strip().splitlines()[-1]
    (run,) = new_runs(aws_project, known)
    assert leftovers(ec2, run.name) == {}
    made = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:bakery:run-id", "Values": [run.name]}])
    assert made["Images"] == []
    assert podman_json("images", "--filter", f"label=bakery.run-id={run.name}") == []
