"""The offline vulnerability gate: an image's packages against a Debian security tracker feed.

The feed is the document the tracker serves as https://security-tracker.debian.org/tracker/data/json
(source package -> CVE -> {"releases": {codename: {status, fixed_version, urgency}}}), read from a
file or a URL. A package is affected when its release's entry is `open`, or `resolved` with a
fixed_version newer than the installed source version (Debian version ordering).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bakery.errors import ConfigError
from bakery.sbom import Package

# Urgency levels, lowest first; a finding fails the gate at or above fail_on. The tracker marks
# some urgencies with * or ** (not from the maintainer): stripped. Not yet assigned counts as
# medium; unimportant and end-of-life never fail the gate.
LEVELS = {"unimportant": 0, "end-of-life": 0, "low": 1, "medium": 2, "not yet assigned": 2, "high": 3}
FEED_TIMEOUT_S = 60


@dataclass(frozen=True)
class Finding:
    cve: str
    package: str  # the source package
    installed: str
    fixed: str  # '' while the CVE is open
    urgency: str
    status: str
    fails: bool  # at or above fail_on and not waived
    waived: str = ""  # the waiver's reason
    note: str = ""  # e.g. "waiver expired on 2026-01-01"


def feed_bytes(source: str, root: Path) -> bytes:
    """The feed's raw document; ConfigError when it cannot be read (the check then fails)."""
    import urllib.request

    try:
        if source.startswith(("http://", "https://", "file://")):
            with urllib.request.urlopen(source, timeout=FEED_TIMEOUT_S) as response:
                return response.read()
        return (root / source).read_bytes()
    except (OSError, ValueError) as error:
        raise ConfigError(f"vulnerability feed {source} cannot be read: {error}",
                          hint="fix verify.vulnerabilities.feed in bakery.yml") from None


def parse_feed(data: bytes, source: str) -> dict:
    try:
        feed = json.loads(data)
    except ValueError as error:
        raise ConfigError(f"vulnerability feed {source} is not JSON: {error}",
                          hint="use the security tracker's tracker/data/json document") from None
    if not isinstance(feed, dict):
        raise ConfigError(f"vulnerability feed {source} is not a package -> CVE mapping",
                          hint="use the security tracker's tracker/data/json document")
    return feed


def feed_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def level(urgency: str) -> int:
    return LEVELS.get(urgency.rstrip("*").strip(), LEVELS["not yet assigned"])


def affected(entry: dict, installed: str) -> bool:
    from debian.debian_support import Version

    status, fixed = entry.get("status"), entry.get("fixed_version") or ""
    if status == "open":
        return True
    if status != "resolved" or fixed in ("", "0"):
        return False
    try:
        return Version(installed) < Version(fixed)
    except ValueError:  # a version Debian's order cannot place: fail closed
        return True


def findings(feed: dict, packages: dict[str, Package], codename: str, fail_on: str, waivers: list,
             today: datetime.date) -> list[Finding]:
    """Every affected (source package, CVE) of the image, each judged against fail_on and the waivers."""
    sources = {p.source: p.source_version for p in packages.values()}
    found = []
    for source, installed in sorted(sources.items()):
        for cve, info in sorted((feed.get(source) or {}).items()):
            entry = ((info or {}).get("releases") or {}).get(codename)
            if entry and affected(entry, installed):
                found.append(_judged(cve, source, installed, entry, fail_on, waivers, today))
    return found


def _judged(cve, source, installed, entry, fail_on, waivers, today) -> Finding:
    urgency = entry.get("urgency") or "not yet assigned"
    waiver = next((w for w in waivers if w.cve == cve), None)
    expired = waiver is not None and waiver.until < today
    waived = waiver.reason if waiver and not expired else ""
    note = f"waiver expired on {waiver.until.isoformat()}" if expired else ""
    fails = level(urgency) >= LEVELS[fail_on] and not waived
    return Finding(cve, source, installed, entry.get("fixed_version") or "", urgency, entry.get("status", ""),
                   fails, waived, note)


def check(settings, root: Path, packages: dict[str, Package], codename: str,
          today: datetime.date | None = None) -> dict:
    """The vulnerabilities check's report entry: skipped without a feed, failed when the feed cannot be read."""
    if settings is None or not settings.feed:
        return {"skipped": "no feed configured (verify.vulnerabilities.feed)", "passed": True, "findings": []}
    today = today or datetime.date.today()
    try:
        data = feed_bytes(settings.feed, root)
        feed = parse_feed(data, settings.feed)
    except ConfigError as error:
        return {"feed": settings.feed, "passed": False, "problem": error.message, "findings": []}
    found = findings(feed, packages, codename, settings.fail_on, settings.waivers, today)
    return {"feed": settings.feed, "feed_sha256": feed_digest(data), "release": codename,
            "fail_on": settings.fail_on, "passed": not any(f.fails for f in found),
            "findings": [asdict(f) for f in found]}


def failures(entry: dict) -> list[str]:
    """The reasons the check fails an image, one line each."""
    if entry.get("problem"):
        return [f"vulnerabilities: {entry['problem']}"]
    failing = [f for f in entry.get("findings", []) if f["fails"]]
    if not failing:
        return []
    shown = ", ".join(f"{f['cve']} in {f['package']} {f['installed']} ({f['urgency']}"
                      f"{', fixed in ' + f['fixed'] if f['fixed'] else ', no fix yet'}"
                      f"{'; ' + f['note'] if f['note'] else ''})" for f in failing[:3])
    more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
    return [f"vulnerabilities: {len(failing)} finding(s) at or above {entry['fail_on']}: {shown}{more}"]
