"""Promotion gates on AMI tags, against moto (dev -> staging in the fixture project)."""

from __future__ import annotations

import secrets

import pytest

from aws_helpers import make_ami, tags_of
from bakery.aws import session
from bakery.aws.promote import promote
from bakery.config import load_project
from bakery.errors import ConfigError, GateRefused

pytestmark = pytest.mark.aws_rehearsal


@pytest.fixture
def project(aws_project):
    return load_project(aws_project)


@pytest.fixture
def conn(project):
    return session.connect(project.aws)


def test_out_of_order_promotion_is_refused(ec2, conn, project):
    ami = make_ami(ec2, "tiny")
    with pytest.raises(GateRefused, match="cannot go to staging before dev: it has not been promoted to dev"):
        promote(conn, project, "tiny", "staging", ami)
    assert not any(k.startswith("bakery:promoted-") for k in tags_of(ec2, ami))


def test_in_order_promotion_tags_each_environment(ec2, conn, project):
    ami = make_ami(ec2, "tiny")
    dev = promote(conn, project, "tiny", "dev", ami)
    staging = promote(conn, project, "tiny", "staging", ami)
    tags = tags_of(ec2, ami)
    assert tags["bakery:promoted-dev"] == dev.at and tags["bakery:promoted-staging"] == staging.at
    again = promote(conn, project, "tiny", "staging", ami)
    assert again.already and again.at == staging.at


@pytest.mark.parametrize("verified", ["false", None])
def test_unverified_ami_is_refused(ec2, conn, project, verified):
    ami = make_ami(ec2, "tiny", verified=verified)
    with pytest.raises(GateRefused, match=f"{ami} is not verified"):
        promote(conn, project, "tiny", "dev", ami)


def test_ami_of_another_service_is_refused(ec2, conn, project):
    ami = make_ami(ec2, f"other-{secrets.token_hex(2)}")
    with pytest.raises(GateRefused, match="is not an image of 'tiny'"):
        promote(conn, project, "tiny", "dev", ami)


def test_unknown_environment_and_ami_are_config_errors(ec2, conn, project):
    with pytest.raises(ConfigError, match="unknown environment 'qa'"):
        promote(conn, project, "tiny", "qa", make_ami(ec2, "tiny"))
    with pytest.raises(ConfigError, match="does not exist"):
        promote(conn, project, "tiny", "dev", "ami-0123456789abcdef0")
