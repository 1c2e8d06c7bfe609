"""AWS target: an AMI baked by Packer's amazon-ebs builder, verified on an instance over SSH.

Where things live:
- the base is the newest AMI matching the base's `source_ami_filter`;
- an image is an AMI owned by this account and tagged bakery:service, bakery:fingerprint,
  bakery:run-id, bakery:verified (true/false), ... (packer/aws.pkr.hcl); its labels are the
  tags with `bakery:` spelled `bakery.`, as the local target's labels are;
- every temporary resource (build and verification instances, key pairs, security groups,
  volumes) carries bakery:run-id and bakery:purpose, and goes when its block ends.

The hygiene checks need the image's filesystem before first boot. On AWS it is a volume made
from the AMI's root snapshot, attached to the booted verification instance and examined there
over SSH (`instance_hygiene`, bakery/aws/inspection.py): `hygiene_on_instance` tells verify
to run them on the instance rather than on `image_root`.
"""

from __future__ import annotations

import contextlib
import functools
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import botocore.exceptions

from bakery import catalog, hygiene, packer, proc
from bakery.aws import images, inspection, resources, seam, tags, verdicts
from bakery.aws.session import Connection, connect, translated_errors
from bakery.ssh import SshEndpoint, write_config
from bakery.config import CONFIG_NAME, AwsSettings, Project, load_project
from bakery.errors import BakeryError, BuildFailed, ConfigError
from bakery.hygiene import HygieneResult
from bakery.private import private_dir
from bakery.rundir import RunDir
from bakery.state import StateDir
from bakery.systemd import Shell, wait_for_boot
from bakery.targets.base import BaseArtifact, BootResult, ImageRecord, Instance, Target

POLL_S = 1.0
DEFAULT_SSH_USER = "admin"


def verified_parameter(service: str) -> str:
    """The SSM parameter naming the service's newest verified AMI."""
    return f"/bakery/{service}/verified-ami"


@dataclass(frozen=True)
class VerifyConnection:
    """How to reach a verification instance: SSH, the seam placeholders of its run, and its
    record (written to aws-verify.json when the instance is gone)."""

    ssh: SshEndpoint
    seam_values: dict[str, str]
    record: dict


