"""The SSH endpoint seam: commands that say where to reach an instance over SSH.

By default bakery reaches a verification instance at its address from EC2, port 22, and
Packer reaches the build instance itself. A project (or a rehearsal against moto) can
instead name commands that print `host:port` on their last line:

- `aws.ssh_endpoint_command`: the verification instance (phase "verify");
- `build_ssh_endpoint_command`: the build instance Packer provisions (phase "build"; Packer
  has not launched it yet, so {instance_id} is empty and {ami_id} is the base AMI);
- `image_mount_command`: the image's filesystem before first boot, for the hygiene checks
  (phase "mount"). bakery has made an EBS volume {volume_id} from the AMI's root snapshot and
  attached it to the verification instance {instance_id} as {device}; the command mounts its
  root filesystem read-only on that instance and prints the mount point (an absolute path on
  the instance). Without it, bakery finds the device and mounts it over SSH itself
  (bakery/aws/inspection.py). The release command runs after the checks, before the detach;
- `ssh_endpoint_release_command`: run when a phase ends, whatever happened, to release what
  the others started ({ami_id} is then the AMI the build made, or empty when it made none).

Placeholders: {phase} {run_id} {instance_id} {ami_id} {key_file} (the run's private key)
{user} (the AMI's login user) {volume_id} {device} (mount phase only). Commands are split
like a shell would, then each argument's placeholders are filled, so values never need quoting.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bakery import proc
from bakery.ssh import parse_host_port
from bakery.config import AwsSettings
from bakery.errors import ConfigError

PLACEHOLDERS = ("phase", "run_id", "instance_id", "ami_id", "key_file", "user", "volume_id", "device")
ENDPOINT_TIMEOUT_S = 600
# Environment variables override the aws: settings in bakery.yml.
ENV = {
    "verify": "BAKERY_AWS_SSH_ENDPOINT_COMMAND",
    "build": "BAKERY_AWS_BUILD_SSH_ENDPOINT_COMMAND",
    "release": "BAKERY_AWS_SSH_ENDPOINT_RELEASE_COMMAND",
    "mount": "BAKERY_AWS_IMAGE_MOUNT_COMMAND",
}
FIELDS = {"verify": "ssh_endpoint_command", "build": "build_ssh_endpoint_command",
          "release": "ssh_endpoint_release_command", "mount": "image_mount_command"}


@dataclass(frozen=True)
class SeamCommands:
    verify: str | None = None
    build: str | None = None
    release: str | None = None
    mount: str | None = None

    @classmethod
    def from_settings(cls, settings: AwsSettings) -> SeamCommands:
        return cls(**{role: os.environ.get(ENV[role]) or getattr(settings, FIELDS[role]) for role in ENV})

    def for_phase(self, phase: str) -> str | None:
        return self.build if phase == "build" else self.verify


@dataclass
class Lease:
    """Where to connect; `values` (the placeholders) may be updated for the release command."""

    host: str
    port: int
    values: dict[str, str] = field(default_factory=dict)


def command_argv(template: str, values: dict[str, str]) -> list[str]:
    unknown = sorted(set(re.findall(r"\{(\w+)\}", template)) - set(PLACEHOLDERS))
    if unknown:
        raise ConfigError(f"SSH endpoint command has unknown placeholder(s) {', '.join(unknown)}",
                          hint=f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
    argv = shlex.split(template)
    for name in PLACEHOLDERS:
        argv = [arg.replace("{" + name + "}", values.get(name, "")) for arg in argv]
    return argv


@contextlib.contextmanager
def endpoint(commands: SeamCommands, phase: str, values: dict[str, str],
             default: Callable[[], tuple[str, int]] | None = None,
             release_values: dict[str, str] | None = None) -> Iterator[Lease | None]:
    """The SSH endpoint for a phase, released when the block ends; None: no seam, no default.

    The release command gets values updated by release_values, and then by the block
    through the lease (e.g. the AMI a build made).
    """
    values = {**values, "phase": phase}
    command = commands.for_phase(phase)
    if command is None:
        yield Lease(*default(), values) if default else None
        return
    after = {**values, **(release_values or {})}
    with released(commands, after):
        printed = proc.run(command_argv(command, values), timeout=ENDPOINT_TIMEOUT_S).stdout
        lease = Lease(*parse_host_port(printed, f"the {phase} SSH endpoint command"), after)
        yield lease


@contextlib.contextmanager
def image_mount(commands: SeamCommands, values: dict[str, str]) -> Iterator[str | None]:
    """The mount point the image mount command printed, released when the block ends; None: no command."""
    if commands.mount is None:
        yield None
        return
    values = {**values, "phase": "mount"}
    with released(commands, values):
        printed = proc.run(command_argv(commands.mount, values), timeout=ENDPOINT_TIMEOUT_S).stdout
        yield parse_mount_point(printed)


@contextlib.contextmanager
def released(commands: SeamCommands, values: dict[str, str]) -> Iterator[None]:
    """Run the release command when the block ends: checked after success, best effort after an error.

    values may change inside the block (the AMI a build made); the release sees the change.
    """
    try:
        yield
    except BaseException:
        release(commands, values, check=False)
        raise
    release(commands, values, check=True)


def release(commands: SeamCommands, values: dict[str, str], *, check: bool) -> None:
    if commands.release:
        proc.run(command_argv(commands.release, values), check=check, timeout=ENDPOINT_TIMEOUT_S)


def parse_mount_point(text: str) -> str:
    """An absolute path from the last line a command printed."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if not last.startswith("/") or last == "/":
        raise ConfigError(f"the image mount command printed '{last[:80]}', not a mount point",
                          hint="print the absolute path where the image is mounted, e.g. /mnt/bakery-image")
    return last
