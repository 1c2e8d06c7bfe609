"""Bake canaries derived from the signing key: known to whoever signs with that key, to no one else."""

import re

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bakery import attestation, canary
from bakery.config import load_project


def write_key(path):
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


@pytest.fixture
def project(fixture_project, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(write_key(tmp_path / "ci.pem")))
    return load_project(fixture_project)


def test_a_canary_is_the_same_for_every_holder_of_the_key_and_differs_per_run(project, tmp_path, monkeypatch):
    first = canary.canary_key(project)
    value = first.canary("build-1")
    assert re.fullmatch(r"bakery-canary-[0-9a-f]{32}", value)
    assert canary.canary_key(project).canary("build-1") == value  # another runner with the same key
    assert first.canary("build-2") != value
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(write_key(tmp_path / "other.pem")))
    other = canary.canary_key(project)
    assert other.key_id != first.key_id and other.canary("build-1") != value


def test_runs_of_another_key_or_without_a_kept_canary_are_missing(project, tmp_path, monkeypatch):
    ours = canary.canary_key(project)
    labels = {**canary.run_labels(ours, "r-ours", 0), **canary.run_labels(ours, "r-ours", 1),
              "bakery.run-id.02": "r-theirs", "bakery.canary-key.02": "f" * 64,
              "bakery.run-id.03": "r-legacy-kept", "bakery.run-id": "r-legacy-gone"}
    (canary.canary_dir()).mkdir(parents=True)
    (canary.canary_dir() / "r-legacy-kept").write_text("bakery-canary-legacy\n")
    assert [(r.run_id, r.key_id) for r in canary.bake_runs_of(labels)] == [
        ("r-legacy-gone", ""), ("r-legacy-kept", ""), ("r-ours", ours.key_id), ("r-theirs", "f" * 64)]
    assert canary.missing_canaries(ours, labels) == ["r-legacy-gone", "r-theirs"]
    assert not canary.all_here(ours, labels)
    assert sorted(canary.secrets_for(project, "tiny", labels, ours)) == sorted(["bakery-canary-legacy", ours.canary("r-ours")])
    assert canary.all_here(ours, canary.run_labels(ours, "r-ours", 0))
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(write_key(tmp_path / "other.pem")))
    assert canary.missing_canaries(canary.canary_key(project), canary.run_labels(ours, "r-ours", 0)) == ["r-ours"]


def test_a_layer_attestation_is_not_a_verdict_attestation():
    key = Ed25519PrivateKey.generate()
    layer = attestation.statement("reg/bakery-layer/web", "sha256:" + "ab" * 32, {"layer": {}},
                                  attestation.LAYER_PREDICATE_TYPE)
    envelope = attestation.envelope(layer, key)
    assert attestation.open_envelope(envelope, [key.public_key()], attestation.LAYER_PREDICATE_TYPE).statement
    refused = attestation.open_envelope(envelope, [key.public_key()])
    assert refused.statement is None and "not a bakery verdict statement" in refused.problem