class AwsTarget(Target):
    name = "aws"
    packer_source = "bakery.amazon-ebs.aws"
    hygiene_on_instance = True  # the hygiene checks run on the booted verification instance (instance_hygiene)

    def __init__(self, project: Project | None = None, *, region: str | None = None, profile: str | None = None,
                 endpoint_url: str | None = None):
        self._project = project
        self._overrides = {"region": region, "profile": profile, "endpoint_url": endpoint_url}
        self._conn: Connection | None = None
        self._cidr: str | None = None
        self._verifications: dict[str, VerifyConnection] = {}
        self._amis: list[dict] | None = None  # inside snapshot(): bakery's AMIs in the account, newest first

    @classmethod
    def create(cls, project: Project | None = None, **options) -> AwsTarget:
        return cls(project, **options)

    def verdict(self, project: Project, image: ImageRecord, expected_key: catalog.ExpectedKey | None,
                trusted: list) -> catalog.VerdictState:
        """The AMI's own signed verdict tags are the record on AWS (bakery/aws/verdicts.py)."""
        return verdicts.verdict_state(image, expected_key, trusted)

    # -- settings ---------------------------------------------------------------------------

    @property
    def settings(self) -> AwsSettings:
        return self._project.aws if self._project else AwsSettings()

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            self._conn = connect(self.settings, **self._overrides)
        return self._conn

    def bind(self, project: Project) -> None:
        """Use this project's aws settings (get_target does not pass the project yet)."""
        if self._project is None:
            self._project, self._conn = project, None

    def bind_run(self, run: RunDir) -> None:
        """The project a run belongs to: its run dir is <root>/.bakery/runs/<run-id>."""
        root = StateDir.of_run(run.path).project_root
        if self._project is None and (root / CONFIG_NAME).is_file():
            self.bind(load_project(root))

    def _base_ssh_user(self, service: str) -> str:
        """The login user of the service's base (an AMI baked before bakery labelled its user)."""
        if self._project is not None and service in self._project.services:
            return self._project.base(self._project.service(service).base).ssh_username
        return DEFAULT_SSH_USER

    def caller_cidr(self) -> str:
        if self._cidr is None:
            self._cidr = resources.caller_cidr(self.conn, self.settings.ssh_source_cidr)
        return self._cidr

    # -- the Target interface -----------------------------------------------------------------

    def ensure_prerequisites(self) -> None:
        packer.packer_version()
        proc.run(["ssh", "-V"], timeout=30)

    def prepare_base(self, project: Project, base_name: str, log) -> BaseArtifact:
        base = self.find_base(project, base_name)
        if base is None:
            wanted = project.base(base_name).source_ami_filter
            raise ConfigError(f"no AMI matches bases.{base_name}.source_ami_filter (name {wanted.name},"
                              f" owners {', '.join(wanted.owners)}) in {self.conn.region}",
                              hint="check the filter, the region and the account's access to those AMIs")
        log(f"base AMI {base.image_id} ({base.ref})")
        return base

    def find_base(self, project: Project, base_name: str) -> BaseArtifact | None:
        self.bind(project)
        base = project.base(base_name)
        if base.source_ami_filter is None:
            raise ConfigError(f"bases.{base_name}.source_ami_filter is not set",
                              hint="the aws target finds its base AMI with that filter")
        with translated_errors():
            found = images.pick_base_ami(images.matching_amis(self.conn, base.source_ami_filter),
                                         base.source_ami_filter, base_name)
        return BaseArtifact(base_name, found.get("Name", found["ImageId"]), found["ImageId"],
                            base.ssh_username) if found else None

    def packer_variables(self, base: BaseArtifact) -> dict:
        conn, settings = self.conn, self.settings
        return {
            "aws_region": conn.region,
            "aws_profile": conn.profile or "",
            "aws_endpoint_url": conn.endpoint_url or "",
            "aws_source_ami": base.image_id,
            "aws_instance_type": settings.instance_type,
            "aws_kms_key_id": settings.kms_key_id or "",
            "aws_ami_regions": list(settings.copy_regions),
            "aws_ssh_username": base.ssh_user,
            "aws_ssh_source_cidrs": [self.caller_cidr()],
            "ansible_user": base.ssh_user,
        }

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One describe_images for every service's AMIs instead of one or two per service."""
        with translated_errors():
            listing = images.bakery_amis(self.conn)
        outer, self._amis = self._amis, listing
        try:
            yield
        finally:
            self._amis = outer

    def find_image(self, service: str, fingerprint: str) -> ImageRecord | None:
        if self._amis is not None:
            found = next((i for i in self._amis if images.is_verified_ami(i, service, fingerprint)), None)
        else:
            with translated_errors():
                found = images.verified_ami(self.conn, service, fingerprint)
        return images.record(found) if found else None

    def record_image(self, service: str, fingerprint: str, manifest_build: dict) -> ImageRecord:
        conn = self.conn
        ami_id = images.home_ami(manifest_build["artifact_id"], conn.region)
        with translated_errors():
            found = images.describe(conn, ami_id)
        if found is None:
            raise BuildFailed(f"Packer reported {ami_id}, but {conn.region} does not know it")
        record = images.record(found)
        if record.fingerprint != fingerprint:
            raise BuildFailed(f"{ami_id} carries fingerprint '{record.fingerprint[:12]}', expected {fingerprint[:12]}")
        return record

    def list_images(self, service: str | None = None) -> list[ImageRecord]:
        if self._amis is not None:
            records = [images.record(i) for i in self._amis]
            return [r for r in records if service is None or r.service == service]
        with translated_errors():
            return [images.record(i) for i in images.bakery_amis(self.conn, service)]

    @contextlib.contextmanager
    def boot_instance(self, image: ImageRecord, run: RunDir) -> Iterator[Instance]:
        self.bind_run(run)
        record: dict = {"purpose": "verify", "ami": image.image_id}
        try:
            with private_dir(run.run_id, "ssh") as keys, translated_errors(), \
                    resources.removed_on_exit(self.conn, run.run_id, "verify", record):
                instance_id, key = self._launch_verification_instance(image, run, keys, record)
                with self._verify_endpoint(image, run, instance_id, key, keys, record) as ssh:
                    yield Instance(instance_id, ssh.host_spec())
        finally:
            run.write_json("aws-verify.json", record)

    def _launch_verification_instance(self, image: ImageRecord, run: RunDir, private: Path,
                                      record: dict) -> tuple[str, resources.KeyPair]:
        conn, cidr = self.conn, self.caller_cidr()
        key = resources.create_key_pair(conn, run.run_id, "verify", private, image.service)
        group = resources.create_security_group(conn, run.run_id, "verify", cidr, image.service)
        record.update(key_pair=key.name, security_group=group, source_cidr=cidr)
        instance_id = resources.launch_instance(conn, image.image_id, self.settings.instance_type, key.name, group,
                                                tags.run_tags(run.run_id, "verify", image.service))
        record["instance"] = instance_id
        return instance_id, key

    @contextlib.contextmanager
    def _verify_endpoint(self, image: ImageRecord, run: RunDir, instance_id: str, key: resources.KeyPair,
                         private: Path, record: dict) -> Iterator[SshEndpoint]:
        """SSH to the verification instance: through the seam, else at its EC2 address, port 22."""
        user = image.labels.get("bakery.ssh-user") or self._base_ssh_user(image.service)
        values = {"run_id": run.run_id, "instance_id": instance_id, "ami_id": image.image_id,
                  "key_file": str(key.path), "user": user}
        default = functools.partial(resources.instance_address, self.conn, instance_id)
        with seam.endpoint(self._seam(), "verify", values, default) as lease:
            ssh = SshEndpoint(user, lease.host, lease.port, key.path, write_config(private))
            self._verifications[instance_id] = VerifyConnection(ssh, values, record)
            try:
                yield ssh
            finally:
                del self._verifications[instance_id]

    def wait_until_booted(self, instance: Instance, timeout_s: float) -> BootResult:
        started = time.monotonic()
        try:
            with translated_errors():
                self.conn.client("ec2").get_waiter("instance_running").wait(
                    InstanceIds=[instance.name], WaiterConfig={"Delay": 2, "MaxAttempts": max(1, int(timeout_s // 2))})
        except botocore.exceptions.WaiterError:
            return BootResult("timeout", round(time.monotonic() - started, 2), pending_units=("ec2 instance",))
        return wait_for_boot(self.instance_shell(instance), timeout_s, started, POLL_S)

    def instance_shell(self, instance: Instance) -> Shell:
        ssh = self._verifications[instance.name].ssh
        return lambda script: ssh.run("sudo", "-n", "sh", "-c", shlex.quote(script), timeout=60).stdout

    def instance_hygiene(self, image: ImageRecord, instance: Instance, waivers: dict[str, str], secrets: list[str],
                         extra_roots: list[Path]) -> list[HygieneResult]:
        """The hygiene checks on the AMI as baked (a volume of its root snapshot), from the booted instance.

        The secrets are also searched for here, in extra_roots (the bake's run dirs).
        """
        verification = self._verifications[instance.name]
        with translated_errors():
            printed = inspection.examine_image(self.conn, verification.ssh, self._seam(), verification.seam_values,
                                               image.service, secrets, verification.record)
        return hygiene.results_from_remote(printed, waivers, secrets, extra_roots)

    def record_verdict(self, image: ImageRecord, verdict: catalog.Verdict) -> None:
        conn = self.conn
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with translated_errors():
            conn.client("ec2").create_tags(Resources=[image.image_id], Tags=tags.as_list(
                {**verdicts.verdict_tags(verdict), tags.VERIFIED_AT: now}))
            if verdict.verdict == catalog.PASSED:
                conn.client("ssm").put_parameter(Name=verified_parameter(image.service), Value=image.image_id,
                                                 Type="String", DataType="aws:ec2:image", Overwrite=True,
                                                 Description=f"newest verified AMI of {image.service} (bakery)")

    @contextlib.contextmanager
    def build_session(self, run: RunDir, base: BaseArtifact) -> Iterator[dict[str, str]]:
        """Packer's key pair and security group (tagged), IMDSv2, the build SSH seam; all gone on exit."""
        self.bind_run(run)
        conn, record = self.conn, {"purpose": "build"}
        try:
            with private_dir(run.run_id, "aws") as keys, translated_errors(), \
                    resources.removed_on_exit(conn, run.run_id, "build", record), \
                    resources.imdsv2_required(conn, run.run_id, "build", record):
                key = resources.create_key_pair(conn, run.run_id, "build", keys)
                group = resources.create_security_group(conn, run.run_id, "build", self.caller_cidr())
                record.update(key_pair=key.name, security_group=group, source_cidr=self.caller_cidr())
                env = {"PKR_VAR_aws_ssh_keypair_name": key.name, "PKR_VAR_aws_ssh_private_key_file": str(key.path),
                       "PKR_VAR_aws_security_group_id": group}
                values = {"run_id": run.run_id, "key_file": str(key.path), "user": base.ssh_user,
                          "instance_id": "", "ami_id": base.image_id}
                # the release command gets the AMI the build made, or "" when it made none
                with seam.endpoint(self._seam(), "build", values, release_values={"ami_id": ""}) as lease:
                    if lease is not None:
                        env.update(PKR_VAR_aws_ssh_host=lease.host, PKR_VAR_aws_ssh_port=str(lease.port))
                        record["ssh_endpoint"] = f"{lease.host}:{lease.port}"
                    yield env
                    if lease is not None:
                        lease.values["ami_id"] = built_ami(run, conn.region)
        finally:
            run.write_json("aws-build.json", record)

    def _seam(self) -> seam.SeamCommands:
        return seam.SeamCommands.from_settings(self.settings)


def built_ami(run: RunDir, region: str) -> str:
    """The AMI this run's Packer build made, or "" when it made none."""
    try:
        build = packer.read_manifest(run.manifest)
        return images.home_ami(build["artifact_id"], region)
    except (BakeryError, KeyError, ValueError):
        return ""
