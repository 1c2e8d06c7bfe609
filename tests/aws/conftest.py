"""The AWS rehearsal: a real moto server over HTTP, real Packer, Ansible and testinfra, and
local podman containers (running sshd) standing in for the EC2 instances.

Wiring (see tests/aws/endpoint.py): bakery's SSH endpoint seam starts a container for the
build instance; when Packer has made the AMI, the release command commits the container as
a podman image labelled bakery.ami-id=<ami> (what the AMI holds); verification boots a
container from that image. Everything this session makes carries the label
bakery.rehearsal-session=<token> and is removed at the end. The verification container also
holds the AMI's image, read-only, at /mnt/bakery-image: the image mount command points the
hygiene checks there, as a volume of the AMI's snapshot would on EC2.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from bakery import base as bases
from bakery import proc
from bakery.config import load_project
from helpers import REPO, CliResult, copy_fixture_project, podman_json

REGION = "us-east-1"
# A moto catalog AMI whose root device is EBS (moto's create_image needs one).
CATALOG_FILTER = {"name": "ubuntu/images/hvm-ssd/ubuntu-xenial-16.04-amd64-server-*", "owners": ["099720109477"]}
ENDPOINT_SCRIPT = REPO / "tests" / "aws" / "endpoint.py"
SLOW_ROLE = ("---\n- name: Take a while (so a test can interrupt the bake)\n"
             "  ansible.builtin.command: sleep 120\n  changed_when: false\n")


@pytest.fixture(scope="session")
def rehearsal_token() -> str:
    return f"aws-{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def aws_env(moto_endpoint, rehearsal_token, tmp_path_factory):
    """Fake credentials, the moto endpoint and the rehearsal's release and mount seams, for bakery and Packer.

    The build seam needs the podman base, so only tests that bake ask for it (build_seam): the
    tests that need only moto never bootstrap a base."""
    empty = tmp_path_factory.mktemp("aws-config") / "none"
    release = (f"{sys.executable} {ENDPOINT_SCRIPT} down --session {rehearsal_token} --phase {{phase}}"
               " --run {run_id} --ami {ami_id}")
    mount = (f"{sys.executable} {ENDPOINT_SCRIPT} mount --session {rehearsal_token} --phase {{phase}}"
             " --run {run_id} --instance {instance_id} --volume {volume_id}")
    values = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(empty), "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true", "BAKERY_AWS_ENDPOINT_URL": moto_endpoint,
        "BAKERY_AWS_SSH_ENDPOINT_RELEASE_COMMAND": release, "BAKERY_AWS_IMAGE_MOUNT_COMMAND": mount,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "BAKERY_AWS_SSH_ENDPOINT_COMMAND",
                     "BAKERY_AWS_BUILD_SSH_ENDPOINT_COMMAND", "BAKERY_AWS_SSH_SOURCE_CIDR"):
            patch.delenv(name, raising=False)
        for name, value in values.items():
            patch.setenv(name, value)
        yield values


@pytest.fixture(scope="session")
def build_seam(aws_env, rehearsal_token, base_ref):
    """The build seam: Packer's "instance" is a container of the local base (bootstrapped here if needed)."""
    build = (f"{sys.executable} {ENDPOINT_SCRIPT} up --session {rehearsal_token} --base {base_ref} --phase {{phase}}"
             " --run {run_id} --ami {ami_id} --key {key_file} --user {user}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BAKERY_AWS_BUILD_SSH_ENDPOINT_COMMAND", build)
        yield build


@pytest.fixture(scope="session")
def base_ref(tmp_path_factory) -> str:
    """The local base image the build "instance" starts from (bootstrapped once per machine)."""
    project = load_project(copy_fixture_project(tmp_path_factory.mktemp("base") / "project"))
    return bases.ensure_base(project, "debian-12", log=lambda m: None).ref


@pytest.fixture(scope="session")
def aws_project(tmp_path_factory, aws_env, moto_endpoint, rehearsal_token) -> Path:
    """The fixture project with an aws section, a base AMI filter, and a slow service."""
    project = copy_fixture_project(tmp_path_factory.mktemp("aws") / "project")
    config = yaml.safe_load((project / "bakery.yml").read_text())
    config["bases"]["debian-12"]["source_ami_filter"] = CATALOG_FILTER
    verify = (f"{sys.executable} {ENDPOINT_SCRIPT} up --session {rehearsal_token} --phase {{phase}} --run {{run_id}}"
              " --ami {ami_id} --instance {instance_id} --key {key_file} --user {user}")
    config["aws"] = {"region": REGION, "endpoint_url": moto_endpoint, "ssh_endpoint_command": verify}
    config["services"]["slow"] = {"playbook": "playbooks/slow.yml", "base": "debian-12"}
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (project / "playbooks" / "slow.yml").write_text(
        "---\n- name: Fixture service slow\n  hosts: all\n  become: true\n  roles: [motd, sleepy]\n")
    (project / "roles" / "sleepy" / "tasks").mkdir(parents=True)
    (project / "roles" / "sleepy" / "tasks" / "main.yml").write_text(SLOW_ROLE)
    return project


@pytest.fixture(scope="session")
def bakery_cli(aws_env):
    """bakery's CLI in-process (its real main() and error boundary), usable by session fixtures."""
    from bakery.cli import main

    def invoke(*args) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in args])
        return CliResult(int(rc), out.getvalue(), err.getvalue())

    return invoke


@pytest.fixture(scope="session")
def ec2(aws_env, moto_endpoint):
    return boto3.client("ec2", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture(scope="session")
def ssm(aws_env, moto_endpoint):
    return boto3.client("ssm", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture(scope="session")
def autoscaling(aws_env, moto_endpoint):
    return boto3.client("autoscaling", endpoint_url=moto_endpoint, region_name=REGION)


@pytest.fixture(scope="session", autouse=True)
def rehearsal_images_removed(rehearsal_token):
    """The podman images standing for AMIs are this session's own: remove them at the end."""
    yield
    label = f"label=bakery.rehearsal-session={rehearsal_token}"
    for container in podman_json("ps", "-a", "--filter", label):
        proc.run(["podman", "rm", "-f", "-t", "2", container["Id"]], check=False)
    for image in podman_json("images", "--filter", label):
        proc.run(["podman", "rmi", "-f", image["Id"]], check=False)


@pytest.fixture(autouse=True)
def no_rehearsal_container_left(rehearsal_token):
    yield
    left = podman_json("ps", "-a", "--filter", f"label=bakery.rehearsal-session={rehearsal_token}")
    assert not left, f"the test left containers: {[c['Names'] for c in left]}"
