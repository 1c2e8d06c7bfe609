"""`bakery verify`: hygiene checks on the image filesystem, then boot it and run its testinfra suite."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bakery import canary, catalog, proc
from bakery.config import Project
from bakery.errors import ConfigError, VerifyFailed
from bakery.hygiene import CANARY_CHECK, HygieneResult, run_hygiene
from bakery.progress import Reporter
from bakery.rundir import RunDir
from bakery.targets import ImageRecord, Instance, Target


@dataclass(frozen=True)
class TestOutcome:
    name: str
    outcome: str  # passed, failed, error, skipped
    message: str = ""


@dataclass
class VerifyReport:
    service: str
    image: str
    image_id: str
    fingerprint: str
    run_id: str
    host: str
    verdict: str = catalog.FAILED
    boot: dict = field(default_factory=dict)
    hygiene: list[dict] = field(default_factory=list)
    tests: list[dict] = field(default_factory=list)
    duration_s: float = 0.0

    def failures(self) -> list[str]:
        reasons = [f"hygiene {h['check']}: {', '.join(h['findings'][:3])}" for h in self.hygiene
                   if not h["passed"] and not h["waived"]]
        if self.boot.get("problem"):
            reasons.append(self.boot["problem"])
        failed_tests = [t["name"] for t in self.tests if t["outcome"] in ("failed", "error")]
        if failed_tests:
            reasons.append(f"{len(failed_tests)} test(s) failed: {', '.join(failed_tests)}")
        if not self.tests and self.boot.get("state") == "running":
            reasons.append("the suite ran no test")
        return reasons


def suite_for(project: Project, service: str) -> Path:
    suite = project.suite_path(service)
    if not suite.exists():
        raise ConfigError(
            f"no verification suite for '{service}' at {suite}",
            hint=f"create it or set services.{service}.verify.suite in bakery.yml",
        )
    return suite


def verify_image(project: Project, service: str, image: ImageRecord, target: Target, run: RunDir,
                 reporter: Reporter) -> VerifyReport:
    """Verify one image and record the verdict; raises VerifyFailed when it does not pass."""
    settings = project.service(service).verify
    suite = suite_for(project, service)
    started = time.monotonic()
    report = VerifyReport(service, image.ref, image.image_id, image.fingerprint, run.run_id, host="")
    if not target.hygiene_on_instance:
        reporter.info("hygiene checks on the image filesystem")
        report.hygiene = [asdict(h) for h in check_image_hygiene(project, service, image, target)]
    with target.boot_instance(image, run) as instance:
        report.host = instance.host_spec
        boot = target.wait_until_booted(instance, settings.boot_timeout_s)
        report.boot = {**asdict(boot), "problem": "" if boot.ok else boot.describe()}
        reporter.info(f"booted in {boot.seconds:.1f} s: {boot.describe()}")
        if boot.state in ("running", "degraded"):
            with target.suite_host(instance, run) as host_spec:
                report.host = host_spec
                report.tests = [asdict(t) for t in run_suite(suite, host_spec, run, suite_env(project, service, image),
                                                             project.root)]
        if target.hygiene_on_instance:
            reporter.info("hygiene checks on the image as baked, from the instance")
            report.hygiene = [asdict(h) for h in check_image_hygiene(project, service, image, target, instance)]
    report.duration_s = round(time.monotonic() - started, 2)
    return conclude(project, report, run, target, image)


def check_image_hygiene(project: Project, service: str, image: ImageRecord, target: Target,
                        instance: Instance | None = None) -> list[HygieneResult]:
    """The hygiene checks on the image as baked: on its filesystem here, or from its booted instance."""
    waivers = {w.check: w.reason for w in project.service(service).verify.waivers}
    runs = canary.bake_runs(image.labels)
    build_runs = [project.state_dir() / "runs" / run_id for run_id in runs]
    secrets = canary.secrets_for(project, service, runs)
    if instance is not None:
        results = target.instance_hygiene(image, instance, waivers, secrets, build_runs)
    else:
        with target.image_root(image) as root:
            results = run_hygiene(root, waivers, secrets, build_runs)
    return [unknown_canaries(r, runs) if r.check == CANARY_CHECK else r for r in results]


def unknown_canaries(result: HygieneResult, runs: list[str]) -> HygieneResult:
    """A bake whose canary is not on this machine cannot be shown not to leak it: fail closed."""
    missing = canary.missing_canaries(runs) if runs else ["(the image names no bake run)"]
    if not missing:
        return result
    unknown = tuple(f"canary of bake run {run_id} is not on this machine (rebake here: --force)" for run_id in missing)
    return dataclasses.replace(result, passed=False, findings=result.findings + unknown)


def verify_host(project: Project, service: str, host_spec: str, run: RunDir,
                image: ImageRecord | None = None) -> VerifyReport:
    """Run the suite against an already running host (no boot, no filesystem checks, no verdict record).

    With image, the suite expects that image's fingerprint on the host.
    """
    suite = suite_for(project, service)
    report = VerifyReport(service, image=image.ref if image else "", image_id=image.image_id if image else "",
                          fingerprint=image.fingerprint if image else "", run_id=run.run_id, host=host_spec)
    env = suite_env(project, service, image) if image else {"BAKERY_SERVICE": service, **_version_env(project, service)}
    report.tests = [asdict(t) for t in run_suite(suite, host_spec, run, env, project.root)]
    report.boot = {}
    report.verdict = catalog.FAILED if report.failures() or not report.tests else catalog.PASSED
    run.write_json("verify-report.json", asdict(report))
    if report.verdict != catalog.PASSED:
        raise VerifyFailed(f"{host_spec} failed verification: {'; '.join(report.failures()) or 'no tests'}",
                           hint=f"report: {run.path / 'verify-report.json'}")
    return report


def suite_env(project: Project, service: str, image: ImageRecord) -> dict[str, str]:
    return {
        "BAKERY_SERVICE": service,
        "BAKERY_IMAGE": image.ref,
        "BAKERY_EXPECT_FINGERPRINT": image.fingerprint,
        **_version_env(project, service),
    }


def _version_env(project: Project, service: str) -> dict[str, str]:
    version = project.service(service).variables.get("app_version")
    return {"BAKERY_EXPECT_VERSION": str(version)} if version is not None else {}


def run_suite(suite: Path, host_spec: str, run: RunDir, env: dict[str, str], root: Path) -> list[TestOutcome]:
    """Run a testinfra suite; conftest.py files between the project root and the suite apply."""
    junit = run.path / "verify-junit.xml"
    argv = [sys.executable, "-m", "pytest", str(suite), f"--hosts={host_spec}", f"--rootdir={root}",
            f"--confcutdir={root}", f"--junitxml={junit}", "-p", "no:cacheprovider", "-q", "--no-header",
            "-o", "addopts="]
    proc.run(argv, env=proc.tool_env(env), cwd=root, log_path=run.path / "verify-pytest.log", check=False,
             timeout=1800)
    return read_junit(junit)


def read_junit(path: Path) -> list[TestOutcome]:
    if not path.exists():
        return []
    outcomes = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag.replace("failure", "failed"), (child.get("message") or "")[:300]
        outcomes.append(TestOutcome(f"{case.get('classname')}::{case.get('name')}", outcome, message))
    return outcomes


def conclude(project: Project, report: VerifyReport, run: RunDir, target: Target, image: ImageRecord) -> VerifyReport:
    report.verdict = catalog.FAILED if report.failures() else catalog.PASSED
    target.record_verdict(image, report.verdict == catalog.PASSED)
    path = run.write_json("verify-report.json", asdict(report))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    catalog.record_verdict(project.state_dir(), catalog.Verdict(
        report.service, report.image, report.image_id, report.fingerprint, report.verdict,
        digest, str(path), run.run_id, time.time()))
    if report.verdict != catalog.PASSED:
        raise VerifyFailed(f"{report.image} failed verification: {'; '.join(report.failures())}",
                           hint=f"report: {path}")
    return report


def report_json(report: VerifyReport) -> str:
    return json.dumps(asdict(report), indent=2, sort_keys=True)
