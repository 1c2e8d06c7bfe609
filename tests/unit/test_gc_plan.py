"""Which AMIs `bakery gc --target aws` keeps and why: plan_amis on in-memory describe_images answers."""

from datetime import datetime, timezone

from bakery.aws import tags
from bakery.aws.gc import plan_amis

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc).timestamp()
HOUR = 3600.0


def ami(ami_id: str, service: str, *, verified: bool, age_h: float, **extra_tags: str) -> dict:
    created = datetime.fromtimestamp(NOW - age_h * HOUR, timezone.utc).isoformat()
    return {"ImageId": ami_id, "CreationDate": created,
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": f"snap-{ami_id}"}},
                                    {"DeviceName": "/dev/xvdb"}],
            "Tags": tags.as_list({tags.SERVICE: service, tags.VERIFIED: tags.TRUE if verified else tags.FALSE,
                                  **extra_tags})}


def plan(amis, references=None, keep=2, alive=frozenset()):
    return plan_amis(amis, references or {}, keep, lambda run_id: run_id in alive, 24 * HOUR, NOW)


def kept(result) -> dict[str, str]:
    return {k.ami_id: k.reason for k in result.kept}


def removed(result) -> dict[str, str]:
    return {r.ami_id: r.reason for r in result.removed}


def test_keeps_the_newest_verified_per_service_and_removes_older_ones_with_their_snapshots():
    amis = [ami("a3", "api", verified=True, age_h=30), ami("w2", "web", verified=True, age_h=40),
            ami("a2", "api", verified=True, age_h=50), ami("a1", "api", verified=True, age_h=60),
            ami("w1", "web", verified=True, age_h=70)]
    result = plan(amis)
    assert set(kept(result)) == {"a3", "a2", "w2", "w1"}
    assert kept(result)["a2"] == "newest verified (2 of 2)"
    assert removed(result) == {"a1": "older than the newest 2 verified"}
    assert result.removed[0].snapshots == ("snap-a1",)


def test_unverified_amis_do_not_count_towards_keep():
    amis = [ami("u1", "api", verified=False, age_h=48), ami("v2", "api", verified=True, age_h=50),
            ami("v1", "api", verified=True, age_h=60)]
    result = plan(amis)
    assert set(kept(result)) == {"v2", "v1"}
    assert "not verified" in removed(result)["u1"]


def test_a_young_unverified_ami_stays_it_may_be_under_verification():
    result = plan([ami("young", "api", verified=False, age_h=2), ami("old", "api", verified=False, age_h=25)])
    assert "may be under verification" in kept(result)["young"]
    assert set(removed(result)) == {"old"}


def test_references_promotions_and_live_runs_protect_any_ami():
    amis = [ami("v3", "api", verified=True, age_h=30), ami("v2", "api", verified=True, age_h=40),
            ami("ref", "api", verified=True, age_h=50), ami("prom", "api", verified=True, age_h=60,
                                                              **{tags.PROMOTED_PREFIX + "prod": "2026-05-01"}),
            ami("run", "api", verified=False, age_h=90, **{tags.RUN_ID: "r-live"}),
            ami("dead", "api", verified=False, age_h=90, **{tags.RUN_ID: "r-dead"})]
    result = plan(amis, references={"ref": ["launch template lt-1 v3", "ssm /bakery/api/dev"]},
                  alive={"r-live"})
    assert kept(result)["ref"] == "referenced by launch template lt-1 v3; ssm /bakery/api/dev"
    assert kept(result)["prom"] == "promoted to prod"
    assert kept(result)["run"] == "run r-live is still in progress"
    assert set(removed(result)) == {"dead"}


def test_a_protected_verified_ami_still_takes_a_keep_slot():
    """Being referenced does not push an older verified AMI out of the newest-N window."""
    amis = [ami("ref", "api", verified=True, age_h=30), ami("v2", "api", verified=True, age_h=40),
            ami("v1", "api", verified=True, age_h=50)]
    result = plan(amis, references={"ref": ["asg web-dev"]})
    assert set(kept(result)) == {"ref", "v2"} and set(removed(result)) == {"v1"}
