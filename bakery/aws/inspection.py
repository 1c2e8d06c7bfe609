"""An AMI's filesystem before its first boot, examined on the verification instance.

The hygiene checks must see the image as it was baked, not the booted instance (which has
made SSH host keys and a machine id by then). So bakery makes an EBS volume from the AMI's
root snapshot, tagged with the run like every temporary resource, attaches it to the
verification instance as a second device, mounts its root filesystem read-only, and runs
bakery.hygiene's program there over SSH (`sudo python3 - <mount point>`; the program and the
secrets it looks for go on stdin). The volume is unmounted, detached and deleted when the
block ends, whatever happens; the run's cleanup (resources.removed_on_exit) and
`bakery gc --orphans` find it by its tags if that fails.

The mount itself is the SSH endpoint seam's `image_mount_command` when one is set (the moto
rehearsal mounts the AMI's podman image in the container standing for the instance);
otherwise bakery runs MOUNT_SCRIPT on the instance: it finds the device (Nitro instances show
EBS volumes as NVMe disks named after the volume id in /dev/disk/by-id; Xen ones as
/dev/xvdf or /dev/sdf), and mounts the partition that holds /etc/os-release.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import botocore.exceptions

from bakery import hygiene, proc
from bakery.aws import images, seam, tags
from bakery.aws.session import AwsError, Connection, error_code
from bakery.ssh import SshEndpoint
from bakery.errors import ConfigError

DEVICE = "/dev/sdf"  # what bakery asks EC2 for; the instance may name it otherwise (see MOUNT_SCRIPT)
MOUNT_POINT = "/mnt/bakery-image"
VOLUME_WAIT_S = 300.0
VOLUME_POLL_S = 2.0
SCRIPT_TIMEOUT_S = 300
CHECKS_TIMEOUT_S = 1800  # a volume made from a snapshot reads slowly the first time
DETACHED_CODES = frozenset({"IncorrectState", "InvalidAttachment.NotFound", "InvalidVolume.NotFound"})

# Arguments: the volume id, the mount point. Prints the mount point. Read-only all the way:
# the block devices are set read-only, and the journal is not replayed (noload/norecovery).
MOUNT_SCRIPT = r"""
set -eu
volume=$1 mount_point=$2
device=
for _ in $(seq 1 60); do
  for candidate in "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_$(echo "$volume" | tr -d -)" /dev/xvdf /dev/sdf; do
    if [ -b "$candidate" ]; then device=$(readlink -f "$candidate"); break 2; fi
  done
  sleep 1
done
[ -n "$device" ] || { echo "no block device for $volume after 60 s" >&2; exit 3; }
udevadm settle 2>/dev/null || true
blockdev --setro "$device"
mkdir -p "$mount_point"
for part in $(lsblk -lnpo NAME,TYPE "$device" | awk '$2 == "part" {print $1}') "$device"; do
  blockdev --setro "$part" 2>/dev/null || true
  case "$(blkid -o value -s TYPE "$part" 2>/dev/null || true)" in
    ext2|ext3|ext4) options=ro,noload ;;
    xfs) options=ro,norecovery,nouuid ;;
    btrfs) options=ro,nologreplay ;;
    *) continue ;;
  esac
  if mount -o "$options,nodev,nosuid,noexec" "$part" "$mount_point"; then
    if [ -e "$mount_point/etc/os-release" ]; then echo "$mount_point"; exit 0; fi
    umount "$mount_point"
  fi
