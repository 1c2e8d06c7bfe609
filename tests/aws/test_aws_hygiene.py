"""The hygiene checks on an AMI as baked, run on the verification instance over real SSH.

Each AMI here is made in moto and stood for by a podman image built from the base image
(clean, or carrying an SSH host key and a canary), as the rehearsal's release command would
commit one. AwsTarget boots the verification "instance" (a container running sshd), makes
an EBS volume of the AMI's root snapshot in moto and attaches it, and the rehearsal's image
mount command points at the container's read-only copy of the image: bakery.hygiene's
program then runs there as `sudo python3 -` over SSH.
"""

from __future__ import annotations

import json
import secrets

import pytest

from aws_helpers import leftovers, make_ami, snapshots_of
from bakery import proc
from bakery.aws import images, session
from bakery.config import load_project
from bakery.errors import ConfigError
from bakery.rundir import RunDir
from bakery.targets.aws import AwsTarget
from endpoint import IMAGE_MOUNT, IMAGE_REPOSITORY, LABEL_AMI_ID, LABEL_SESSION, container_name

pytestmark = pytest.mark.aws_rehearsal

CLEAN = ("rm -f /etc/ssh/ssh_host_* /var/lib/dbus/machine-id /root/.bash_history; truncate -s 0 /etc/machine-id;"
         " rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb")
PLANTED_KEY = "/etc/ssh/ssh_host_ed25519_key"


@pytest.fixture(scope="module")
def project(aws_project):
    return load_project(aws_project)


@pytest.fixture(scope="module")
def canary() -> str:
    return f"bakery-canary-{secrets.token_hex(16)}"


def ami_with_content(ec2, base_ref: str, session_token: str, script: str) -> str:
    """An AMI in moto, and the podman image that stands for what it holds: the base after script."""
    ami = make_ami(ec2, "tiny", verified="false")
    builder = f"bakery-rehearsal-content-{ami}"
    proc.run(["podman", "run", f"--name={builder}", f"--label={LABEL_SESSION}={session_token}", "--entrypoint=/bin/sh",
              base_ref, "-c", script], timeout=120)
    try:
        proc.run(["podman", "commit", "--change", 'ENTRYPOINT ["/sbin/init"]', "--change", "CMD []",
                  "--change", "STOPSIGNAL SIGRTMIN+3", "--change", f"LABEL {LABEL_AMI_ID}={ami}",
                  "--change", f"LABEL {LABEL_SESSION}={session_token}", builder, f"{IMAGE_REPOSITORY}:{ami}"],
                 timeout=300)
    finally:
        proc.run(["podman", "rm", "-f", builder], check=False)
    return ami


@pytest.fixture(scope="module")
def clean_ami(ec2, base_ref, rehearsal_token) -> str:
    return ami_with_content(ec2, base_ref, rehearsal_token, CLEAN)


@pytest.fixture(scope="module")
def dirty_ami(ec2, base_ref, rehearsal_token, canary) -> str:
    """Clean, but for a host key left from the bake and the canary written into /etc/leaked."""
    return ami_with_content(ec2, base_ref, rehearsal_token,
                            f"{CLEAN}; echo key > {PLANTED_KEY}; echo 'password={canary}' > /etc/leaked")


def hygiene_on_instance(project, ami: str, *args) -> tuple[dict, str]:
    """Boot the AMI's verification instance and run the hygiene checks on it: ({check: result}, run id)."""
    target = AwsTarget(project)
    image = images.record(images.describe(session.connect(project.aws), ami))
    run = RunDir.create(project.state_dir(), "verify")
    with target.boot_instance(image, run) as instance:
        boot = target.wait_until_booted(instance, 120)
        assert boot.state in ("running", "degraded"), boot.describe()
        results = target.instance_hygiene(image, instance, *args)
    return {r.check: r for r in results}, run.run_id


