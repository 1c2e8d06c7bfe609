"""Debian version ordering in the vulnerability gate and the outdated-base check (python-debian)."""

import datetime

from bakery.basestatus import outdated
from bakery.config import CveWaiver
from bakery.sbom import Package
from bakery.vulns import affected, findings

TODAY = datetime.date(2026, 6, 1)


def pkg(name, version, source=None):
    return Package(name, version, "amd64", source or name, version)


def test_resolved_is_affected_only_below_the_fixed_version_in_debian_order():
    assert affected({"status": "resolved", "fixed_version": "1.9.13p3-1+deb12u2"}, "1.9.13p3-1+deb12u1")
    assert not affected({"status": "resolved", "fixed_version": "1.9.13p3-1+deb12u1"}, "1.9.13p3-1+deb12u1")
    assert not affected({"status": "resolved", "fixed_version": "1.0~rc1-1"}, "1.0-1")  # ~ sorts before
    assert affected({"status": "resolved", "fixed_version": "1:0.9-1"}, "2.0-1")  # the epoch wins
    assert not affected({"status": "resolved", "fixed_version": "0"}, "2.0-1")  # never affected
    assert affected({"status": "open"}, "2.0-1")
    assert not affected({"status": "undetermined"}, "2.0-1")


def test_findings_are_keyed_by_source_package_and_judged_by_urgency_and_waiver():
    feed = {"glibc": {"CVE-2024-1": {"releases": {"bookworm": {"status": "open", "urgency": "low**"}}},
                      "CVE-2024-2": {"releases": {"bookworm": {"status": "open", "urgency": "high"}}},
                      "CVE-2024-3": {"releases": {"trixie": {"status": "open", "urgency": "high"}}}}}
    packages = {"libc6": Package("libc6", "2.36-9", "amd64", "glibc", "2.36-9")}
    waiver = CveWaiver(cve="CVE-2024-2", reason="accepted for this test", until=TODAY)
    found = {f.cve: f for f in findings(feed, packages, "bookworm", "low", [waiver], TODAY)}
    assert set(found) == {"CVE-2024-1", "CVE-2024-2"}
    assert found["CVE-2024-1"].fails and found["CVE-2024-1"].package == "glibc"
    assert not found["CVE-2024-2"].fails and found["CVE-2024-2"].waived  # until is the last day it holds
    later = findings(feed, packages, "bookworm", "medium", [waiver], TODAY + datetime.timedelta(days=1))
    assert [(f.cve, f.fails, f.note) for f in later] == [("CVE-2024-1", False, ""), ("CVE-2024-2", True, "waiver expired on 2026-06-01")]


def test_outdated_counts_only_newer_versions_in_the_index():
    installed = {"a": pkg("a", "1.0-1"), "b": pkg("b", "2.0-1"), "c": pkg("c", "1.0-1")}
    newest = {"a": "1.0-1+deb12u1", "b": "1.9-1", "d": "5"}
    assert outdated(installed, newest) == {"a": ["1.0-1", "1.0-1+deb12u1"]}
