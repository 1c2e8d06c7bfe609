"""`gc_amis` and `gc_orphans` against moto: what stays, what goes, and dry runs that change nothing."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml

from aws_helpers import catalog_ami, images_and_snapshots, leftovers, make_ami, snapshot_ids, snapshots_of
from bakery.aws import resources, session, tags
from bakery.aws.gc import DEFAULT_UNVERIFIED_AGE_S, gc_amis, gc_orphans
from bakery.config import load_project
from bakery.errors import ExitStatus
from bakery.rundir import new_run_id

pytestmark = pytest.mark.aws_rehearsal


def A_DAY_LATER() -> float:  # noqa: N802 (reads as the constant it stands for)
    """A moment when every AMI made now is older than the default unverified threshold."""
    return time.time() + DEFAULT_UNVERIFIED_AGE_S + 60


@pytest.fixture
def conn(aws_project):
    return session.connect(load_project(aws_project).aws)


@pytest.fixture
def service() -> str:
    """A service name of its own, so gc here touches only this test's AMIs."""
    return f"gc-{secrets.token_hex(3)}"


@pytest.fixture
def service_project(aws_project, service, tmp_path) -> Path:
    """The rehearsal project with this test's service in bakery.yml, so the CLI's gc can name it."""
    project = tmp_path / "project"
    shutil.copytree(aws_project, project, ignore=shutil.ignore_patterns(".bakery"))
    config = yaml.safe_load((project / "bakery.yml").read_text())
    config["services"][service] = {"playbook": "playbooks/tiny.yml", "base": "debian-12"}
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project


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
    result = gc_amis(conn, keep=2, services=[service], now=A_DAY_LATER())
    kept = {k.ami_id: k.reason for k in result.kept}
    names = {ami: name for name, ami in amis.items()}
    assert sorted(names[r.ami_id] for r in result.removed) == ["failed", "old_verified", "unverified"], kept
    assert kept[amis["newest_verified"]] == "newest verified (1 of 2)"
    assert kept[amis["second_newest_verified"]] == "newest verified (2 of 2)"
    assert kept[amis["in_launch_template"]] == f"referenced by launch template {service}-lt v1"
    assert kept[amis["in_launch_configuration"]] == \
        f"referenced by auto scaling group {service}-asg; launch configuration {service}-lc"
    assert kept[amis["in_ssm"]] == f"referenced by SSM parameter /bakery/{service}/prod/ami"
    assert kept[amis["promoted"]] == "promoted to dev"
    assert result.failed == []
    existing = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    existing_snapshots = snapshot_ids(ec2)
    for name, ami in amis.items():
        removed = name in ("failed", "old_verified", "unverified")
        assert (ami in existing) is not removed, name
        assert all((s in existing_snapshots) is not removed for s in snapshots[name]), name


def test_gc_dry_run_changes_nothing(conn, ec2, service, amis):
    before = images_and_snapshots(ec2)
    result = gc_amis(conn, keep=1, dry_run=True, services=[service], now=A_DAY_LATER())
    assert result.dry_run and len(result.removed) == 4  # failed, old_verified, second_newest_verified, unverified
    assert images_and_snapshots(ec2) == before


def test_young_unverified_amis_stay_with_the_reason_until_they_are_old(conn, ec2, service, amis):
    """An AMI not (yet) verified may be under verification right now: it stays until it is older than the threshold."""
    young = gc_amis(conn, keep=2, dry_run=True, services=[service])
    assert young.unverified_min_age_s == DEFAULT_UNVERIFIED_AGE_S == 86400
    assert {r.ami_id for r in young.removed} == {amis["old_verified"]}
    kept = {k.ami_id: k.reason for k in young.kept}
    for name in ("failed", "unverified"):
        assert re.fullmatch(r"not verified, but only \d+ s old \(not older than 86400 s\): it may be under"
                            r" verification", kept[amis[name]]), kept[amis[name]]
    older = gc_amis(conn, keep=2, dry_run=True, services=[service], unverified_min_age_s=3600,
                    now=time.time() + 2 * 3600)
    assert {r.ami_id for r in older.removed} == {amis["old_verified"], amis["failed"], amis["unverified"]}


def test_gc_command_keeps_young_unverified_and_older_than_zero_removes_them(ec2, bakery_cli, service_project,
                                                                          service):
    failed, unverified = make_ami(ec2, service, verified="false"), make_ami(ec2, service, verified=None)
    gc = ("-C", service_project, "gc", service, "--target", "aws")
    default = bakery_cli(*gc)
    assert default.rc == 0, default.err
    assert f"kept:         {failed} {service}: not verified, but only" in default.out
    assert "removed:" not in default.out
    before = images_and_snapshots(ec2)
    dry = bakery_cli(*gc, "--older-than", "0", "--dry-run", "--json")
    assert dry.rc == 0, dry.err
    assert dry.json()["dry_run"] and {r["ami_id"] for r in dry.json()["removed"]} == {failed, unverified}
    assert images_and_snapshots(ec2) == before
    done = bakery_cli(*gc, "--older-than", "0")
    assert done.rc == 0, done.err
    assert done.out.count("removed:") == 2 and "FAILED" not in done.out
    assert ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:bakery:service", "Values": [service]}])[
        "Images"] == []


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


