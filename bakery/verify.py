"""`bakery verify`: hygiene checks on the image filesystem, then boot it and run its testinfra suite."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bakery import __version__, canary, catalog, keys, proc, sbom, statefile, systemd, vulns
from bakery.config import Project
from bakery.errors import BakeryError, ConfigError, PrerequisiteError, VerifyFailed
from bakery.hygiene import CANARY_CHECK, HygieneResult, run_hygiene
from bakery.progress import Reporter
from bakery.rundir import RunDir
from bakery.targets import ImageRecord, Instance, Target

# The version of bakery's built-in checks (hygiene, boot and unit health): part of every verdict's
# key, so a verdict made by checks that have since changed what they find is stale. Bump it with
# such a change.
CHECKS_VERSION = "2"
SUITE_MODULES_ENV = "BAKERY_SUITE_MODULES_FILE"
_SKIPPED_PARTS = ("__pycache__", ".pytest_cache")


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
    settle: dict = field(default_factory=dict)  # unit health after the settle window
    transport: dict = field(default_factory=dict)  # how the suite reached the instance, or why it could not
    after_suite: dict = field(default_factory=dict)  # unit health after the suite
    hygiene: list[dict] = field(default_factory=list)
    tests: list[dict] = field(default_factory=list)
    sbom: dict = field(default_factory=dict)  # the SBOM files and their digests, or why there is none
    vulnerabilities: dict = field(default_factory=dict)  # the vulnerability gate's findings, or why it was skipped
    key: dict = field(default_factory=dict)  # what was checked (verdict_key)
    suite_modules: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def failures(self) -> list[str]:
        reasons = [f"hygiene {h['check']}: {', '.join(h['findings'][:3])}" for h in self.hygiene
                   if not h["passed"] and not h["waived"]]
        if self.boot.get("problem"):
            reasons.append(self.boot["problem"])
        for when, health in (("after the settle window", self.settle), ("after the suite", self.after_suite)):
            if health and not _health(health).ok:
                described = _health(health).describe()
                if not any(r.endswith(described) for r in reasons):  # the same units, still: said once
                    reasons.append(f"{when}: {described}")
        if self.sbom.get("problem"):
            reasons.append(f"sbom: {self.sbom['problem']}")
        reasons += vulns.failures(self.vulnerabilities)
        if self.transport.get("problem"):
            reasons.append(self.transport["problem"])
        failed_tests = [t["name"] for t in self.tests if t["outcome"] in ("failed", "error")]
        if failed_tests:
            reasons.append(f"{len(failed_tests)} test(s) failed: {', '.join(failed_tests)}")
        if not self.tests and self.transport.get("spec"):
            reasons.append("the suite ran no test")
        return list(dict.fromkeys(reasons))


def _health(data: dict) -> systemd.Health:
    findings = tuple(systemd.UnitFinding(f["unit"], f["problem"], tuple(f["journal"])) for f in data["findings"])
    return systemd.Health(data["state"], tuple(data["queued_jobs"]), findings)


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
    """Verify one image and record the verdict; raises VerifyFailed when it does not pass.

    Settle, then judge: boot is done when systemd has no queued jobs; the unit states must then
    hold for the settle window (the suite's connection is set up meanwhile), and are read once
    more after the suite. A unit that failed, waits to restart or restarted fails the image.
    """
    settings = project.service(service).verify
    suite = suite_for(project, service)
    started = time.monotonic()
    report = VerifyReport(service, image.ref, image.image_id, image.fingerprint, run.run_id, host="")
    if not target.hygiene_on_instance:
        reporter.info("hygiene checks on the image filesystem")
        report.hygiene = [asdict(h) for h in check_image_hygiene(project, service, image, target)]
    with contents_meanwhile(project, service, image, target, run) as contents, \
            target.boot_instance(image, run) as instance:
        report.host = instance.host_spec
        boot = target.wait_until_booted(instance, settings.boot_timeout_s)
        report.boot = {**asdict(boot), "problem": "" if boot.ok else boot.describe()}
        reporter.info(f"booted in {boot.seconds:.1f} s: {boot.describe()}")
        if boot.state != "timeout":
            _settle_and_test(project, service, image, target, run, instance, report, reporter)
        if target.hygiene_on_instance:
            reporter.info("hygiene checks on the image as baked, from the instance")
            report.hygiene = [asdict(h) for h in check_image_hygiene(project, service, image, target, instance)]
        report.sbom, report.vulnerabilities = contents.result()
    report.duration_s = round(time.monotonic() - started, 2)
    return conclude(project, report, run, target, image)


def _settle_and_test(project: Project, service: str, image: ImageRecord, target: Target, run: RunDir,
                     instance: Instance, report: VerifyReport, reporter: Reporter) -> None:
    settings = project.service(service).verify
    suite = suite_for(project, service)
    shell = target.instance_shell(instance)
    settle_until = time.monotonic() + settings.settle_s
    with target.suite_host(instance, run, settings.transport) as host:
        report.transport = asdict(host)
        health = systemd.hold(shell, settle_until)
        report.settle = asdict(health)
        reporter.info(f"after {settings.settle_s:g} s of settling: {health.describe()}")
        if host.problem:
            return
        report.host = host.spec
        modules_file = run.path / "suite-modules.json"
        env = {**suite_env(project, service, image), SUITE_MODULES_ENV: str(modules_file)}
        report.tests = [asdict(t) for t in run_suite(suite, host.spec, run, env, project.root)]
        report.suite_modules = _suite_modules(modules_file, project.root, suite)
        report.after_suite = asdict(systemd.read_health(shell))


def check_image_hygiene(project: Project, service: str, image: ImageRecord, target: Target,
                        instance: Instance | None = None) -> list[HygieneResult]:
    """The hygiene checks on the image as baked: on its filesystem here, or from its booted instance."""
    waivers = {w.check: w.reason for w in project.service(service).verify.waivers}
    runs = canary.bake_runs(image.labels)
    build_runs = [project.state_dir() / "runs" / run_id for run_id in runs]
    key = canary.canary_key(project)
    secrets = canary.secrets_for(project, service, image.labels, key)
    if instance is not None:
        results = target.instance_hygiene(image, instance, waivers, secrets, build_runs)
    else:
        with target.image_root(image) as root:
            results = run_hygiene(root, waivers, secrets, build_runs)
    missing = canary.missing_canaries(key, image.labels) if runs else ["(the image names no bake run)"]
    return [unknown_canaries(r, missing) if r.check == CANARY_CHECK else r for r in results]


@contextlib.contextmanager
def contents_meanwhile(project: Project, service: str, image: ImageRecord, target: Target, run: RunDir):
    """The SBOM and the vulnerability gate, from the image's filesystem, made while the instance boots
    (syft takes about 3 s of a shared CPU, the boot alone 2-6 s)."""
    from concurrent.futures import Future, ThreadPoolExecutor

    if target.hygiene_on_instance:
        done = Future()
        done.set_result(contents_not_examined(project, service, target))
        yield done
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bakery-sbom") as pool:
        yield pool.submit(examine_contents, project, service, image, target, run)


def examine_contents(project: Project, service: str, image: ImageRecord, target: Target,
                     run: RunDir) -> tuple[dict, dict]:
    """(sbom entry, vulnerabilities entry) of the verify report, from the image's read-only mount."""
    settings = project.service(service).verify.vulnerabilities
    with target.image_root(image) as root:
        packages = sbom.installed_packages(root)
        run.write_json("packages.json", {name: asdict(p) for name, p in sorted(packages.items())})
        vulnerabilities = vulns.check(settings, project.root, packages, sbom.os_codename(root))
        try:
            made = sbom.generate(root, run.path)
        except BakeryError as error:
            made = {"problem": error.one_line(), "files": []}
    return {**made, "packages": len(packages)}, vulnerabilities


def contents_not_examined(project: Project, service: str, target: Target) -> tuple[dict, dict]:
    """A target that does not mount the image here: no SBOM (said so); a configured feed fails closed."""
    why = f"the {target.name} target does not mount the image's filesystem on this machine"
    settings = project.service(service).verify.vulnerabilities
    gate = ({"passed": False, "problem": f"feed {settings.feed} configured, but {why}", "findings": []}
            if settings.feed else {"skipped": "no feed configured (verify.vulnerabilities.feed)", "passed": True,
                                   "findings": []})
    return {"skipped": why, "files": []}, gate


def unknown_canaries(result: HygieneResult, missing: list[str]) -> HygieneResult:
    """A bake whose canary this machine cannot know cannot be shown not to leak it: fail closed."""
    if not missing:
        return result
    unknown = tuple(f"canary of bake run {run_id} is not on this machine (derived from another signing key, or"
                    " kept by the machine that baked it; rebake here: --force)" for run_id in missing)
    return dataclasses.replace(result, passed=False, findings=result.findings + unknown)


def verify_host(project: Project, service: str, host_spec: str, run: RunDir,
                image: ImageRecord | None = None) -> VerifyReport:
    """Run the suite against an already running host (no boot, no filesystem checks, no verdict record).

    With image, the suite expects that image's fingerprint on the host.
    """
    suite = suite_for(project, service)
    check_reachable(host_spec)
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


def check_reachable(host_spec: str) -> None:
    """One command on the host through the suite's own backend: a host that cannot be reached is a
    connection error (exit 4), not a list of failed tests."""
    import testinfra

    try:
        result = testinfra.get_host(host_spec).run("true")
        why = "" if result.rc == 0 else (result.stderr.strip().splitlines() or [f"exit {result.rc}"])[-1]
    except Exception as exc:  # noqa: BLE001 - each testinfra backend fails its own way (paramiko, docker, ...)
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if why:
        raise PrerequisiteError(f"cannot reach {host_spec}: {why}",
                                hint="check the address, that the host runs and accepts your login (ssh config, key)")


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
            f"--confcutdir={root}", f"--junitxml={junit}", "-p", "no:cacheprovider", "-p", "bakery.suite_plugin",
            "-q", "--no-header", "-o", "addopts="]
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
    """The verdict: signed, bound to the image id, the key of what was checked and the report's digest."""
    report.verdict = catalog.FAILED if report.failures() else catalog.PASSED
    report.key = verdict_key(project, report.service, report.suite_modules)
    path = run.write_json("verify-report.json", asdict(report))
    data = path.read_bytes()
    verdict = catalog.Verdict(report.service, report.image, report.image_id, report.fingerprint, report.verdict,
                              report.key, hashlib.sha256(data).hexdigest(), run.run_id, time.time(), __version__,
                              report.suite_modules)
    catalog.record_verdict(project.state_dir(), verdict, data)
    target.record_verdict(image, verdict)
    if report.verdict != catalog.PASSED:
        done = target.quarantine(image, project.state_dir()) if leaked_a_secret(report) else ""
        raise VerifyFailed(f"{report.image} failed verification: {'; '.join(report.failures())}"
                           + (f"; {done}" if done else ""), hint=f"report: {path}")
    return report


