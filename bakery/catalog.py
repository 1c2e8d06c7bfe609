"""The local catalog of verification verdicts: one JSON record per image id, with the report's digest."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bakery import statefile

PASSED = "passed"
FAILED = "failed"
UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Verdict:
    service: str
    image: str
    image_id: str
    fingerprint: str
    verdict: str  # passed | failed
    report_sha256: str
    report_path: str
    run_id: str
    at: float


def record_inputs(state_dir: Path, fingerprint: str, inputs: list[dict]) -> None:
    """What went into a fingerprint, so `bakery plan` can say what changed since."""
    path = state_dir / "catalog" / "inputs" / f"{fingerprint}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(inputs, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)


def inputs_for(state_dir: Path, fingerprint: str) -> list[dict] | None:
    path = state_dir / "catalog" / "inputs" / f"{fingerprint}.json"
    return statefile.read_json(path, "inputs record")


def _path(state_dir: Path, image_id: str) -> Path:
    return state_dir / "catalog" / "verdicts" / f"{image_id.removeprefix('sha256:')}.json"


def record_verdict(state_dir: Path, verdict: Verdict) -> Path:
    path = _path(state_dir, verdict.image_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(verdict), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def verdict_for(state_dir: Path, image_id: str) -> Verdict | None:
    return statefile.read_json(_path(state_dir, image_id), "verdict record", lambda data: Verdict(**data),
                               hint="remove it and run bakery verify again")


def status_of(state_dir: Path, image_id: str) -> str:
    verdict = verdict_for(state_dir, image_id)
    return verdict.verdict if verdict else UNVERIFIED


def is_verified(state_dir: Path, image_id: str) -> bool:
    return status_of(state_dir, image_id) == PASSED
