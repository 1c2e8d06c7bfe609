"""The temporary resources of a run: key pairs, security groups, instances, volumes.

Each is tagged bakery:run-id (and bakery:purpose: build or verify) as it is created, so the
run can remove exactly its own on exit, and `gc_orphans` can find what a killed run left.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import botocore.exceptions

from bakery.aws import tags
from bakery.aws.session import AwsError, Connection, error_code
from bakery.errors import ConfigError, PrerequisiteError

LIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
CHECKIP_URL = "https://checkip.amazonaws.com"
SOURCE_CIDR_ENV = "BAKERY_AWS_SSH_SOURCE_CIDR"
IMDS_POLL_S = 1.0
RETRY_S = 5.0
STILL_IN_USE_CODES = frozenset({"DependencyViolation", "VolumeInUse", "IncorrectState"})
GONE_CODES = frozenset({"InvalidKeyPair.NotFound", "InvalidGroup.NotFound", "InvalidInstanceID.NotFound",
                        "InvalidVolume.NotFound"})


@dataclass(frozen=True)
class KeyPair:
    name: str
    path: Path  # private key, mode 0600, in a private temp dir


@dataclass(frozen=True)
class RunResource:
    kind: str  # instance, key-pair, security-group, volume
    id: str
    run_id: str
    purpose: str = ""
    state: str = ""


@dataclass
class Removal:
    """What a cleanup removed, and what it could not (with AWS's reason)."""

    removed: list[RunResource] = field(default_factory=list)
    failed: list[tuple[RunResource, str]] = field(default_factory=list)


def caller_cidr(conn: Connection, configured: str | None = None) -> str:
    """Who may reach a run's instances on port 22: this machine's address as a /32, never the world.

    An explicit value (BAKERY_AWS_SSH_SOURCE_CIDR, then bakery.yml) wins; against a stand-in API
    (moto, LocalStack) nothing is reachable from outside, so loopback; on AWS, the public
    address AWS sees, asked from checkip.amazonaws.com.
    """
    value = os.environ.get(SOURCE_CIDR_ENV) or configured
    if value:
        return checked_cidr(value)
    if not conn.is_aws:
        return "127.0.0.1/32"
    try:
        with urllib.request.urlopen(CHECKIP_URL, timeout=10) as answer:
            address = answer.read().decode().strip()
        return checked_cidr(f"{ipaddress.ip_address(address)}/32")
    except (OSError, ValueError) as exc:
        raise PrerequisiteError(f"cannot find this machine's public address ({exc})",
                                hint=f"set {SOURCE_CIDR_ENV}=<your address>/32") from None


def checked_cidr(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ConfigError(f"SSH source '{value}' is not an address range", hint="use <address>/32") from None
    if network.prefixlen == 0:
        raise ConfigError(f"SSH source '{value}' would open SSH to the whole internet",
                          hint="use this machine's address, <address>/32")
    return str(network)


def create_key_pair(conn: Connection, run_id: str, purpose: str, directory: Path, service: str = "") -> KeyPair:
    name = f"bakery-{run_id}-{purpose}"
    created = conn.client("ec2").create_key_pair(
        KeyName=name, KeyType="ed25519",  # Packer 1.6.6's SSH client and OpenSSH 9 both take ed25519
        TagSpecifications=tags.specs(["key-pair"], tags.run_tags(run_id, purpose, service)))
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(created["KeyMaterial"].rstrip("\n") + "\n")
    return KeyPair(name, path)


def create_security_group(conn: Connection, run_id: str, purpose: str, source_cidr: str, service: str = "") -> str:
    """A group that lets only source_cidr reach port 22 (in the default VPC)."""
    ec2 = conn.client("ec2")
    group = ec2.create_security_group(
        GroupName=f"bakery-{run_id}-{purpose}", Description=f"bakery {purpose} run {run_id}: SSH from the caller only",
        TagSpecifications=tags.specs(["security-group"], tags.run_tags(run_id, purpose, service)))["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
        "IpRanges": [{"CidrIp": checked_cidr(source_cidr), "Description": "bakery caller"}]}])
    return group


def launch_instance(conn: Connection, ami_id: str, instance_type: str, key_name: str, group_id: str,
                    instance_tags: dict[str, str]) -> str:
    """One instance of the AMI, IMDSv2 required, tagged (with its volumes) as it is born."""
    reservation = conn.client("ec2").run_instances(
        ImageId=ami_id, InstanceType=instance_type, MinCount=1, MaxCount=1, KeyName=key_name,
        SecurityGroupIds=[group_id],
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
        TagSpecifications=tags.specs(["instance", "volume"], instance_tags))
    return reservation["Instances"][0]["InstanceId"]


def instance_address(conn: Connection, instance_id: str) -> tuple[str, int]:
    """The running instance's public address (else its private one), port 22."""
    ec2 = conn.client("ec2")
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig={"Delay": 5, "MaxAttempts": 60})
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    address = instance.get("PublicIpAddress") or instance.get("PrivateIpAddress")
    if not address:
        raise PrerequisiteError(f"instance {instance_id} has no IP address",
                                hint="set aws.ssh_endpoint_command to reach it another way")
    return address, 22


