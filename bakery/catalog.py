"""The local catalog: what went into each fingerprint, and the signed verdict of each image.

A verdict record is a claim "this image id was booted and checked by this key of checks, with
this outcome", signed with the machine's Ed25519 key (bakery/keys.py). It sits in
.bakery/catalog/verdicts/<image-id>.json next to a copy of its report (<image-id>.report.json),
whose sha256 the signed claim names. Reading one checks the signature against the trusted keys,
that it names the image asked about, and the report's digest; a record that fails any of those
counts as `unverified`, with a warning naming the file. A record whose key of checks differs from
the key the project asks for now (suite edited, waivers changed, ...) is `stale`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bakery import keys, statefile
from bakery.state import write_bytes_atomic, write_json_atomic

PASSED = "passed"
FAILED = "failed"
UNVERIFIED = "unverified"
STALE = "stale"

log = logging.getLogger("bakery")


@dataclass(frozen=True)
class Verdict:
    """The signed claim. `key` holds a digest per part of what was checked (suite, waivers, settings, checks)."""

    service: str
    image: str
    image_id: str
    fingerprint: str
    verdict: str  # passed | failed
    key: dict[str, str]
    report_sha256: str
    run_id: str
    at: float
    bakery_version: str
    suite_modules: list[str] = field(default_factory=list)  # project files the suite imported (part of key.suite)

    @property
    def key_digest(self) -> str:
        return key_digest(self.key)


@dataclass(frozen=True)
class VerdictState:
    """What the catalog says of one image now."""

    status: str  # passed | failed | unverified | stale
    verdict: Verdict | None = None
    problem: str = ""  # a record is there but not trusted: which file and why
    changed: tuple[str, ...] = ()  # stale: the parts of the key that differ

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def describe(self) -> str:
        if self.status == STALE:
            return f"stale ({', '.join(self.changed)} changed since it was verified)"
        if self.problem:
            return f"unverified ({self.problem})"
        return self.status


def key_digest(key: dict[str, str]) -> str:
    return hashlib.sha256(keys.canonical(key)).hexdigest()


# -- inputs -----------------------------------------------------------------------------------

def record_inputs(state_dir: Path, fingerprint: str, inputs: list[dict]) -> None:
    """What went into a fingerprint, so `bakery plan` can say what changed since."""
    path = state_dir / "catalog" / "inputs" / f"{fingerprint}.json"
    if not path.exists():
        write_json_atomic(path, inputs)


def inputs_for(state_dir: Path, fingerprint: str) -> list[dict] | None:
    """The recorded inputs, or None when there is no record or it is not a list of inputs (a warning names it)."""
    return statefile.read_json(state_dir / "catalog" / "inputs" / f"{fingerprint}.json", "inputs record", _inputs)


def _inputs(data) -> list[dict]:
    if not (isinstance(data, list) and all(map(_is_input, data))):
        raise ValueError("not a list of inputs")
    return data


def _is_input(item) -> bool:
    return (isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("kind", "name", "digest"))
            and isinstance(item.get("parts") or {}, dict))


# -- verdicts ---------------------------------------------------------------------------------

def verdict_path(state_dir: Path, image_id: str) -> Path:
    return state_dir / "catalog" / "verdicts" / f"{image_id.removeprefix('sha256:')}.json"


def report_path(state_dir: Path, image_id: str) -> Path:
    return verdict_path(state_dir, image_id).with_suffix(".report.json")


def record_verdict(state_dir: Path, verdict: Verdict, report: bytes) -> Path:
    """Sign the verdict and store it with a copy of its report (the report first: a verdict never names a
    report that is not there)."""
    if hashlib.sha256(report).hexdigest() != verdict.report_sha256:
        raise ValueError("the report does not match the verdict's report_sha256")
    write_bytes_atomic(report_path(state_dir, verdict.image_id), report)
    payload = asdict(verdict)
    signature = keys.sign(payload)
    path = verdict_path(state_dir, verdict.image_id)
    write_json_atomic(path, {"verdict": payload, "signature": asdict(signature)})
    return path


ExpectedKey = Callable[[Verdict], dict]  # the key of checks the project asks for now, given the record


def verdict_state(state_dir: Path, image_id: str, expected_key: ExpectedKey | None, trusted: list) -> VerdictState:
    """The image's verdict as far as it can be trusted; expected_key None skips the staleness check."""
    path = verdict_path(state_dir, image_id)
    if not path.exists():
        return VerdictState(UNVERIFIED)
    verdict, problem = _trusted_record(state_dir, path, image_id, trusted)
    if verdict is None:
        return untrusted(str(path), problem)
    return judge(verdict, expected_key)


def untrusted(where: str, problem: str) -> VerdictState:
    log.warning(f"ignoring the verdict record {where}: {problem}")
    return VerdictState(UNVERIFIED, problem=f"{where}: {problem}")


def judge(verdict: Verdict, expected_key: ExpectedKey | None) -> VerdictState:
    """A trusted verdict: its outcome, or stale when the key of checks asked for now differs from its own."""
    wanted = expected_key(verdict) if expected_key else verdict.key
    if key_digest(wanted) != verdict.key_digest:
        changed = tuple(sorted(k for k in wanted.keys() | verdict.key.keys() if wanted.get(k) != verdict.key.get(k)))
        return VerdictState(STALE, verdict, changed=changed)
    return VerdictState(verdict.verdict, verdict)


def signed_claim(payload: dict, signature: keys.Signature, image_id: str, trusted: list) -> tuple[Verdict | None, str]:
    """The verdict when trusted signed it and it names image_id; else None and why."""
    try:
        verdict = Verdict(**payload)
    except TypeError:
        return None, "not a verdict record bakery can read (corrupt or from another version)"
    why = keys.check(payload, signature, trusted)
    if why:
        return None, why
    if verdict.image_id.removeprefix("sha256:") != image_id.removeprefix("sha256:"):
        return None, f"it is the verdict of another image ({verdict.image_id[:19]})"
    return verdict, ""


def _trusted_record(state_dir: Path, path: Path, image_id: str, trusted: list) -> tuple[Verdict | None, str]:
    data = statefile.read_json(path, "verdict record", quiet=True)
    try:
        payload, signature = dict(data["verdict"]), keys.Signature(**data["signature"])
    except (TypeError, KeyError, ValueError):
        return None, "not a verdict record bakery can read (corrupt or from another version)"
    verdict, why = signed_claim(payload, signature, image_id, trusted)
    if verdict is None:
        return None, why
    report = report_path(state_dir, image_id)
    try:
        digest = hashlib.sha256(report.read_bytes()).hexdigest()
    except OSError:
        return None, f"its report {report.name} is missing"
    if digest != verdict.report_sha256:
        return None, f"its report {report.name} was changed after the verdict was signed"
    return verdict, ""
