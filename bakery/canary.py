"""Secrets passed to a bake, and the canary that proves they do not leak.

Every bake gets a canary secret as an extra var (`bakery_canary`). Verification fails if the canary,
or any of the service's secrets, shows up in the image or the build's run dir.

A bake's canary is derived from the signing key in use (BAKERY_SIGNING_KEY, signing.key, else this
machine's key; bakery/keys.py) and the bake's run id: `bakery-canary-` + the first 32 hex digits of
HMAC-SHA256(raw private key, "bakery-canary:" + run id). It is never written down: an image (and
each role layer) names its bake runs (`bakery.run-id`, `bakery.run-id.NN`) and, next to each, the id
of the key its canary derives from (`bakery.canary-key`, `bakery.canary-key.NN`). So whoever signs
with that key (this machine, or every CI runner sharing BAKERY_SIGNING_KEY) can check an image baked
on top of layers baked elsewhere. A run whose key is another one, or whose key label is missing and
whose canary file (kept per machine by bakes before derived canaries) is not here, cannot be shown
clean, so it fails the check.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from bakery.config import Project
from bakery.errors import ConfigError

CANARY_VAR = "bakery_canary"
RUN_LABEL = "bakery.run-id"
KEY_LABEL = "bakery.canary-key"
PREFIX = "bakery-canary-"


@dataclass(frozen=True)
class CanaryKey:
    """The key canaries derive from: its id (keys.key_id of its public half) and its secret material."""

    key_id: str
    material: bytes

    def canary(self, run_id: str) -> str:
        mac = hmac.new(self.material, f"bakery-canary:{run_id}".encode(), hashlib.sha256)
        return PREFIX + mac.hexdigest()[:32]


@dataclass(frozen=True)
class BakeRun:
    run_id: str
    key_id: str  # '' for a bake from before derived canaries: its canary is a file on the baking machine


def canary_key(project: Project) -> CanaryKey:
    """The key this machine signs with, for this project."""
    from bakery import keys

    return key_of(keys.project_signing_key(project))


def key_of(private) -> CanaryKey:
    """The canary key of an Ed25519 signing key."""
    from cryptography.hazmat.primitives import serialization

    from bakery import keys

    raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    return CanaryKey(keys.key_id(private.public_key()), raw)


def run_labels(key: CanaryKey, run_id: str, index: int | None = None) -> dict[str, str]:
    """The labels naming a bake run and its canary key: for the image (index None) or role layer index."""
    suffix = "" if index is None else f".{index:02d}"
    return {RUN_LABEL + suffix: run_id, KEY_LABEL + suffix: key.key_id}


def canary_dir() -> Path:
    """$XDG_STATE_HOME/bakery/canaries (default ~/.local/state/bakery/canaries): the canaries of older bakes."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "bakery" / "canaries"


def _canary_path(run_id: str) -> Path:
    return canary_dir() / run_id


def secret_vars(project: Project, service: str) -> dict[str, str]:
    """The service's secret extra vars, read from the environment; a missing one is a config error."""
    values = {}
    for var, env_name in project.service(service).secrets.items():
        if not os.environ.get(env_name):
            raise ConfigError(
                f"secret '{var}' of service '{service}' needs environment variable {env_name}",
                hint=f"export {env_name}=... before baking",
            )
        values[var] = os.environ[env_name]
    return values


def bake_runs_of(labels: dict[str, str]) -> list[BakeRun]:
    """The runs that baked an image (bakery.run-id, and bakery.run-id.NN of each role layer), with the
    id of the key each one's canary derives from."""
    found: dict[str, str] = {}
    for label, run_id in labels.items():
        if run_id and (label == RUN_LABEL or label.startswith(RUN_LABEL + ".")):
            key_id = labels.get(KEY_LABEL + label.removeprefix(RUN_LABEL), "")
            found[run_id] = found.get(run_id) or key_id
    return [BakeRun(run_id, found[run_id]) for run_id in sorted(found)]


def bake_runs(labels: dict[str, str]) -> list[str]:
    """The ids of the runs that baked an image."""
    return [run.run_id for run in bake_runs_of(labels)]


def _canary_of(run: BakeRun, key: CanaryKey) -> str | None:
    """The run's canary, when this machine can know it: derived with its key, or kept in a file (older bakes)."""
    if run.key_id:
        return key.canary(run.run_id) if run.key_id == key.key_id else None
    path = _canary_path(run.run_id)
    return path.read_text().strip() if path.is_file() else None


def missing_canaries(key: CanaryKey, labels: dict[str, str]) -> list[str]:
    """Runs of an image whose canary cannot be known with key (the key this machine signs with)."""
    return [run.run_id for run in bake_runs_of(labels) if _canary_of(run, key) is None]


def all_here(key: CanaryKey, labels: dict[str, str]) -> bool:
    """Whether this machine knows the canary of every bake run of an image (or role layer); one it does
    not makes verification fail, so such an image is not worth reusing."""
    return not missing_canaries(key, labels)


def secrets_for(project: Project, service: str, labels: dict[str, str], key: CanaryKey) -> list[str]:
    """Values that must appear nowhere: the canaries of an image's bakes and the secrets that are set now."""
    found = [value for run in bake_runs_of(labels) if (value := _canary_of(run, key))]
    for env_name in project.service(service).secrets.values():
        if os.environ.get(env_name):
            found.append(os.environ[env_name])
    return found