def leaked_a_secret(report: VerifyReport) -> bool:
    """A secret of the bake was found in the image (not merely a canary that is not on this machine)."""
    return any(h["check"] == CANARY_CHECK and not h["passed"] and any(f.startswith("/") for f in h["findings"])
               for h in report.hygiene)


# -- what a verdict is bound to ------------------------------------------------------------------

def verdict_key(project: Project, service: str, suite_modules: list[str] = ()) -> dict[str, str]:
    """A digest per part of what verification checks: the suite (its files, the conftest.py files that
    apply, and the project modules it imported), the waivers, the settings that change the outcome,
    and the version of the built-in checks."""
    settings = project.service(service).verify
    return {
        "suite": suite_digest(project, service, suite_modules),
        "waivers": _digest([w.model_dump() for w in settings.waivers]),
        "settings": _digest({"boot_timeout_s": settings.boot_timeout_s, "settle_s": settings.settle_s,
                             "transport": settings.transport}),
        "checks": CHECKS_VERSION,
        **({"vulnerabilities": vulnerabilities_digest(project, settings.vulnerabilities)}
           if settings.vulnerabilities.feed else {}),
    }


def vulnerabilities_digest(project: Project, settings) -> str:
    """The gate's settings and the feed's content: a new feed makes the verdicts made with the old one stale.
    (Without a feed the key has no such part, so the verdicts made before the gate existed stay valid.)"""
    try:
        feed = vulns.feed_digest(vulns.feed_bytes(settings.feed, project.root))
    except ConfigError:
        feed = "unreadable"
    return _digest({"settings": settings.model_dump(mode="json"), "feed": feed})


