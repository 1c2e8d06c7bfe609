"""SBOM, package diff and the vulnerability gate on real images (tiny, and slim: tiny with iproute2 purged)."""

from __future__ import annotations

import contextlib
import datetime
import io
import json
from pathlib import Path

import pytest
import yaml

from bakery.errors import ExitStatus
from bakery import proc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def images(shared_project) -> dict[str, str]:
    """tiny (verified, shared with other tests) and slim (unverified: the gate tests verify it)."""
    from bakery.cli import main

    refs = {}
    for service, extra in (("tiny", []), ("slim", ["--no-verify"])):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["-C", str(shared_project), "build", service, *extra, "--json"]) == 0
        refs[service] = json.loads(out.getvalue())["image"]
    return refs


def installed_version(image: str, package: str) -> str:
    argv = ["podman", "run", "--rm", "--entrypoint", "dpkg-query", image, "-W", "-f", "${Version}", package]
    return proc.run(argv).stdout.strip()


def test_sbom_lists_the_base_packages_with_their_installed_version(cli, shared_project, images):
    result = cli("-C", shared_project, "sbom", "tiny", "--image", images["tiny"])
    assert result.rc == 0, result.err
    document = json.loads(result.out)
    purls = {c["name"]: c.get("purl", "") for c in document["components"]}
    version = installed_version(images["tiny"], "sudo")
    assert purls["sudo"].startswith(f"pkg:deb/debian/sudo@{version.replace('+', '%2B')}?")
    assert all(p.startswith("pkg:deb/debian/") for n, p in purls.items() if n in ("systemd", "libc6", "python3"))
    spdx = json.loads(cli("-C", shared_project, "sbom", "tiny", "--image", images["tiny"], "--format", "spdx").out)
    assert any(p["name"] == "sudo" and p["versionInfo"] == version for p in spdx["packages"])


def test_diff_names_the_purged_package(cli, shared_project, images):
    result = cli("-C", shared_project, "diff", images["tiny"], images["slim"], "--json")
    assert result.rc == 0, result.err
    diff = result.json()
    assert diff["packages"]["removed"] == {"iproute2": installed_version(images["tiny"], "iproute2")}
    assert diff["packages"]["added"] == {}
    assert diff["files"]["removed"] > 0 and "- /usr/bin/ip" in diff["files"]["paths"]
    unknown = cli("-C", shared_project, "diff", images["tiny"], "localhost/bakery/none:0")
    assert unknown.rc == ExitStatus.CONFIG and "not a baked image" in unknown.err


def set_gate(project: Path, gate: dict | None) -> None:
    config = yaml.safe_load((project / "bakery.yml").read_text())
    verify = config["services"]["slim"].setdefault("verify", {})
    verify.pop("vulnerabilities", None)
    if gate:
        verify["vulnerabilities"] = gate
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))


def verify_slim(cli, project, image) -> tuple[int, dict, str]:
    result = cli("-C", project, "verify", "slim", "--image", image, "--json")
    run_id = json.loads(result.out)["run_id"] if result.rc == 0 else result.err.split("runs/")[1].split("/")[0]
    report = json.loads((project / ".bakery" / "runs" / run_id / "verify-report.json").read_text())
    return result.rc, report, result.err


def test_gate_fails_on_a_cve_passes_with_a_waiver_and_fails_when_it_expires(cli, shared_project, images):
    from bakery.config import load_project
    from bakery.verify import verdict_key

    today = datetime.date.today()
    gate = {"feed": "supply/feed.json", "fail_on": "high"}
    original = (shared_project / "bakery.yml").read_text()
    try:
        set_gate(shared_project, gate)
        rc, report, err = verify_slim(cli, shared_project, images["slim"])
        assert rc == ExitStatus.VERIFY_FAILED and "CVE-2099-0001 in sudo" in err
        findings = {f["cve"]: f for f in report["vulnerabilities"]["findings"]}
        # open-but-unimportant is listed, not failing; fixed long ago and purged packages are not listed
        assert set(findings) == {"CVE-2099-0001", "CVE-2099-0003"}
        assert findings["CVE-2099-0001"]["fails"] and findings["CVE-2099-0001"]["fixed"] == "99:1.0-1"
        assert findings["CVE-2099-0001"]["installed"] == installed_version(images["slim"], "sudo")
        assert not findings["CVE-2099-0003"]["fails"]
        assert len(report["vulnerabilities"]["feed_sha256"]) == 64 and report["sbom"]["files"]

        waiver = {"cve": "CVE-2099-0001", "reason": "fixture: accepted until the fix lands",
                  "until": (today + datetime.timedelta(days=1)).isoformat()}
        set_gate(shared_project, {**gate, "waivers": [waiver]})
        rc, report, err = verify_slim(cli, shared_project, images["slim"])
        assert rc == 0, err
        assert report["vulnerabilities"]["findings"][0]["waived"] == waiver["reason"]

        set_gate(shared_project, {**gate, "waivers": [{**waiver, "until": (today - datetime.timedelta(days=1)).isoformat()}]})
        rc, report, err = verify_slim(cli, shared_project, images["slim"])
        assert rc == ExitStatus.VERIFY_FAILED and "waiver expired on" in err

        # a new feed makes the verdicts made with the old one stale: the feed's digest is in the key
        before = verdict_key(load_project(shared_project), "slim")["vulnerabilities"]
        feed = shared_project / "supply" / "feed.json"
        feed.write_text(feed.read_text().replace("fixture: open, but unimportant", "fixture: open, still unimportant"))
        assert verdict_key(load_project(shared_project), "slim")["vulnerabilities"] != before

        set_gate(shared_project, {**gate, "feed": "supply/missing.json"})
        rc, report, err = verify_slim(cli, shared_project, images["slim"])
        assert rc == ExitStatus.VERIFY_FAILED and "supply/missing.json cannot be read" in err
    finally:
        (shared_project / "bakery.yml").write_text(original)


