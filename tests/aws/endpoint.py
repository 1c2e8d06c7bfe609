"""The rehearsal's SSH endpoint: a local podman container stands in for each EC2 instance.

bakery runs this through its SSH endpoint seam (bakery/aws/seam.py):

    endpoint.py up   --phase build  ...  start the build "instance" from the local base image
    endpoint.py up   --phase verify ...  start the verification "instance" from the AMI's image,
                                         with that image also mounted read-only at IMAGE_MOUNT
    endpoint.py mount --phase mount ...  the image mount command: bakery has attached a volume of
                                         the AMI's root snapshot (in moto) to the instance; check
                                         that, and print IMAGE_MOUNT, where the container holds the
                                         same content, read-only, as the volume would on EC2
    endpoint.py down --phase P ...       release it; after a build that made an AMI, first commit
                                         the container as the podman image standing for that AMI
                                         (label bakery.ami-id=<ami>), which is what the AMI holds;
                                         nothing to release after the mount phase

`up` plays cloud-init: it creates the login user with passwordless sudo, adds the run's
public key to ~/.ssh/authorized_keys (the bake's last provisioner removes it again, as it
must on AWS), makes missing SSH host keys, waits for sshd, and prints 127.0.0.1:<port>.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

import boto3

from bakery import proc

IMAGE_REPOSITORY = "localhost/bakery-rehearsal/ami"
LABEL_AMI_ID = "bakery.ami-id"
LABEL_SESSION = "bakery.rehearsal-session"
SSHD_TIMEOUT_S = 90
IMAGE_MOUNT = "/mnt/bakery-image"  # the AMI's content before first boot, in a verification container


def podman(*args: str, check: bool = True, timeout: float = 300) -> proc.CommandResult:
    return proc.run(["podman", *args], check=check, timeout=timeout)


def container_name(phase: str, run_id: str) -> str:
    return f"bakery-rehearsal-{phase}-{run_id}"


def image_for_ami(ami_id: str) -> str:
    listed = podman("images", "--filter", f"label={LABEL_AMI_ID}={ami_id}", "--format", "json").stdout
    found = json.loads(listed or "[]")
    if not found:
        sys.exit(f"endpoint: no local image stands for {ami_id}")
    return found[0]["Id"]


def start(args: argparse.Namespace) -> str:
    name = container_name(args.phase, args.run)
    image = args.base if args.phase == "build" else image_for_ami(args.ami)
    labels = {"bakery.run-id": args.run, LABEL_SESSION: args.session, "bakery.rehearsal-phase": args.phase,
              "bakery.instance-id": args.instance or ""}
    pristine = [] if args.phase == "build" else [f"--mount=type=image,source={image},destination={IMAGE_MOUNT}"]
    podman("run", "-d", f"--name={name}", *[f"--label={k}={v}" for k, v in labels.items()],
           "--systemd=always", f"--hostname={args.phase}-{args.run[-6:]}", "--publish=127.0.0.1::22",
           *pristine, "--entrypoint=/bin/sh", image,
           "-c", "ssh-keygen -A >/dev/null 2>&1; exec /sbin/init")
    return name


def play_cloud_init(name: str, user: str, key_file: str) -> None:
    """What cloud-init does on a Debian AMI: the login user, sudo, and the key pair's public key.

    EC2 ends the key's line with the key pair's name; bakery names the key file after it.
    """
    key_type, key_data = proc.run(["ssh-keygen", "-y", "-f", key_file]).stdout.split()[:2]
    script = "\n".join([
        f"id -u {user} >/dev/null 2>&1 || useradd --create-home --shell /bin/bash {user}",
        f"install -d -m 700 -o {user} -g {user} /home/{user}/.ssh",
        f"echo '{key_type} {key_data} {Path(key_file).name}' >> /home/{user}/.ssh/authorized_keys",
        f"chown {user}: /home/{user}/.ssh/authorized_keys && chmod 600 /home/{user}/.ssh/authorized_keys",
        f"echo '{user} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users",
        "chmod 440 /etc/sudoers.d/90-cloud-init-users",
    ])
    podman("exec", name, "/bin/sh", "-ec", script)


def published_port(name: str) -> int:
    return int(podman("port", name, "22/tcp").stdout.strip().splitlines()[0].rsplit(":", 1)[1])


def wait_for_sshd(name: str, port: int) -> None:
    deadline = time.monotonic() + SSHD_TIMEOUT_S
    while time.monotonic() < deadline:
        if podman("exec", name, "systemctl", "is-active", "ssh.service", check=False).stdout.strip() == "active" \
                and _banner(port).startswith("SSH-"):
            return
        time.sleep(0.3)
    sys.exit(f"endpoint: sshd in {name} did not come up in {SSHD_TIMEOUT_S} s")


def _banner(port: int) -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
            return conn.recv(64).decode(errors="replace")
    except OSError:
        return ""


def up(args: argparse.Namespace) -> None:
    name = start(args)
    try:
        play_cloud_init(name, args.user, args.key)
        port = published_port(name)
        wait_for_sshd(name, port)
    except BaseException:
        podman("rm", "-f", "-t", "2", name, check=False)
        raise
    print(f"127.0.0.1:{port}")


def mount(args: argparse.Namespace) -> None:
    """The image mount command: the volume must be attached to the instance, the container must hold the image."""
    ec2 = boto3.client("ec2", endpoint_url=os.environ["BAKERY_AWS_ENDPOINT_URL"])
    volume = ec2.describe_volumes(VolumeIds=[args.volume])["Volumes"][0]
    attached = [a["InstanceId"] for a in volume.get("Attachments", []) if a["State"] == "attached"]
    if attached != [args.instance]:
        sys.exit(f"endpoint: volume {args.volume} is attached to {attached or 'nothing'}, not {args.instance}")
    name = container_name("verify", args.run)
    if not podman("exec", name, "test", "-e", f"{IMAGE_MOUNT}/etc/os-release", check=False).ok:
        sys.exit(f"endpoint: {name} holds no image at {IMAGE_MOUNT}")
    print(IMAGE_MOUNT)


def down(args: argparse.Namespace) -> None:
    name = container_name(args.phase, args.run)
    exists = podman("container", "exists", name, check=False).ok
    try:
        if exists and args.phase == "build" and args.ami:
            podman("commit", "--change", 'ENTRYPOINT ["/sbin/init"]', "--change", "CMD []",
                   "--change", "STOPSIGNAL SIGRTMIN+3", "--change", f"LABEL {LABEL_AMI_ID}={args.ami}",
                   "--change", f"LABEL {LABEL_SESSION}={args.session}", name, f"{IMAGE_REPOSITORY}:{args.ami}",
                   timeout=900)
    finally:
        if exists:
            podman("rm", "-f", "-t", "2", name, check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "mount", "down"])
    parser.add_argument("--phase", required=True, choices=["build", "verify", "mount"])
    parser.add_argument("--run", required=True)
    parser.add_argument("--session", required=True, help="labels everything this rehearsal makes")
    parser.add_argument("--base", default="", help="local image the build instance starts from")
    parser.add_argument("--ami", default="")
    parser.add_argument("--instance", default="")
    parser.add_argument("--volume", default="", help="mount: the volume bakery attached to the instance")
    parser.add_argument("--key", default="", help="the run's private key")
    parser.add_argument("--user", default="admin")
    args = parser.parse_args(argv)
    {"up": up, "mount": mount, "down": down}[args.action](args)


if __name__ == "__main__":
    main()
