"""`bakery verify` and the verify stage of `bakery build`, on real podman with testinfra."""

import json
from pathlib import Path

import pytest

from bakery.errors import ExitStatus
from helpers import container_ids, image_labels, podman_json

pytestmark = pytest.mark.integration


def build(cli, project, service, *extra):
    return cli("-C", project, "build", service, *extra)


def report_of(result) -> dict:
    path = result.err.strip().splitlines()[-1].split("report: ")[1].rstrip(")")
    return json.loads(Path(path).read_text())


def test_build_verifies_by_default_and_images_shows_it(cli, shared_project):
    result = build(cli, shared_project, "tiny", "--json")
    assert result.rc == 0, result.err
    built = result.json()
    assert built["verdict"] == "passed" and "verify" in built["stages"]
    rows = cli("-C", shared_project, "images", "tiny", "--json").json()
    assert next(r for r in rows if r["image"] == built["image"])["verification"] == "passed"
    report = json.loads((Path(built["run_dir"]) / "verify-report.json").read_text()) if not built["reused"] else None
    if report:
        assert {h["check"] for h in report["hygiene"]} >= {"ssh-host-keys", "machine-id", "canary-secret"}
        assert all(h["passed"] for h in report["hygiene"])
        assert (Path(built["run_dir"]) / "verify-junit.xml").exists()


def test_verify_command_reports_tests_and_records_digest(cli, shared_project):
    assert build(cli, shared_project, "tiny").rc == 0
    result = cli("-C", shared_project, "verify", "tiny", "--json")
    assert result.rc == 0, result.err
    report = result.json()
    assert report["verdict"] == "passed"
    assert report["boot"]["state"] == "running"
    assert report["settle"]["state"] == "running" and report["settle"]["findings"] == []
    assert report["after_suite"]["findings"] == []
    assert [t["outcome"] for t in report["tests"]] == ["passed", "passed"]
    # The tiny image has sshd and sudo: the suite went through SSH, and the report says why.
    assert report["host"].startswith("ssh://bakery-verify@")
    assert report["transport"] == {**report["transport"], "via": "ssh", "problem": ""}
    verdict_file = shared_project / ".bakery" / "catalog" / "verdicts" / f"{report['image_id'].removeprefix('sha256:')}.json"
    record = json.loads(verdict_file.read_text())
    assert record["verdict"]["run_id"] == report["run_id"] and len(record["verdict"]["report_sha256"]) == 64
    assert set(record["verdict"]["key"]) == {"suite", "waivers", "settings", "checks"}
    assert len(record["signature"]["value"]) == 88 and len(record["signature"]["key_id"]) == 64


def test_no_verify_leaves_the_image_unverified(cli, shared_project):
    result = build(cli, shared_project, "dirty", "--no-verify", "--json")
    assert result.rc == 0, result.err
    built = result.json()
    assert built["verdict"] == "unverified" and "verify" not in built["stages"]
    rows = cli("-C", shared_project, "images", "dirty", "--json").json()
    assert rows[0]["verification"] == "unverified"


def test_host_key_and_machine_id_fail_hygiene(cli, shared_project):
    before = container_ids()
    result = build(cli, shared_project, "dirty")
    assert result.rc == ExitStatus.VERIFY_FAILED
    assert "hygiene ssh-host-keys: /etc/ssh/ssh_host_" in result.err
    assert "hygiene machine-id: /etc/machine-id is not empty" in result.err
    report = report_of(result)
    assert report["verdict"] == "failed"
    assert container_ids() == before
    rows = cli("-C", shared_project, "images", "dirty", "--json").json()
    assert rows[0]["verification"] == "failed"


def test_waiver_is_honoured_and_shown(cli, shared_project, tmp_path):
    config = shared_project / "bakery.yml"
    original = config.read_text()
    waived = original.replace(
        "    verify: {suite: tests/images/tiny}\n    variables:\n      motd_text: \"baked by bakery\"\n  broken-service",
        "    verify:\n      suite: tests/images/tiny\n      waivers:\n"
        "        - {check: ssh-host-keys, reason: fixture image keeps keys on purpose}\n"
        "        - {check: machine-id, reason: fixture image keeps its machine id}\n"
        "        - {check: apt-lists, reason: fixture image keeps the lists of its base}\n"
        "    variables:\n      motd_text: \"baked by bakery\"\n  broken-service",
    )
    assert waived != original
    config.write_text(waived)
    try:
        result = cli("-C", shared_project, "verify", "dirty", "--json")
    finally:
        config.write_text(original)
    assert result.rc == 0, result.err
    waivers = {h["check"]: h["waived"] for h in result.json()["hygiene"] if h["waived"]}
    assert waivers == {"ssh-host-keys": "fixture image keeps keys on purpose",
                       "machine-id": "fixture image keeps its machine id",
                       "apt-lists": "fixture image keeps the lists of its base"}


def test_broken_service_fails_and_names_the_tests(cli, shared_project):
    before = container_ids()
    result = build(cli, shared_project, "broken-service")
    assert result.rc == ExitStatus.VERIFY_FAILED
    assert "failed units: broken-app.service" in result.err
    assert "test_broken_app_is_running" in result.err
    report = report_of(result)
    failed = [t["name"] for t in report["tests"] if t["outcome"] == "failed"]
    assert len(failed) == 1 and "test_broken_app_is_running" in failed[0]
    assert report["verdict"] == "failed"
    assert container_ids() == before


def test_unsettled_systemd_times_out_with_the_unit_list(cli, shared_project):
    before = container_ids()
    result = build(cli, shared_project, "unsettled")
    assert result.rc == ExitStatus.VERIFY_FAILED
    assert "systemd did not settle in 5 s" in result.err
    assert "never-ready.service" in result.err
    assert container_ids() == before