def test_drift_finds_a_file_written_into_a_replica_and_nothing_on_an_untouched_one(cli, fixture_project):
    assert cli("-C", fixture_project, "build", "web").rc == 0
    try:
        assert cli("-C", fixture_project, "deploy", "web", "--env", "dev").rc == 0
        clean = cli("-C", fixture_project, "drift", "web", "--env", "dev", "--json")
        assert clean.rc == 0, clean.err
        assert [r["added"] + r["changed"] + r["deleted"] for r in clean.json()["replicas"]] == [[], []]

        touched = clean.json()["replicas"][0]["replica"]
        proc.run(["podman", "exec", touched, "sh", "-c", "echo by hand > /etc/hand-edit && echo x > /var/log/fine"])
        result = cli("-C", fixture_project, "drift", "web", "--env", "dev", "--json")
        assert result.rc == ExitStatus.WOULD_CHANGE == 2
        found = {r["replica"]: r for r in result.json()["replicas"]}
        assert found[touched]["added"] == ["/etc/hand-edit"] and found[touched]["changed"] == []
        assert all(not r["added"] + r["changed"] + r["deleted"] for name, r in found.items() if name != touched)

        same = cli("-C", fixture_project, "diff", "web", "--env", "dev", "--json")  # dev runs the newest verified image
        assert same.rc == 0, same.err
        assert same.json()["packages"] == {"added": {}, "removed": {}, "changed": {}}
    finally:
        cli("-C", fixture_project, "destroy", "web", "--env", "dev")


def test_base_status_compares_with_the_mirror_and_plan_mentions_it(cli, shared_project, images):
    from debian.debian_support import Version

    result = cli("-C", shared_project, "base", "status", "debian-12", "--json")
    assert result.rc == 0, result.err
    status = result.json()
    listed = proc.run(["podman", "run", "--rm", "--entrypoint", "dpkg-query", status["ref"], "-W",
                       "-f", "${db:Status-Status}\\n"]).stdout.split()
    assert status["packages"] == listed.count("installed") > 100
    assert all(Version(new) > Version(old) for old, new in status["updates"].values())
    assert status["indexes"][0].endswith("/dists/bookworm/main/binary-amd64/Packages.xz")
    planned = cli("-C", shared_project, "plan", "tiny")
    assert ("base debian-12: " in planned.err) == bool(status["updates"])


def bake_slim(cli, project: Path, purge: str) -> tuple[str, str]:
    """A fresh bake of slim purging purge (a new motd: a new fingerprint); (its ref, build's stderr)."""
    config = yaml.safe_load((project / "bakery.yml").read_text())
    config["services"]["slim"]["variables"].update(
        purge_package=purge, motd_text=f"baked at {datetime.datetime.now().isoformat()}")
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = cli("-C", project, "build", "slim", "--no-verify")
    assert result.rc == 0, result.err
    return result.out.strip().splitlines()[-1], result.err


def test_build_prints_the_package_changes_since_the_previous_image(cli, shared_project, images):
    original = (shared_project / "bakery.yml").read_text()
    try:
        first, _ = bake_slim(cli, shared_project, "iproute2")
        _, err = bake_slim(cli, shared_project, "procps")
        changes = next(t for t in err.splitlines() if t.startswith("packages since "))
        assert changes.startswith(f"packages since {first}: ")
        assert f"+ iproute2 {installed_version(images['tiny'], 'iproute2')}" in changes
        assert f"- procps {installed_version(images['tiny'], 'procps')}" in changes
    finally:
        (shared_project / "bakery.yml").write_text(original)