# -- AWS refusing a removal: a moto server of its own that enforces IAM policies ---------------

DENIED = {"admin": None, "no-delete-snapshot": "ec2:DeleteSnapshot", "no-deregister": "ec2:DeregisterImage",
          "no-delete-key-pair": "ec2:DeleteKeyPair"}


@pytest.fixture(scope="module")
def strict_moto(aws_env, tmp_path_factory):
    """A second moto server, in its own process (moto's IAM switch is process-wide), that enforces
    IAM policies. Its users: admin may do anything; each other user is denied one EC2 call.

    Yields (endpoint URL, {user: (access key id, secret)}).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path_factory.mktemp("strict-moto") / "moto.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/moto-api/")
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
        keys = {user: _user_with_policy(iam, user, denied) for user, denied in DENIED.items()}
        urllib.request.urlopen(urllib.request.Request(  # from now on, every call needs a user's key and permission
            url + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}))
        yield url, keys
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _user_with_policy(iam, user: str, denied: str | None) -> tuple[str, str]:
    statements = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    if denied:
        statements.append({"Effect": "Deny", "Action": denied, "Resource": "*"})
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="bakery-test",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _strict_client(strict_moto, user: str, service: str = "ec2"):
    url, keys = strict_moto
    key_id, secret = keys[user]
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key_id,
                        aws_secret_access_key=secret)


def _gc_as(user: str, strict_moto, bakery_cli, project, monkeypatch, *args):
    url, keys = strict_moto
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys[user][0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys[user][1])
    return bakery_cli("--endpoint-url", url, "-C", project, "gc", *args, "--target", "aws")


def test_a_refused_snapshot_deletion_is_failed_not_removed_and_exits_1(strict_moto, bakery_cli, service_project,
                                                                       service, monkeypatch):
    admin = _strict_client(strict_moto, "admin")
    ami = make_ami(admin, service, verified="false")
    (snapshot,) = snapshots_of(admin, ami)
    result = _gc_as("no-delete-snapshot", strict_moto, bakery_cli, service_project, monkeypatch,
                    service, "--older-than", "0")
    assert result.rc == ExitStatus.ERROR == 1, result.err
    assert "removed:" not in result.out
    assert f"FAILED:       {ami} {service}: deregistered, snapshots left: {snapshot}: AWS denied DeleteSnapshot:" \
        in result.out
    assert f"gc could not remove 1 AMI(s): {ami}" in result.err
    assert admin.describe_images(ImageIds=[ami])["Images"] == []  # the AMI went; its snapshot stayed
    assert snapshot in {s["SnapshotId"] for s in admin.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    again = _gc_as("admin", strict_moto, bakery_cli, service_project, monkeypatch, service, "--older-than", "0")
    assert again.rc == 0 and again.out == ""  # gc finds AMIs, not lone snapshots: the FAILED line is the record
    admin.delete_snapshot(SnapshotId=snapshot)


def test_a_refused_deregistration_is_failed_in_json_and_changes_nothing(strict_moto, bakery_cli, service_project,
                                                                        service, monkeypatch):
    admin = _strict_client(strict_moto, "admin")
    ami = make_ami(admin, service, verified=None)
    before = images_and_snapshots(admin)
    result = _gc_as("no-deregister", strict_moto, bakery_cli, service_project, monkeypatch,
                    service, "--older-than", "0", "--json")
    assert result.rc == 1
    report = result.json()
    assert report["removed"] == []
    (failed,) = report["failed"]
    assert failed["ami_id"] == ami and failed["deregistered"] is False
    assert failed["snapshots_left"] == snapshots_of(admin, ami)
    assert failed["error"].startswith("AWS denied DeregisterImage: AccessDenied:")
    assert images_and_snapshots(admin) == before


def test_a_refused_orphan_deletion_is_failed_and_exits_1(strict_moto, bakery_cli, aws_project, monkeypatch):
    admin = _strict_client(strict_moto, "admin")
    run_id = f"20200101T000000Z-{secrets.token_hex(3)}"
    admin.create_key_pair(KeyName=f"bakery-{run_id}-build",
                          TagSpecifications=tags.specs(["key-pair"], tags.run_tags(run_id, "build")))
    result = _gc_as("no-delete-key-pair", strict_moto, bakery_cli, aws_project, monkeypatch, "--orphans")
    assert result.rc == 1
    assert f"FAILED:       key-pair bakery-{run_id}-build (run {run_id}):" in result.out
    assert "removed:" not in result.out and "gc could not remove 1 resource(s)" in result.err
    assert leftovers(admin, run_id) == {"key_pairs": [f"bakery-{run_id}-build"]}
    assert _gc_as("admin", strict_moto, bakery_cli, aws_project, monkeypatch, "--orphans").rc == 0
    assert leftovers(admin, run_id) == {}
