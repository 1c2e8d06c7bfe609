"""Verdicts on AWS: the signed claim of a verification, as tags on the AMI itself.

Every machine that deploys or promotes an AMI reads its verdict from the AMI's tags, so the claim
travels there whole: `bakery:verdict.<field>` tags (image id, outcome, fingerprint, the digest of
each part of the key of checks, the report's sha256, the project modules the suite imported),
plus `bakery:verdict-sig` and `bakery:verdict-signer`. The signature covers exactly those fields;
the plain `bakery:verified` tag stays for people and filters, and is never trusted on its own.
"""

from __future__ import annotations

from bakery import catalog, keys
from bakery.aws import tags
from bakery.targets.base import ImageRecord

CLAIM_PREFIX = "bakery:verdict."
SIGNATURE = "bakery:verdict-sig"
SIGNER = "bakery:verdict-signer"
_KEY_PREFIX = "key."


def claim_of(verdict: catalog.Verdict) -> dict[str, str]:
    """The signed fields, as tag values (strings)."""
    return {
        "image_id": verdict.image_id,
        "service": verdict.service,
        "fingerprint": verdict.fingerprint,
        "verdict": verdict.verdict,
        "run_id": verdict.run_id,
        "at": f"{verdict.at:.3f}",
        "report_sha256": verdict.report_sha256,
        "suite_modules": ",".join(verdict.suite_modules),
        **{_KEY_PREFIX + part: value for part, value in verdict.key.items()},
    }


def verdict_tags(verdict: catalog.Verdict) -> dict[str, str]:
    claim = claim_of(verdict)
    signature = keys.sign(claim)
    return {**{CLAIM_PREFIX + k: v for k, v in claim.items()}, SIGNATURE: signature.value, SIGNER: signature.key_id,
            tags.VERIFIED: tags.TRUE if verdict.verdict == catalog.PASSED else tags.FALSE}


def verdict_state(image: ImageRecord, expected_key: catalog.ExpectedKey | None, trusted: list) -> catalog.VerdictState:
    """The AMI's verdict from its tags (as labels), checked and judged like a catalog record."""
    labels = image.labels
    label_prefix = "bakery.verdict."  # the labels of the bakery:verdict.* tags
    claim = {k[len(label_prefix):]: v for k, v in labels.items() if k.startswith(label_prefix)}
    where = f"the tags of {image.image_id}"
    if not claim:
        if labels.get("bakery.verified") == tags.TRUE:
            return catalog.untrusted(where, "bakery:verified is true, but no signed verdict goes with it")
        return catalog.VerdictState(catalog.UNVERIFIED)
    signature = keys.Signature(labels.get("bakery.verdict-sig", ""), labels.get("bakery.verdict-signer", ""))
    why = keys.check(claim, signature, trusted)
    if why:
        return catalog.untrusted(where, why)
    if claim.get("image_id") != image.image_id:
        return catalog.untrusted(where, f"it is the verdict of another image ({claim.get('image_id')})")
    return catalog.judge(_verdict(claim, image), expected_key)


def _verdict(claim: dict[str, str], image: ImageRecord) -> catalog.Verdict:
    key = {k[len(_KEY_PREFIX):]: v for k, v in claim.items() if k.startswith(_KEY_PREFIX)}
    modules = [m for m in claim.get("suite_modules", "").split(",") if m]
    return catalog.Verdict(claim.get("service", image.service), image.ref, image.image_id,
                           claim.get("fingerprint", ""), claim.get("verdict", ""), key,
                           claim.get("report_sha256", ""), claim.get("run_id", ""), float(claim.get("at") or 0),
                           "", modules)