def run_resources(conn: Connection, run_id: str | None = None, purpose: str | None = None) -> list[RunResource]:
    """Resources carrying bakery:run-id (of one run, or of any), terminated instances excepted."""
    ec2 = conn.client("ec2")
    filters = [tags.run_filter(run_id) if run_id else {"Name": "tag-key", "Values": [tags.RUN_ID]}]
    if purpose:
        filters.append({"Name": f"tag:{tags.PURPOSE}", "Values": [purpose]})
    found = [_resource("instance", i["InstanceId"], i.get("Tags"), i["State"]["Name"])
             for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]
             if i["State"]["Name"] in LIVE_STATES]
    found += [_resource("key-pair", k["KeyName"], k.get("Tags"))
              for k in ec2.describe_key_pairs(Filters=filters)["KeyPairs"]]
    found += [_resource("security-group", g["GroupId"], g.get("Tags"))
              for g in ec2.describe_security_groups(Filters=filters)["SecurityGroups"]]
    found += [_resource("volume", v["VolumeId"], v.get("Tags"), v["State"])
              for v in ec2.describe_volumes(Filters=filters)["Volumes"]]
    return found


def _resource(kind: str, ident: str, resource_tags, state: str = "") -> RunResource:
    values = tags.as_dict(resource_tags)
    return RunResource(kind, ident, values.get(tags.RUN_ID, ""), values.get(tags.PURPOSE, ""), state)


def remove(conn: Connection, resources: list[RunResource]) -> Removal:
    """Terminate the instances first (and wait), then delete the groups, key pairs and volumes."""
    ec2, removal = conn.client("ec2"), Removal()
    instances = [r for r in resources if r.kind == "instance"]
    if instances:
        _attempt(removal, instances, lambda: _terminate(ec2, [r.id for r in instances]))
    for item in (r for r in resources if r.kind != "instance"):
        _attempt(removal, [item], lambda item=item: _delete(ec2, item))
    return removal


def _terminate(ec2, instance_ids: list[str]) -> None:
    ec2.terminate_instances(InstanceIds=instance_ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=instance_ids, WaiterConfig={"Delay": 5, "MaxAttempts": 60})


def _attempt(removal: Removal, items: list[RunResource], action) -> None:
    try:
        action()
        removal.removed.extend(items)
    except (botocore.exceptions.ClientError, botocore.exceptions.WaiterError) as exc:
        if error_code(exc) in GONE_CODES:
            removal.removed.extend(items)
        else:
            removal.failed.extend((item, str(exc)) for item in items)


def _delete(ec2, item: RunResource, attempts: int = 36) -> None:
    """Delete one resource; AWS needs a while after termination to release groups and volumes."""
    for attempt in range(attempts):
        try:
            if item.kind == "key-pair":
                ec2.delete_key_pair(KeyName=item.id)
            elif item.kind == "security-group":
                ec2.delete_security_group(GroupId=item.id)
            elif item.kind == "volume":
                ec2.delete_volume(VolumeId=item.id)
            return
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in STILL_IN_USE_CODES or attempt == attempts - 1:
                raise
            time.sleep(RETRY_S)


@contextlib.contextmanager
def removed_on_exit(conn: Connection, run_id: str, purpose: str, record: dict | None = None) -> Iterator[None]:
    """On exit (success, error or Ctrl-C), remove every resource of this run and purpose.

    What cannot be removed fails a run that otherwise succeeded; after an error, the error
    is the news (the run dir records what is left, and gc_orphans reaps it later).
    """
    try:
        yield
    except BaseException:
        _remove_run(conn, run_id, purpose, record)
        raise
    removal = _remove_run(conn, run_id, purpose, record)
    if removal.failed:
        item, why = removal.failed[0]
        raise AwsError(f"could not remove {len(removal.failed)} resource(s) of run {run_id}: {item.kind} {item.id}:"
                       f" {why}", hint="bakery gc --target aws --orphans removes them once the run is over")


def _remove_run(conn: Connection, run_id: str, purpose: str, record: dict | None) -> Removal:
    try:
        removal = remove(conn, run_resources(conn, run_id, purpose))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        removal = Removal(failed=[(RunResource("run", run_id, run_id, purpose), str(exc))])
    if record is not None:
        record["removed"] = [f"{r.kind} {r.id}" for r in removal.removed]
        record["not_removed"] = [f"{r.kind} {r.id}: {why}" for r, why in removal.failed]
    return removal


@contextlib.contextmanager
def imdsv2_required(conn: Connection, run_id: str, purpose: str, record: dict | None = None) -> Iterator[None]:
    """While the block runs, require IMDSv2 on every instance of the run that allows IMDSv1.

    Packer 1.6.6 cannot ask for IMDSv2 (no metadata_options), so bakery sets it on the build
    instance as soon as the instance shows up (within about a second of its launch).
    """
    stop, enforced = threading.Event(), []
    watcher = threading.Thread(target=_watch_imds, args=(conn.client("ec2"), run_id, purpose, stop, enforced),
                               name=f"bakery-imds-{run_id}", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=30)
        if record is not None:
            record["imdsv2_required_on"] = list(enforced)


def _watch_imds(ec2, run_id: str, purpose: str, stop: threading.Event, enforced: list[str]) -> None:
    filters = [tags.run_filter(run_id), {"Name": f"tag:{tags.PURPOSE}", "Values": [purpose]},
               {"Name": "instance-state-name", "Values": ["pending", "running"]}]
    while not stop.wait(IMDS_POLL_S):
        try:
            for reservation in ec2.describe_instances(Filters=filters)["Reservations"]:
                for instance in reservation["Instances"]:
                    if instance.get("MetadataOptions", {}).get("HttpTokens") != "required":
                        ec2.modify_instance_metadata_options(InstanceId=instance["InstanceId"], HttpTokens="required",
                                                             HttpEndpoint="enabled")
                        enforced.append(instance["InstanceId"])
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            continue  # the API hiccuped: try again at the next tick
