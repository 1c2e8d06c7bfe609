"""`gc_amis` and `gc_orphans` against moto: what stays, what goes, and dry runs that change nothing."""

from __future__ import annotations

import json
import os
import secrets
import time

import pytest

from aws_helpers import catalog_ami, images_and_snapshots, leftovers, make_ami, snapshot_ids, snapshots_of
from bakery.aws import resources, session, tags
from bakery.aws.gc import gc_amis, gc_orphans
from bakery.config import load_project
from bakery.rundir import new_run_id

pytestmark = pytest.mark.aws_rehearsal


@pytest.fixture
def conn(aws_project):
    return session.connect(load_project(aws_project).aws)


@pytest.fixture
def service() -> str:
    """A service name of its own, so gc here touches only this test's AMIs."""
    return f"gc-{secrets.token_hex(3)}"


@pytest.fixture
def amis(ec2, ssm, autoscaling, service) -> dict[str, str]:
    """AMIs of one service, oldest first, each with the property its name says."""
    made = {
        "failed": make_ami(ec2, service, verified="false"),
        "in_launch_configuration": make_ami(ec2, service),
        "in_ssm": make_ami(ec2, service),
        "promoted": make_ami(ec2, service, tags={"bakery:promoted-dev": "2020-01-01T00:00:00Z"}),
        "old_verified": make_ami(ec2, service),
        "in_launch_template": make_ami(ec2, service),
        "second_newest_verified": make_ami(ec2, service),
        "newest_verified": make_ami(ec2, service),
        "unverified": make_ami(ec2, service, verified=None),
    }
    ec2.create_launch_template(LaunchTemplateName=f"{service}-lt",
                               LaunchTemplateData={"ImageId": made["in_launch_template"]})
    autoscaling.create_launch_configuration(LaunchConfigurationName=f"{service}-lc", InstanceType="t3.small",
                                            ImageId=made["in_launch_configuration"])
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=f"{service}-asg", MinSize=0, MaxSize=0,
                                          LaunchConfigurationName=f"{service}-lc", AvailabilityZones=["us-east-1a"])
    ssm.put_parameter(Name=f"/bakery/{service}/prod/ami", Value=made["in_ssm"], Type="String")
    return made


def test_gc_keeps_referenced_and_newest_and_deletes_the_rest_with_snapshots(conn, ec2, service, amis):
    snapshots = {name: snapshots_of(ec2, ami) for name, ami in amis.items()}
    result = gc_amis(conn, keep=2, services=[service])
    kept = {k.ami_id: k.reason for k in result.kept}
    assert {r.ami_id for r in result.removed} == {amis["failed"], amis["old_verified"], amis["unverified"]}
    assert kept[amis["newest_verified"]] == "newest verified (1 of 2)"
    assert kept[amis["second_newest_verified"]] == "newest verified (2 of 2)"
    assert kept[amis["in_launch_template"]] == f"referenced by launch template {service}-lt v1"
    assert kept[amis["in_launch_configuration"]] == \
        f"referenced by auto scaling group {service}-asg; launch configuration {service}-lc"
    assert kept[amis["in_ssm"]] == f"referenced by SSM parameter /bakery/{service}/prod/ami"
    assert kept[amis["promoted"]] == "promoted to dev"
    assert all(not r.error for r in result.removed)
    existing = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    existing_snapshots = snapshot_ids(ec2)
    for name, ami in amis.items():
        removed = name in ("failed", "old_verified", "unverified")
        assert (ami in existing) is not removed, name
        assert all((s in existing_snapshots) is not removed for s in snapshots[name]), name


def test_gc_dry_run_changes_nothing(conn, ec2, service, amis):
    before = images_and_snapshots(ec2)
    result = gc_amis(conn, keep=1, dry_run=True, services=[service])
    assert result.dry_run and len(result.removed) == 4  # failed, old_verified, second_newest_verified, unverified
    assert images_and_snapshots(ec2) == before


def test_gc_keeps_the_ami_of_a_run_in_progress(conn, ec2, service, aws_project):
    run_id = _run_dir(aws_project, pid=os.getpid())
    ami = make_ami(ec2, service, verified=None, run_id=run_id)
    result = gc_amis(conn, keep=1, services=[service], state_dir=aws_project / ".bakery")
    assert [(k.ami_id, k.reason) for k in result.kept] == [(ami, f"run {run_id} is still in progress")]


def test_gc_orphans_removes_only_resources_of_dead_old_runs(conn, ec2, aws_project, tmp_path):
    state_dir = aws_project / ".bakery"
    dead_old = "20200101T000000Z-dead01"  # no run dir here, hours old
    finished_old = _run_dir(aws_project, pid=os.getpid(), started="20200101T000001Z", finished=True)
    alive_old = _run_dir(aws_project, pid=os.getpid(), started="20200101T000002Z")
    young = new_run_id()  # another machine's run, just started
    for run_id in (dead_old, finished_old, alive_old, young):
        _run_resources(conn, ec2, run_id, tmp_path)
    dry = gc_orphans(conn, state_dir, older_than_s=3600, dry_run=True)
    assert {r.run_id for r in dry.removed} >= {dead_old, finished_old}
    assert all(leftovers(ec2, run_id) for run_id in (dead_old, finished_old))  # the dry run removed nothing
    result = gc_orphans(conn, state_dir, older_than_s=3600)
    assert not result.failed
    assert leftovers(ec2, dead_old) == {} and leftovers(ec2, finished_old) == {}
    assert leftovers(ec2, alive_old).keys() == {"instances", "key_pairs", "security_groups", "volumes"}
    assert leftovers(ec2, young).keys() == {"instances", "key_pairs", "security_groups", "volumes"}
    reasons = {r.run_id: why for r, why in result.kept}
    assert reasons[alive_old] == f"run {alive_old} is alive"
    assert "not older than 3600 s" in reasons[young]
    for run_id in (alive_old, young):  # tidy up after ourselves
        resources.remove(conn, resources.run_resources(conn, run_id))


def _run_dir(project, *, pid: int, started: str | None = None, finished: bool = False) -> str:
    """A run dir as bakery writes one (run.json; result.json once it is over)."""
    run_id = f"{started}-{secrets.token_hex(3)}" if started else new_run_id()
    path = project / ".bakery" / "runs" / run_id
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"run_id": run_id, "kind": "build", "pid": pid, "started": time.time()}))
    if finished:
        (path / "result.json").write_text("{}")
    return run_id


def _run_resources(conn, ec2, run_id: str, directory) -> None:
    """What a run makes: a key pair, a security group, an instance and a (detached) volume."""
    key = resources.create_key_pair(conn, run_id, "build", directory)
    group = resources.create_security_group(conn, run_id, "build", "127.0.0.1/32")
    resources.launch_instance(conn, catalog_ami(ec2), "t3.small", key.name, group, tags.run_tags(run_id, "build"))
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=1,
                      TagSpecifications=tags.specs(["volume"], tags.run_tags(run_id, "build")))