def test_a_clean_ami_passes_and_leaves_no_volume(project, clean_ami, canary, ec2):
    results, run_id = hygiene_on_instance(project, clean_ami, {}, [canary], [])
    assert list(results) == ["ssh-host-keys", "machine-id", "authorized-keys", "ansible-tmp", "apt-lists",
                             "apt-cache", "shell-history", "canary-secret"]
    assert all(r.passed and r.waived is None for r in results.values()), results
    assert leftovers(ec2, run_id) == {}
    (snapshot,) = snapshots_of(ec2, clean_ami)
    assert ec2.describe_volumes(Filters=[{"Name": "snapshot-id", "Values": [snapshot]}])["Volumes"] == []
    record = json.loads((project.state_dir() / "runs" / run_id / "aws-verify.json").read_text())
    assert record["image_volume"]["snapshot"] == snapshot and record["image_volume"]["removed"] is True
    assert not any(record["image_volume"]["volume"] in line for line in record["not_removed"])


def test_a_host_key_and_the_canary_in_the_ami_fail_over_ssh(project, dirty_ami, canary, ec2):
    results, run_id = hygiene_on_instance(project, dirty_ami, {}, [canary], [])
    # the AMI as baked: only the planted key, none of those the booted instance made for itself
    assert results["ssh-host-keys"].findings == (PLANTED_KEY,) and not results["ssh-host-keys"].passed
    assert results["canary-secret"].findings == ("/etc/leaked",) and not results["canary-secret"].passed
    assert all(results[name].passed for name in results if name not in ("ssh-host-keys", "canary-secret"))
    assert leftovers(ec2, run_id) == {}


def test_waivers_apply_and_the_bake_run_dir_is_searched_too(project, dirty_ami, canary, tmp_path):
    (tmp_path / "ansible.log").write_text(f"leaked {canary} here\n")
    waivers = {"ssh-host-keys": "the fixture plants one on purpose"}
    results, _ = hygiene_on_instance(project, dirty_ami, waivers, [canary], [tmp_path])
    assert results["ssh-host-keys"].waived == "the fixture plants one on purpose" and results["ssh-host-keys"].ok
    assert results["canary-secret"].findings == ("/etc/leaked", str(tmp_path / "ansible.log"))
    clean, _ = hygiene_on_instance(project, dirty_ami, {}, [], [])  # no secrets given: nothing to look for
    assert clean["canary-secret"].passed


def test_a_failing_mount_still_detaches_and_deletes_the_volume(project, clean_ami, ec2, monkeypatch):
    monkeypatch.setenv("BAKERY_AWS_IMAGE_MOUNT_COMMAND", "echo mounted somewhere")
    runs = set((project.state_dir() / "runs").glob("*"))
    with pytest.raises(ConfigError, match="printed 'mounted somewhere', not a mount point"):
        hygiene_on_instance(project, clean_ami, {}, [], [])
    (run,) = set((project.state_dir() / "runs").glob("*")) - runs
    assert leftovers(ec2, run.name) == {}
    assert json.loads((run / "aws-verify.json").read_text())["image_volume"]["removed"] is True
    (snapshot,) = snapshots_of(ec2, clean_ami)
    assert ec2.describe_volumes(Filters=[{"Name": "snapshot-id", "Values": [snapshot]}])["Volumes"] == []


def test_the_rehearsal_mount_is_the_pristine_read_only_image(project, dirty_ami):
    """What the mount command points at is the AMI's content, read-only, not the booted instance."""
    target = AwsTarget(project)
    image = images.record(images.describe(session.connect(project.aws), dirty_ami))
    run = RunDir.create(project.state_dir(), "verify")
    with target.boot_instance(image, run) as instance:
        target.wait_until_booted(instance, 120)
        container = container_name("verify", run.run_id)
        booted = proc.run(["podman", "exec", container, "ls", "/etc/ssh"]).stdout
        pristine = proc.run(["podman", "exec", container, "ls", f"{IMAGE_MOUNT}/etc/ssh"]).stdout
        assert "ssh_host_rsa_key" in booted  # the booted instance made its own keys
        assert [name for name in pristine.split() if name.startswith("ssh_host_")] == ["ssh_host_ed25519_key"]
        assert not proc.run(["podman", "exec", container, "touch", f"{IMAGE_MOUNT}/etc/x"], check=False).ok
