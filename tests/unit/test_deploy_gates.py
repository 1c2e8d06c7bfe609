"""Deploy gates and image choice: a real project on disk, real signed verdicts, real local records."""

import dataclasses
import hashlib

import pytest

from bakery import __version__, catalog, keys, verify
from bakery.config import load_project
from bakery.deploy import LocalRecords, check_gates, choose_image, new_deployment
from bakery.errors import ConfigError, GateRefused
from bakery.targets import ImageRecord, get_target

BAKERY_YML = """\
version: 1
bases: {debian-12: {packages: [python3]}}
services: {web: {playbook: playbooks/web.yml, base: debian-12}}
environments: {dev: {}, staging: {after: dev}, prod: {after: staging, approval: true}}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # this test's own signing key
    monkeypatch.delenv(keys.SIGNING_KEY_ENV, raising=False)
    root = tmp_path / "project"
    for path, text in {"bakery.yml": BAKERY_YML, "playbooks/web.yml": "- hosts: all\n  roles: []\n",
                       "tests/images/web/test_web.py": "def test_ok(host):\n    pass\n"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "packer").mkdir()
    return load_project(root)


@pytest.fixture
def local(project):
    return get_target("local", project)


def image(n: int, fingerprint: str | None = None) -> ImageRecord:
    digest = f"{n:x}" * 64
    return ImageRecord("web", f"localhost/bakery/web:{digest[:12]}", f"sha256:{digest[:64]}",
                       fingerprint or f"{n}" * 64, created=float(n))


def record(project, img: ImageRecord, outcome: str = "passed") -> None:
    report = f'{{"verdict": "{outcome}"}}'.encode()
    catalog.record_verdict(project.state_dir(), catalog.Verdict(
        "web", img.ref, img.image_id, img.fingerprint, outcome, verify.verdict_key(project, "web"),
        hashlib.sha256(report).hexdigest(), "run-1", 1.0, __version__), report)


def deploy(project, img: ImageRecord, env: str, healthy: bool = True) -> None:
    deployment = new_deployment("web", env, "local", img, 1, "run-2")
    LocalRecords(project).record(dataclasses.replace(deployment, healthy=healthy))


def gates(project, local, img, env, approve=False):
    """The gates on the records alone (the live probe of the previous environment is tested in tests/faults)."""
    return check_gates(project, "web", env, img, approve, local, LocalRecords(project), probe_live=False)


def test_only_a_passed_verdict_opens_the_first_environment(project, local):
    unverified, failed, passed = image(1), image(2), image(3)
    record(project, failed, "failed")
    record(project, passed)
    with pytest.raises(GateRefused, match="unverified") as refused:
        gates(project, local, unverified, "dev")
    assert f"--image {unverified.ref}" in refused.value.hint
    with pytest.raises(GateRefused, match="is failed"):
        gates(project, local, failed, "dev")
    gates(project, local, passed, "dev")


def test_a_verdict_goes_stale_when_the_suite_changes(project, local):
    img = image(1)
    record(project, img)
    (project.suite_path("web") / "test_more.py").write_text("def test_more(host):\n    pass\n")
    with pytest.raises(GateRefused, match="stale"):
        gates(project, local, img, "dev")


def test_the_next_environment_needs_this_image_healthy_in_the_previous_one(project, local):
    img, other = image(1), image(2)
    record(project, img)
    record(project, other)
    with pytest.raises(GateRefused, match="needs a healthy dev deployment"):
        gates(project, local, img, "staging")
    deploy(project, other, "dev")
    with pytest.raises(GateRefused, match="needs a healthy dev deployment"):
        gates(project, local, img, "staging")
    deploy(project, img, "dev", healthy=False)
    with pytest.raises(GateRefused, match="needs a healthy dev deployment"):
        gates(project, local, img, "staging")
    deploy(project, img, "dev")
    gates(project, local, img, "staging")


def test_a_rebake_with_the_same_fingerprint_passes_the_order_gate(project, local):
    first, rebake = image(1, fingerprint="f" * 64), image(2, fingerprint="f" * 64)
    record(project, rebake)
    deploy(project, first, "dev")
    gates(project, local, rebake, "staging")


def test_an_environment_with_approval_needs_approve(project, local):
    img = image(1)
    record(project, img)
    deploy(project, img, "staging")
    with pytest.raises(GateRefused, match="needs approval"):
        gates(project, local, img, "prod")
    gates(project, local, img, "prod", approve=True)


def test_an_unknown_environment_is_a_config_error(project, local):
    with pytest.raises(ConfigError, match="unknown environment 'qa'"):
        gates(project, local, image(1), "qa")


def choose(project, local, images, env, ref=None):
    return choose_image(project, "web", env, images, ref, local, LocalRecords(project))


def test_image_named_by_ref_id_or_id_prefix(project, local):
    images = [image(2), image(1)]
    assert choose(project, local, images, "dev", images[1].ref) == images[1]
    assert choose(project, local, images, "dev", images[1].image_id[:19]) == images[1]
    with pytest.raises(ConfigError, match="not a baked image of 'web'"):
        choose(project, local, images, "dev", "sha256:0000")


def test_first_environment_gets_the_newest_verified_image(project, local):
    newest_unverified, verified, older_verified = image(3), image(2), image(1)
    with pytest.raises(GateRefused, match="no verified image"):
        choose(project, local, [newest_unverified, verified, older_verified], "dev")
    record(project, verified)
    record(project, older_verified)
    assert choose(project, local, [newest_unverified, verified, older_verified], "dev") == verified


def test_later_environment_gets_what_the_previous_one_runs(project, local):
    running, newer = image(1, fingerprint="a" * 64), image(2)
    with pytest.raises(GateRefused, match="nothing is deployed to dev"):
        choose(project, local, [newer, running], "staging")
    deploy(project, running, "dev")
    assert choose(project, local, [newer, running], "staging") == running
    same_content = image(3, fingerprint="a" * 64)  # the dev image is gone here; a rebake of it is not
    assert choose(project, local, [newer, same_content], "staging") == same_content
