"""Verdicts you can trust (real podman, real images): no false pass, bound to what was checked, tamper-evident."""

import json
import shutil
from pathlib import Path

import pytest

from bakery.errors import ExitStatus

pytestmark = pytest.mark.integration


def newest(cli, project, service) -> dict:
    result = cli("-C", project, "images", service, "--json")
    assert result.rc == 0, result.err
    return result.json()[0]


def verdict_file(project: Path, image_id: str) -> Path:
    return project / ".bakery" / "catalog" / "verdicts" / f"{image_id.removeprefix('sha256:')}.json"


def report_path_of(result) -> Path:
    return Path(result.err.strip().splitlines()[-1].split("report: ")[1].rstrip(")"))


def report_of(result) -> dict:
    return json.loads(report_path_of(result).read_text())


@pytest.fixture
def edited(shared_project, tmp_path):
    """Edit files of the shared project for one test; every one is put back afterwards, and so are the
    verdicts of the catalog (the verdicts made under edited settings would be stale for other tests)."""
    saved: dict[Path, bytes | None] = {}
    verdicts = shared_project / ".bakery" / "catalog" / "verdicts"
    if verdicts.exists():
        shutil.copytree(verdicts, tmp_path / "verdicts")

    def edit(relative: str, text: str | None) -> None:
        path = shared_project / relative
        if path not in saved:
            saved[path] = path.read_bytes() if path.exists() else None
        if text is None:
            path.unlink()
        else:
            path.write_text(text)

    yield edit
    for path, content in saved.items():
        if content is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(content)
    shutil.rmtree(verdicts, ignore_errors=True)
    if (tmp_path / "verdicts").exists():
        shutil.copytree(tmp_path / "verdicts", verdicts)


# -- settle, then judge ---------------------------------------------------------------------------

def test_a_unit_in_a_restart_loop_fails_the_image(cli, shared_project):
    result = cli("-C", shared_project, "build", "crashloop")
    assert result.rc == ExitStatus.VERIFY_FAILED, result.err
    assert "crashloop.service waiting to restart" in result.err or "crashloop.service restarted" in result.err
    assert "status=1/FAILURE" in result.err  # its last journal lines
    assert newest(cli, shared_project, "crashloop")["verification"] == "failed"


def test_a_unit_that_fails_2_s_after_boot_fails_the_image(cli, shared_project):
    result = cli("-C", shared_project, "build", "late-failure")
    assert result.rc == ExitStatus.VERIFY_FAILED, result.err
    assert "after the settle window: late-failure.service failed" in result.err
    assert "giving up" in json.dumps(report_of(result)["settle"]["findings"])  # its own last journal lines


FAILS_DURING_THE_SUITE = """\
def test_starts_a_unit_that_fails(host):
    with host.sudo():
        host.run("systemd-run --unit=fails-during-suite sh -c 'echo about to fail; exit 3'")
        waited = host.run("for i in $(seq 50); do systemctl is-failed -q fails-during-suite && break; sleep 0.1; done;"
                          " systemctl is-failed fails-during-suite")
        assert waited.stdout.strip() == "failed"
"""


def test_a_unit_that_fails_during_the_suite_fails_the_image(cli, shared_project, edited):
    assert cli("-C", shared_project, "build", "tiny").rc == 0
    edited("tests/images/tiny/test_fails_a_unit.py", FAILS_DURING_THE_SUITE)
    result = cli("-C", shared_project, "verify", "tiny")
    assert result.rc == ExitStatus.VERIFY_FAILED, result.err
    assert "after the suite: fails-during-suite.service failed" in result.err
    report = report_of(result)
    assert report["settle"]["findings"] == [] and {t["outcome"] for t in report["tests"]} == {"passed"}
    assert "about to fail" in json.dumps(report["after_suite"]["findings"])  # its own last journal lines


def test_sshd_without_host_keys_fails_instead_of_falling_back(cli, shared_project):
    result = cli("-C", shared_project, "build", "nokeys")
    assert result.rc == ExitStatus.VERIFY_FAILED, result.err
    assert "ssh.service" in result.err
    assert "the image runs sshd, but the verification login over SSH failed" in result.err
    report = report_of(result)
    assert report["transport"]["via"] == "ssh" and report["transport"]["problem"]
    assert report["tests"] == []  # not run through podman exec behind the user's back
    ssh_log = (report_path_of(result).parent / "verify-ssh.log").read_text().strip().splitlines()
    assert ssh_log and ssh_log[-1].strip() in result.err  # the reason, from verify-ssh.log