done
echo "no root filesystem (one with /etc/os-release) on $device" >&2
exit 4
"""


def examine_image(conn: Connection, ssh: SshEndpoint, commands: seam.SeamCommands, values: dict[str, str],
                  service: str, secrets: list[str], record: dict) -> str:
    """What bakery.hygiene's program printed about the AMI's root filesystem, as it was baked.

    values: the verification's seam placeholders (run_id, instance_id, ami_id, key_file, user);
    record: the run's aws-verify.json, which gets the volume as "image_volume".
    """
    with attached_volume(conn, values["ami_id"], values["instance_id"], values["run_id"], service,
                         record) as volume_id, \
            mounted(ssh, commands, {**values, "volume_id": volume_id, "device": DEVICE}) as mount_point:
        return proc.run(ssh.argv("sudo", "-n", "python3", "-", mount_point),
                        stdin_data=hygiene.remote_program(secrets), timeout=CHECKS_TIMEOUT_S).stdout


# -- the volume ------------------------------------------------------------------------------

@contextlib.contextmanager
def attached_volume(conn: Connection, ami_id: str, instance_id: str, run_id: str, service: str,
                    record: dict) -> Iterator[str]:
    """A volume of the AMI's root snapshot, attached to the instance at DEVICE; detached and deleted
    when the block ends (a failure to do so fails a block that succeeded)."""
    ec2 = conn.client("ec2")
    volume_id = ""
    try:
        snapshot = root_snapshot(conn, ami_id)
        volume_id = ec2.create_volume(
            SnapshotId=snapshot, AvailabilityZone=availability_zone(conn, instance_id),
            VolumeType="gp3", TagSpecifications=tags.specs(["volume"], tags.run_tags(run_id, "verify", service)),
        )["VolumeId"]
        record["image_volume"] = {"volume": volume_id, "snapshot": snapshot, "device": DEVICE, "removed": False}
        wait_for_volume(ec2, volume_id, lambda v: v["State"] == "available", "available")
        ec2.attach_volume(Device=DEVICE, InstanceId=instance_id, VolumeId=volume_id)
        wait_for_volume(ec2, volume_id, lambda v: any(a["State"] == "attached" for a in v.get("Attachments", [])),
                        f"attached to {instance_id}")
        yield volume_id
    except BaseException:
        if volume_id:
            with contextlib.suppress(AwsError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                remove_volume(ec2, volume_id, instance_id, record)
        raise
    remove_volume(ec2, volume_id, instance_id, record)


def root_snapshot(conn: Connection, ami_id: str) -> str:
    image = images.describe(conn, ami_id)
    if image is None:
        raise ConfigError(f"AMI {ami_id} does not exist in {conn.region}")
    mappings = [m for m in image.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("SnapshotId")]
    root = next((m for m in mappings if m.get("DeviceName") == image.get("RootDeviceName")), None)
    chosen = root or (mappings[0] if mappings else None)
    if chosen is None:
        raise ConfigError(f"{ami_id} has no EBS snapshot to examine", hint="the aws target needs EBS-backed AMIs")
    return chosen["Ebs"]["SnapshotId"]


def availability_zone(conn: Connection, instance_id: str) -> str:
    reservations = conn.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservations[0]["Instances"][0]["Placement"]["AvailabilityZone"]


def wait_for_volume(ec2, volume_id: str, ready, what: str) -> None:
    deadline = time.monotonic() + VOLUME_WAIT_S
    while True:
        volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
        if ready(volume):
            return
        if time.monotonic() > deadline:
            raise AwsError(f"volume {volume_id} is not {what} after {VOLUME_WAIT_S:.0f} s (state {volume['State']})",
                           hint="bakery gc --target aws --orphans removes it once the run is over")
        time.sleep(VOLUME_POLL_S)


def remove_volume(ec2, volume_id: str, instance_id: str, record: dict) -> None:
    """Detach the volume (if it is attached), wait until it is free, and delete it."""
    try:
        ec2.detach_volume(VolumeId=volume_id, InstanceId=instance_id)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in DETACHED_CODES:
            raise
    try:
        wait_for_volume(ec2, volume_id, lambda v: v["State"] == "available", "detached")
        ec2.delete_volume(VolumeId=volume_id)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != "InvalidVolume.NotFound":
            raise
    record["image_volume"]["removed"] = True


# -- the mount -------------------------------------------------------------------------------

@contextlib.contextmanager
def mounted(ssh: SshEndpoint, commands: seam.SeamCommands, values: dict[str, str]) -> Iterator[str]:
    """Where the volume's root filesystem is mounted read-only on the instance: by the seam's image
    mount command when one is set, else by MOUNT_SCRIPT over SSH; unmounted when the block ends."""
    with seam.image_mount(commands, values) as mount_point:
        if mount_point is not None:
            yield mount_point
            return
        printed = proc.run(ssh.argv("sudo", "-n", "sh", "-s", "--", values["volume_id"], MOUNT_POINT),
                           stdin_data=MOUNT_SCRIPT, timeout=SCRIPT_TIMEOUT_S).stdout
        mount_point = seam.parse_mount_point(printed)
        try:
            yield mount_point
        finally:
            ssh.run("sudo", "-n", "umount", mount_point, timeout=SCRIPT_TIMEOUT_S)
