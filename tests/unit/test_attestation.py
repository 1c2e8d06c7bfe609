"""DSSE envelopes of in-toto statements: signed, opened, and refused when untrusted or edited."""

import base64
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bakery import attestation

DIGEST = "sha256:" + "ab" * 32


def signed(key):
    return attestation.envelope(attestation.statement("reg/team/web", DIGEST, {"record": {}}), key)


def test_a_trusted_signature_opens_the_statement():
    key = Ed25519PrivateKey.generate()
    opened = attestation.open_envelope(signed(key), [key.public_key()])
    assert opened.problem == "" and opened.subject_digest == DIGEST
    assert opened.statement["_type"] == "https://in-toto.io/Statement/v1"


def test_an_untrusted_key_is_named():
    opened = attestation.open_envelope(signed(Ed25519PrivateKey.generate()), [Ed25519PrivateKey.generate().public_key()])
    assert opened.statement is None and "not a trusted key" in opened.problem


def test_an_edited_statement_is_refused():
    key = Ed25519PrivateKey.generate()
    envelope = json.loads(signed(key))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["subject"][0]["digest"]["sha256"] = "cd" * 32
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    opened = attestation.open_envelope(json.dumps(envelope).encode(), [key.public_key()])
    assert opened.statement is None and "does not match" in opened.problem


def test_pae_is_dsse_v1():
    assert attestation.pae("t", b"abc") == b"DSSEv1 1 t 3 abc"