def test_transport_podman_is_the_explicit_opt_out(cli, shared_project, edited):
    assert cli("-C", shared_project, "build", "tiny").rc == 0
    config = (shared_project / "bakery.yml").read_text()
    edited("bakery.yml", config.replace("  tiny:\n    playbook: playbooks/tiny.yml\n",
                                        "  tiny:\n    playbook: playbooks/tiny.yml\n    verify: {transport: podman}\n"))
    result = cli("-C", shared_project, "verify", "tiny", "--json")
    assert result.rc == 0, result.err
    report = result.json()
    assert report["host"].startswith("podman://bakery-verify-")
    assert report["transport"]["reason"] == "verify.transport is podman"


# -- bound to what was checked --------------------------------------------------------------------

def test_a_suite_edit_makes_the_verdict_stale_and_build_verifies_again(cli, shared_project, edited):
    assert cli("-C", shared_project, "build", "tiny").rc == 0
    assert newest(cli, shared_project, "tiny")["verification"] == "passed"
    edited("tests/images/tiny/test_added.py", "def test_added_check_fails(host):\n    assert host.file('/nope').exists\n")

    assert newest(cli, shared_project, "tiny")["verification"] == "stale"
    plan = cli("-C", shared_project, "plan", "tiny", "--json")
    assert plan.rc == ExitStatus.WOULD_CHANGE
    assert plan.json()[0]["status"] == "would re-verify" and plan.json()[0]["changes"] == ["suite changed"]
    said = cli("-C", shared_project, "plan", "tiny")
    assert said.rc == ExitStatus.WOULD_CHANGE and said.out.startswith("tiny: would re-verify: suite changed (")
    rebuilt = cli("-C", shared_project, "build", "tiny")
    assert rebuilt.rc == ExitStatus.VERIFY_FAILED, rebuilt.err  # not "already verified"
    assert "verifying again: stale (suite changed" in rebuilt.err and "test_added_check_fails" in rebuilt.err

    edited("tests/images/tiny/test_added.py", None)
    assert newest(cli, shared_project, "tiny")["verification"] == "stale"  # the failed verdict checked another suite
    again = cli("-C", shared_project, "build", "tiny", "--json")
    assert again.rc == 0, again.err
    assert again.json()["verdict"] == "passed"


def test_a_conftest_that_applies_to_the_suite_is_part_of_its_key(cli, shared_project, edited):
    assert cli("-C", shared_project, "build", "tiny").rc == 0
    edited("tests/images/web/conftest.py", "# applies to the web suite only\n")
    assert newest(cli, shared_project, "tiny")["verification"] == "passed"
    edited("tests/images/conftest.py", "# applies to every image suite\n")
    assert newest(cli, shared_project, "tiny")["verification"] == "stale"
    plan = cli("-C", shared_project, "plan", "tiny", "--json")
    assert plan.rc == ExitStatus.WOULD_CHANGE and plan.json()[0]["changes"] == ["suite changed"]


def test_waivers_added_then_removed_leave_no_passed_verdict(cli, shared_project, edited):
    cli("-C", shared_project, "build", "dirty")  # fails hygiene, or was failed already
    assert newest(cli, shared_project, "dirty")["verification"] == "failed"
    config = (shared_project / "bakery.yml").read_text()
    waived = config.replace(
        "    playbook: playbooks/dirty.yml\n    base: debian-12\n    seal: false\n    verify: {suite: tests/images/tiny}\n",
        "    playbook: playbooks/dirty.yml\n    base: debian-12\n    seal: false\n    verify:\n      suite: tests/images/tiny\n"
        "      waivers:\n        - {check: ssh-host-keys, reason: fixture image keeps keys on purpose}\n"
        "        - {check: machine-id, reason: fixture image keeps its machine id}\n"
        "        - {check: apt-lists, reason: fixture image keeps its base's apt lists}\n")
    assert waived != config
    edited("bakery.yml", waived)
    assert newest(cli, shared_project, "dirty")["verification"] == "stale"
    assert cli("-C", shared_project, "verify", "dirty").rc == 0
    assert newest(cli, shared_project, "dirty")["verification"] == "passed"

    edited("bakery.yml", config)
    row = newest(cli, shared_project, "dirty")
    assert row["verification"] == "stale"
    refused = cli("-C", shared_project, "deploy", "dirty", "--env", "dev", "--image", row["image"])
    assert refused.rc == ExitStatus.GATE_REFUSED
    assert "stale (waivers changed since it was verified), not verified" in refused.err


