"""Signing keys: the per-machine Ed25519 key that signs verdicts, and the public keys trusted to have signed them.

The machine key lives in $XDG_STATE_HOME/bakery/keys/ (default ~/.local/state/bakery/keys/), made on
first use: `verdict.key` (PKCS#8 PEM, mode 0600, in a 0700 directory) and `verdict.pub` (PEM). It is
never in the project directory, so a project checked into git carries no key. CI can bring its own
private key instead: BAKERY_SIGNING_KEY names a PEM file (the same format).

A signature covers the canonical JSON of a payload (sorted keys, no spaces): `sign(payload)`
returns it with the signer's key id (sha256 of the raw public key), `check(payload, signature,
key_id, trusted)` tells whether one of the trusted keys made it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bakery.errors import ConfigError

if TYPE_CHECKING:  # cryptography is imported by the functions that sign or check (about 0.05 s)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNING_KEY_ENV = "BAKERY_SIGNING_KEY"
PRIVATE_NAME = "verdict.key"
PUBLIC_NAME = "verdict.pub"
PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


@dataclass(frozen=True)
class Signature:
    value: str  # base64 of the 64-byte Ed25519 signature
    key_id: str  # sha256 hex of the signer's raw public key


def keys_dir() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "bakery" / "keys"


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(payload: dict) -> Signature:
    key = signing_key()
    return Signature(base64.b64encode(key.sign(canonical(payload))).decode(), key_id(key.public_key()))


def check(payload: dict, signature: Signature, trusted: list[Ed25519PublicKey]) -> str:
    """'' when one of trusted made signature over payload; else why not (one line)."""
    from cryptography.exceptions import InvalidSignature

    if not (isinstance(signature.value, str) and isinstance(signature.key_id, str)):
        return "its signature is not readable (corrupt or edited by hand)"
    by_id = {key_id(k): k for k in trusted}
    key = by_id.get(signature.key_id)
    if key is None:
        return f"signed by key {signature.key_id[:16]}, which is not a trusted key"
    try:
        key.verify(base64.b64decode(signature.value, validate=True), canonical(payload))
    except (InvalidSignature, ValueError):
        return "the signature does not match the record (edited after signing?)"
    return ""


def key_id(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def signing_key(configured: Path | None = None) -> Ed25519PrivateKey:
    """BAKERY_SIGNING_KEY's key if set, else configured (signing.key), else this machine's (made on first use)."""
    path = os.environ.get(SIGNING_KEY_ENV)
    if path:
        return _load_private(Path(path), f"{SIGNING_KEY_ENV}={path}")
    if configured is not None:
        return _load_private(configured, f"signing.key {configured}")
    return machine_key()


def project_signing_key(project) -> Ed25519PrivateKey:
    """The key a project signs attestations (and derives bake canaries) with: BAKERY_SIGNING_KEY, else
    its signing.key, else this machine's."""
    return signing_key(project.path(project.signing.key) if project.signing.key else None)


def machine_key() -> Ed25519PrivateKey:
    directory = keys_dir()
    private = directory / PRIVATE_NAME
    if not private.exists():
        _create_machine_key(directory)
    return _load_private(private, str(private))


def public_pem(key: Ed25519PublicKey | None = None) -> str:
    """The PEM of key (default: the signing key's public half), as `bakery keys export` prints it."""
    from cryptography.hazmat.primitives import serialization

    public = key or signing_key().public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public(path: Path, where: str) -> list[Ed25519PublicKey]:
    """The keys of a trusted key file: one PEM block or more, as `bakery keys export` prints them;
    ConfigError naming where."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = path.read_bytes()
        found = [serialization.load_pem_public_key(block)  # no block at all: the loader says what is wrong
                 for block in PEM_BLOCK.findall(data) or [data]]
    except (OSError, ValueError) as error:
        raise ConfigError(f"{where}: cannot read the public key {path}: {_first_line(error)}",
                          hint="give a PEM file as `bakery keys export` prints it") from None
    if not all(isinstance(key, Ed25519PublicKey) for key in found):
        raise ConfigError(f"{where}: {path} is not an Ed25519 public key", hint="bakery signs with Ed25519 keys")
    return found


def trusted_keys(extra: list[Path] = (), where: str = "trust.keys",
                 own: list[Ed25519PublicKey] = ()) -> list[Ed25519PublicKey]:
    """The signing key's public half, own (the project's signing key), then every key of the extra files."""
    return [signing_key().public_key(), *own, *(key for path in extra for key in load_public(path, where))]


def project_public_keys(project) -> list[Ed25519PublicKey]:
    """The public half of the project's signing.key when it names a file that is here (a project
    may name a key only CI runners have); BAKERY_SIGNING_KEY, when set, is the signing key anyway."""
    if os.environ.get(SIGNING_KEY_ENV) or not project.signing.key or not project.path(project.signing.key).exists():
        return []
    return [project_signing_key(project).public_key()]


def _create_machine_key(directory: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = directory / f".{PRIVATE_NAME}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:  # two first runs at once: the first key linked wins, the other run uses it
        os.link(tmp, directory / PRIVATE_NAME)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    (directory / PUBLIC_NAME).write_text(public_pem(_load_private(directory / PRIVATE_NAME, "").public_key()))


def _load_private(path: Path, where: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise ConfigError(f"cannot read the signing key {where}: {_first_line(error)}",
                          hint="give an unencrypted Ed25519 PEM key, or remove the file to make a new machine key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"the signing key {where} is not an Ed25519 key", hint="bakery signs with Ed25519 keys")
    return key


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
