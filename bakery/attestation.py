"""Signed attestations: an in-toto Statement (v1) about one image digest, in a DSSE envelope.

The envelope is the DSSE JSON envelope (payloadType application/vnd.in-toto+json); its signature is
Ed25519 over DSSE's pre-authentication encoding (PAE) of the payload, by bakery's signing key
(bakery/keys.py), with the key id keys.key_id names. An image's predicate (type PREDICATE_TYPE) carries
the signed verdict record and its report, the fingerprint inputs, bakery's version and the git commit;
a role layer's (type LAYER_PREDICATE_TYPE) its layer key, role and the canary keys of its bakes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from bakery import keys

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://bakery.dev/attestation/verdict/v1"
LAYER_PREDICATE_TYPE = "https://bakery.dev/attestation/layer/v1"
ENVELOPE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"


@dataclass(frozen=True)
class Opened:
    """An envelope as far as it can be trusted: its statement, or why not."""

    statement: dict | None
    problem: str = ""

    @property
    def subject_digest(self) -> str:
        return "sha256:" + self.statement["subject"][0]["digest"]["sha256"]


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def statement(name: str, digest: str, predicate: dict, predicate_type: str = PREDICATE_TYPE) -> dict:
    return {"_type": STATEMENT_TYPE, "subject": [{"name": name, "digest": {"sha256": digest.removeprefix("sha256:")}}],
            "predicateType": predicate_type, "predicate": predicate}


def envelope(statement_data: dict, signing_key) -> bytes:
    """The DSSE envelope of statement, signed by signing_key (an Ed25519 private key)."""
    payload = keys.canonical(statement_data)
    signature = signing_key.sign(pae(PAYLOAD_TYPE, payload))
    data = {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": keys.key_id(signing_key.public_key()), "sig": base64.b64encode(signature).decode()}]}
    return json.dumps(data, sort_keys=True).encode()


def open_envelope(data: bytes, trusted: list, predicate_type: str = PREDICATE_TYPE) -> Opened:
    """The statement (of predicate_type) when one of trusted signed the envelope; else why not (one line)."""
    from cryptography.exceptions import InvalidSignature

    try:
        outer = json.loads(data)
        payload = base64.b64decode(outer["payload"], validate=True)
        signatures = [(s["keyid"], base64.b64decode(s["sig"], validate=True)) for s in outer["signatures"]]
        kind = outer["payloadType"]
    except (ValueError, KeyError, TypeError):
        return Opened(None, "the attestation is not a DSSE envelope bakery can read")
    by_id = {keys.key_id(k): k for k in trusted}
    for key_id, signature in signatures:
        if key_id in by_id:
            try:
                by_id[key_id].verify(signature, pae(kind, payload))
            except InvalidSignature:
                return Opened(None, "the attestation's signature does not match its content (edited after signing?)")
            return _statement(kind, payload, predicate_type)
    named = ", ".join(k[:16] for k, _ in signatures) or "no key"
    return Opened(None, f"the attestation is signed by {named}, which is not a trusted key (trust.keys)")


def _statement(kind: str, payload: bytes, predicate_type: str) -> Opened:
    try:
        data = json.loads(payload)
        ok = (kind == PAYLOAD_TYPE and data["_type"] == STATEMENT_TYPE and data["predicateType"] == predicate_type
              and data["subject"][0]["digest"]["sha256"])
    except (ValueError, KeyError, TypeError, IndexError):
        ok = False
    what = "verdict" if predicate_type == PREDICATE_TYPE else "layer"
    return Opened(data, "") if ok else Opened(None, f"the attestation is not a bakery {what} statement")
