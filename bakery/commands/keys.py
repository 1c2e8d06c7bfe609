"""`bakery keys export`: the public key that signs this machine's verdicts (or BAKERY_SIGNING_KEY's)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bakery.commands import AppContext, Result, line


@dataclass(frozen=True)
class PublicKey(Result):
    pem: str
    key_id: str
    source: str  # where the private key is: this machine's key file, or BAKERY_SIGNING_KEY

    def to_json(self):
        return {"public_key": self.pem, "key_id": self.key_id, "source": self.source}

    def render(self, out, err):
        out.write(self.pem)
        line(err, f"key {self.key_id[:16]} ({self.source}); trust it elsewhere with trust.keys in bakery.yml")


def export(app: AppContext) -> PublicKey:
    from bakery import keys

    private = keys.signing_key()  # made on first use
    source = (f"{keys.SIGNING_KEY_ENV}={os.environ[keys.SIGNING_KEY_ENV]}" if os.environ.get(keys.SIGNING_KEY_ENV)
              else str(keys.keys_dir() / keys.PRIVATE_NAME))
    return PublicKey(keys.public_pem(private.public_key()), keys.key_id(private.public_key()), source)