def test_canary_leak_is_caught(cli, shared_project):
    """A role that writes the canary into the image makes verification fail."""
    role = shared_project / "roles" / "motd" / "tasks" / "main.yml"
    original = role.read_text()
    role.write_text(original + (
        "\n- name: Leak the canary (on purpose)\n  ansible.builtin.copy:\n"
        "    content: \"{{ bakery_canary }}\"\n    dest: /etc/leaked\n    mode: \"0600\"\n  no_log: true\n"))
    try:  # --force: a fresh bake has a canary; an image reused from elsewhere has none here
        result = build(cli, shared_project, "tiny", "--force")
    finally:
        role.write_text(original)
    assert result.rc == ExitStatus.VERIFY_FAILED
    assert "hygiene canary-secret:" in result.err and "/etc/leaked" in result.err
    # the image with the secret inside is untagged, and so are the layers its bake committed; it
    # stays by id for inspection until gc, which removes it first
    report = report_of(result)
    image_id = report["image_id"].removeprefix("sha256:")
    assert f"kept as {image_id[:12]} for inspection" in result.err
    assert image_id not in {i["image_id"].removeprefix("sha256:") for i in cli("-C", shared_project, "images", "tiny", "--json").json()}
    assert podman_json("images", "-a", "--filter", f"label=bakery.run-id.00={report['run_id']}") != []
    assert [n for e in podman_json("images", "-a", "--filter", f"label=bakery.run-id.00={report['run_id']}")
            for n in e.get("Names") or []] == []
    planned = cli("-C", shared_project, "gc", "tiny", "--keep", "50", "--dry-run", "--json").json()
    assert [(a["ref"], a["action"]) for a in planned if a["kind"] == "quarantined"] == [(image_id, "remove")]
    done = cli("-C", shared_project, "gc", "tiny", "--keep", "50", "--json").json()
    assert [(a["ref"], a["action"]) for a in done if a["kind"] == "quarantined"] == [(image_id, "removed")]
    assert podman_json("images", "--filter", f"id={image_id}") == []


def test_image_whose_canary_is_not_on_this_machine_fails_closed(cli, shared_project, tmp_path, monkeypatch):
    """An image baked with another signing key (another machine): nothing here can know its bakes'
    canaries, so nothing shows they did not leak: the check fails, naming the run."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bakery import canary
    from bakery.config import load_project

    other_key = tmp_path / "other.pem"
    other_key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(other_key))
    assert build(cli, shared_project, "tiny", "--force", "--no-verify").rc == 0
    monkeypatch.delenv("BAKERY_SIGNING_KEY")
    project = load_project(shared_project)
    image = cli("-C", shared_project, "images", "tiny", "--json").json()[0]["image"]
    labels = image_labels(image)
    runs = canary.bake_runs(labels)
    assert any(key.startswith("bakery.canary-key.") for key in labels), labels  # one per role layer
    assert runs and canary.missing_canaries(canary.canary_key(project), labels) == runs
    assert not any(canary.canary_key(project).canary(r) in json.dumps(labels) for r in runs)  # never in clear
    result = cli("-C", shared_project, "verify", "tiny", "--image", image)
    rebuilt = build(cli, shared_project, "tiny", "--no-verify")  # not worth reusing: it is rebaked
    assert result.rc == ExitStatus.VERIFY_FAILED, result.err
    assert f"canary of bake run {runs[0]} is not on this machine" in result.err
    assert rebuilt.rc == 0, rebuilt.err
    assert "rebaking:" in rebuilt.err and "cached layer not usable" in rebuilt.err
    assert not set(canary.bake_runs(image_labels(image))) & set(runs)  # every layer baked again, by a new run
    assert canary.all_here(canary.canary_key(project), image_labels(image))
    tag = image.rsplit(":", 1)[1]  # the 12 hex digits `bakery images` prints
    assert cli("-C", shared_project, "verify", "tiny", "--image", tag).rc == 0


def test_verify_against_a_running_host(cli, shared_project):
    from bakery import proc

    assert build(cli, shared_project, "tiny").rc == 0
    image = cli("-C", shared_project, "images", "tiny", "--json").json()[0]["image"]
    name = "bakery-test-host"
    proc.run(["podman", "run", "-d", "--name", name, "--systemd=always", image])
    try:
        proc.run(["podman", "exec", name, "systemctl", "is-system-running", "--wait"], check=False, timeout=60)
        result = cli("-C", shared_project, "verify", "tiny", "--host", f"podman://{name}", "--image", image, "--json")
        proc.run(["podman", "exec", name, "sh", "-c", "echo tampered > /etc/motd"])
        tampered = cli("-C", shared_project, "verify", "tiny", "--host", f"podman://{name}", "--image", image)
    finally:
        proc.run(["podman", "rm", "-f", name])
    assert result.rc == 0, result.err
    report = result.json()
    assert report["host"] == f"podman://{name}" and report["verdict"] == "passed"
    assert [t["outcome"] for t in report["tests"]] == ["passed", "passed"]
    assert tampered.rc == ExitStatus.VERIFY_FAILED
    assert "test_motd_carries_the_fingerprint" in tampered.err


@pytest.mark.parametrize("host", ["ssh://root@127.0.0.1:1", "podman://bakery-no-such-container"])
def test_an_unreachable_host_is_a_connection_error_not_failed_tests(cli, shared_project, host):
    result = cli("-C", shared_project, "verify", "tiny", "--host", host)
    assert result.rc == ExitStatus.PREREQ, result.err
    first = result.err.strip().splitlines()[0]
    assert first.startswith(f"bakery: error: cannot reach {host}: ") and "test(s) failed" not in result.err
