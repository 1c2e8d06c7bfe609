"""Connections, AWS errors as bakery errors, the SSH source range, and the seam's commands."""

from __future__ import annotations

import urllib.request

import pytest

from bakery.aws import resources, seam, session
from bakery.ssh import parse_host_port
from bakery.config import AwsSettings
from bakery.errors import ConfigError, ExitStatus, PrerequisiteError
from bakery.targets.aws import AwsTarget

pytestmark = pytest.mark.aws_rehearsal


def test_arguments_beat_environment_beat_bakery_yml():
    settings = AwsSettings(region="eu-west-1", profile="yml", endpoint_url="http://yml")
    assert session.connect(settings, environ={}) == session.Connection("eu-west-1", "yml", "http://yml")
    env = {"AWS_REGION": "eu-central-1", "AWS_PROFILE": "env", "BAKERY_AWS_ENDPOINT_URL": "http://env"}
    assert session.connect(settings, environ=env) == session.Connection("eu-central-1", "env", "http://env")
    assert session.connect(settings, region="us-west-2", profile="arg", endpoint_url="http://arg", environ=env) == \
        session.Connection("us-west-2", "arg", "http://arg")


def test_missing_credentials_are_a_prerequisite_error(aws_project, bakery_cli, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(PrerequisiteError, match="no AWS credentials found"):
        AwsTarget().list_images("tiny")
    result = bakery_cli("-C", aws_project, "images", "--target", "aws")
    assert result.rc == ExitStatus.PREREQ
    last_line = result.err.strip().splitlines()[-1]
    assert last_line.startswith("bakery: error: no AWS credentials found (set AWS credentials")


def test_access_denied_is_a_prerequisite_error_at_once(moto_endpoint, aws_env):
    _moto_auth(moto_endpoint, "0")  # from now on moto checks credentials, and ours are unknown to it
    try:
        with pytest.raises(session.AwsAccessDenied, match=r"AWS denied DescribeImages: \w+") as caught:
            AwsTarget().list_images("tiny")
    finally:
        _moto_auth(moto_endpoint, "inf")
    assert isinstance(caught.value, PrerequisiteError) and caught.value.exit_status == ExitStatus.PREREQ
    assert "IAM policy" in caught.value.one_line()


def _moto_auth(endpoint: str, free_actions: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=free_actions.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).close()


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_ssh_is_never_opened_to_the_world(cidr, monkeypatch):
    with pytest.raises(ConfigError, match="whole internet"):
        resources.checked_cidr(cidr)
    monkeypatch.setenv(resources.SOURCE_CIDR_ENV, cidr)
    with pytest.raises(ConfigError):
        resources.caller_cidr(session.Connection("us-east-1"))


def test_caller_range_against_a_stand_in_is_loopback(monkeypatch):
    monkeypatch.delenv(resources.SOURCE_CIDR_ENV, raising=False)
    assert resources.caller_cidr(session.Connection("us-east-1", endpoint_url="http://127.0.0.1:1")) == "127.0.0.1/32"
    monkeypatch.setenv(resources.SOURCE_CIDR_ENV, "203.0.113.7")
    assert resources.caller_cidr(session.Connection("us-east-1")) == "203.0.113.7/32"


def test_seam_command_placeholders_fill_arguments_without_quoting():
    argv = seam.command_argv("ep up --key {key_file} --tag 'run {run_id}'", {"key_file": "/tmp/a b", "run_id": "r1"})
    assert argv == ["ep", "up", "--key", "/tmp/a b", "--tag", "run r1"]
    with pytest.raises(ConfigError, match="unknown placeholder"):
        seam.command_argv("ep {instance} {run_id}", {})


def test_endpoint_output_must_end_with_host_and_port():
    assert parse_host_port("starting...\n127.0.0.1:2222\n", "cmd") == ("127.0.0.1", 2222)
    assert parse_host_port("[::1]:22", "cmd") == ("::1", 22)
    with pytest.raises(ConfigError, match="not host:port"):
        parse_host_port("ready", "cmd")