def expected_key(project: Project, service: str) -> catalog.ExpectedKey | None:
    """What a verdict of service must have been checked with now (None: the service is not in the project)."""
    if service not in project.services:
        return None
    return lambda verdict: verdict_key(project, service, verdict.suite_modules)


def verdict_of(project: Project, image: ImageRecord, target: Target, trusted: list | None = None) -> catalog.VerdictState:
    """The image's verdict as far as it can be trusted, judged against what the project checks now
    (trusted: the keys, when the caller read them once for many images)."""
    trusted = trusted_keys(project) if trusted is None else trusted
    return target.verdict(project, image, expected_key(project, image.service), trusted)


def trusted_keys(project: Project) -> list:
    """This machine's signing key, the project's signing.key and the keys of trust.keys."""
    return keys.trusted_keys(project.trusted_key_paths(), own=keys.project_public_keys(project))


def suite_digest(project: Project, service: str, suite_modules: list[str] = ()) -> str:
    suite = project.suite_path(service)
    files = {p for p in suite.rglob("*") if p.is_file() and not _skipped(p)} if suite.is_dir() else {suite}
    for directory in [suite, *suite.parents]:
        if directory == project.root.parent or not directory.is_relative_to(project.root):
            break
        files.add(directory / "conftest.py")
    files |= {project.root / m for m in suite_modules}
    return _digest({_relative(p, project.root): _file_digest(p) for p in sorted(files)})


def _skipped(path: Path) -> bool:
    return any(part in _SKIPPED_PARTS for part in path.parts) or path.suffix == ".pyc"


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "absent"
    except OSError as error:
        return f"unreadable: {type(error).__name__}"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _digest(data) -> str:
    return hashlib.sha256(keys.canonical(data)).hexdigest()


def _suite_modules(modules_file: Path, root: Path, suite: Path) -> list[str]:
    """Project files (outside the suite dir) that the suite imported, as bakery's pytest plugin listed them."""
    listed = statefile.read_json(modules_file, "suite module list") or []
    inside = [Path(p) for p in listed if isinstance(p, str)]
    own = Path(__file__).resolve().parent  # bakery itself (its pytest plugin), when it sits in the project
    return sorted(_relative(p, root) for p in inside
                  if p.is_relative_to(root) and not p.is_relative_to(suite) and not p.is_relative_to(own)
                  and not _skipped(p) and ".venv" not in p.parts and "site-packages" not in p.parts)


def report_json(report: VerifyReport) -> str:
    return json.dumps(asdict(report), indent=2, sort_keys=True)