# -- tamper-evident -------------------------------------------------------------------------------

def test_a_passed_verdict_copied_onto_another_image_is_refused(cli, shared_project):
    assert cli("-C", shared_project, "build", "tiny").rc == 0
    assert cli("-C", shared_project, "build", "dirty", "--no-verify").rc == 0
    good, backdoored = newest(cli, shared_project, "tiny"), newest(cli, shared_project, "dirty")
    target = verdict_file(shared_project, backdoored["image_id"])
    saved = {p: p.read_bytes() for p in (target, target.with_suffix(".report.json")) if p.exists()}
    shutil.copy(verdict_file(shared_project, good["image_id"]), target)
    shutil.copy(verdict_file(shared_project, good["image_id"]).with_suffix(".report.json"),
                target.with_suffix(".report.json"))
    try:
        listed = cli("-C", shared_project, "images", "dirty", "--json")
        deploy = cli("-C", shared_project, "deploy", "dirty", "--env", "dev", "--image", backdoored["image"])
        build = cli("-C", shared_project, "build", "dirty", "--no-verify", "--json")
    finally:
        for path in (target, target.with_suffix(".report.json")):
            path.unlink(missing_ok=True)
        for path, content in saved.items():
            path.write_bytes(content)
    assert listed.json()[0]["verification"] == "unverified"
    assert f"bakery: warning: ignoring the verdict record {target}: it is the verdict of another image" in listed.err
    assert deploy.rc == ExitStatus.GATE_REFUSED and "not verified" in deploy.err
    assert build.rc == 0 and build.json()["verdict"] == "unverified"


@pytest.mark.parametrize("rewrite_report", [False, True], ids=["flipped", "flipped-with-matching-report"])
def test_a_verdict_flipped_by_hand_is_refused(cli, shared_project, rewrite_report):
    cli("-C", shared_project, "build", "broken-service")
    row = newest(cli, shared_project, "broken-service")
    assert row["verification"] == "failed"
    path = verdict_file(shared_project, row["image_id"])
    original = path.read_bytes()
    report_path = path.with_suffix(".report.json")
    original_report = report_path.read_bytes()
    record = json.loads(original)
    record["verdict"]["verdict"] = "passed"
    if rewrite_report:
        import hashlib

        report = json.loads(original_report)
        report["verdict"], report["tests"], report["boot"]["problem"] = "passed", [], ""
        report_path.write_text(json.dumps(report))
        record["verdict"]["report_sha256"] = hashlib.sha256(report_path.read_bytes()).hexdigest()
    path.write_text(json.dumps(record))
    try:
        listed = cli("-C", shared_project, "images", "broken-service", "--json")
        deploy = cli("-C", shared_project, "deploy", "broken-service", "--env", "dev", "--image", row["image"])
    finally:
        path.write_bytes(original)
        report_path.write_bytes(original_report)
    assert listed.json()[0]["verification"] == "unverified"
    assert "the signature does not match the record" in listed.err and str(path) in listed.err
    assert deploy.rc == ExitStatus.GATE_REFUSED and "not verified" in deploy.err


def test_a_truncated_verdict_file_is_a_warning_and_counts_as_unverified(cli, shared_project):
    assert cli("-C", shared_project, "build", "tiny").rc == 0
    row = newest(cli, shared_project, "tiny")
    path = verdict_file(shared_project, row["image_id"])
    original = path.read_bytes()
    path.write_bytes(original[: len(original) // 2])
    try:
        listed = cli("-C", shared_project, "images", "tiny")
        deploy = cli("-C", shared_project, "deploy", "tiny", "--env", "dev", "--image", row["image"])
        build = cli("-C", shared_project, "build", "tiny", "--no-verify", "--json")
    finally:
        path.write_bytes(original)
    assert listed.rc == 0 and "unverified" in listed.out
    assert f"ignoring the verdict record {path}: not a verdict record bakery can read" in listed.err
    assert "Traceback" not in listed.err + deploy.err + build.err
    assert deploy.rc == ExitStatus.GATE_REFUSED and "unverified" in deploy.err
    assert build.rc == 0 and build.json()["verdict"] == "unverified"
