"""Promotion gates on AMI tags, against moto (dev -> staging in the fixture project)."""

from __future__ import annotations

import secrets

import pytest

from aws_helpers import make_ami, tags_of
from bakery.aws import session
from bakery.aws.promote import promote
from bakery.config import load_project
from bakery.errors import ConfigError, ExitStatus, GateRefused

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


def test_prod_needs_approval_and_the_refusal_leaves_no_tag(ec2, conn, project):
    """prod has approval: true; without approve the AMI, ready in every other way, stays out of prod."""
    assert project.environments["prod"].approval
    ami = make_ami(ec2, "tiny", tags={"bakery:promoted-dev": "2020-01-01T00:00:00Z",
                                      "bakery:promoted-staging": "2020-01-01T00:00:01Z"})
    with pytest.raises(GateRefused, match="promoting to prod needs approval") as refused:
        promote(conn, project, "tiny", "prod", ami)
    assert refused.value.hint == "rerun with --approve"
    assert "bakery:promoted-prod" not in tags_of(ec2, ami)
    approved = promote(conn, project, "tiny", "prod", ami, approve=True)
    assert tags_of(ec2, ami)["bakery:promoted-prod"] == approved.at and not approved.already


def test_approval_does_not_skip_the_other_gates(ec2, conn, project):
    ami = make_ami(ec2, "tiny", tags={"bakery:promoted-dev": "2020-01-01T00:00:00Z"})
    with pytest.raises(GateRefused, match="cannot go to prod before staging"):
        promote(conn, project, "tiny", "prod", ami, approve=True)
    unverified = make_ami(ec2, "tiny", verified="false", tags={"bakery:promoted-staging": "2020-01-01T00:00:00Z"})
    with pytest.raises(GateRefused, match="is not verified"):
        promote(conn, project, "tiny", "prod", unverified, approve=True)


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


def test_promote_command_gates_and_exit_codes(ec2, bakery_cli, aws_project):
    ami = make_ami(ec2, "tiny")
    refused = bakery_cli("-C", aws_project, "promote", "tiny", "--to", "staging", "--image", ami)
    assert refused.rc == 7 and "before dev" in refused.err
    done = bakery_cli("-C", aws_project, "promote", "tiny", "--to", "dev", "--image", ami, "--json")
    assert done.rc == 0, done.err
    assert done.json()["ami_id"] == ami and tags_of(ec2, ami)["bakery:promoted-dev"] == done.json()["at"]
    # without --image, staging takes the newest AMI promoted to dev
    staging = bakery_cli("-C", aws_project, "promote", "tiny", "--to", "staging", "--json")
    assert staging.rc == 0, staging.err
    assert staging.json()["ami_id"] == ami


def test_promote_command_takes_the_tag_images_prints(ec2, bakery_cli, aws_project):
    ami = make_ami(ec2, "tiny", verified=None, tags={"bakery:fingerprint": secrets.token_hex(32)})
    listed = bakery_cli("-C", aws_project, "images", "tiny", "--target", "aws")
    (row,) = [line.split() for line in listed.out.splitlines() if f" {ami} " in line]
    refused = bakery_cli("-C", aws_project, "promote", "tiny", "--to", "dev", "--image", row[3])  # the 12-hex column
    assert refused.rc == ExitStatus.GATE_REFUSED and f"{ami} is not verified" in refused.err, refused.err
    unknown = bakery_cli("-C", aws_project, "promote", "tiny", "--to", "dev", "--image", "0000ffff")
    assert unknown.rc == ExitStatus.CONFIG and "image '0000ffff' is not a baked image of 'tiny'" in unknown.err


def test_promote_command_to_prod_needs_approve(ec2, bakery_cli, aws_project):
    ami = make_ami(ec2, "tiny", tags={"bakery:promoted-dev": "2020-01-01T00:00:00Z",
                                      "bakery:promoted-staging": "2020-01-01T00:00:01Z"})
    refused = bakery_cli("-C", aws_project, "promote", "tiny", "--to", "prod", "--image", ami)
    assert refused.rc == ExitStatus.GATE_REFUSED == 7
    assert "promoting to prod needs approval" in refused.err and "rerun with --approve" in refused.err
    assert "bakery:promoted-prod" not in tags_of(ec2, ami)
    done = bakery_cli("-C", aws_project, "promote", "tiny", "--to", "prod", "--image", ami, "--approve", "--json")
    assert done.rc == 0, done.err
    assert tags_of(ec2, ami)["bakery:promoted-prod"] == done.json()["at"]
    # dev needs no approval: --approve is accepted there all the same
    dev = make_ami(ec2, "tiny")
    assert bakery_cli("-C", aws_project, "promote", "tiny", "--to", "dev", "--image", dev, "--approve").rc == 0


def test_gc_command_dry_run_changes_nothing(ec2, bakery_cli, aws_project):
    make_ami(ec2, "tiny")
    before = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    result = bakery_cli("-C", aws_project, "gc", "tiny", "--target", "aws", "--keep", "1", "--dry-run", "--json")
    assert result.rc == 0, result.err
    assert result.json()["dry_run"] is True
    assert {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]} == before


def test_verdict_tags_edited_by_hand_are_refused(ec2, conn, project):
    """bakery:verified=true alone, or a failed verdict flipped to passed, is not a verdict bakery trusts."""
    bare = make_ami(ec2, "tiny", verified=None, tags={"bakery:verified": "true"})
    with pytest.raises(GateRefused, match="no signed verdict goes with it"):
        promote(conn, project, "tiny", "dev", bare)
    flipped = make_ami(ec2, "tiny", verified="false")
    ec2.create_tags(Resources=[flipped], Tags=[{"Key": "bakery:verdict.verdict", "Value": "passed"},
                                               {"Key": "bakery:verified", "Value": "true"}])
    with pytest.raises(GateRefused, match="the signature does not match the record"):
        promote(conn, project, "tiny", "dev", flipped)
