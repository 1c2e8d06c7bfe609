"""`bakery keys export`: the public keys that sign here, for trust.keys on other machines.

Verdicts are signed with BAKERY_SIGNING_KEY's key, else this machine's; what `bakery publish`
attests (and the bake canaries) with the project's signing.key when it names one. When the two
differ, both are printed, one PEM block each: saved as one file under trust.keys, both count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bakery.commands import AppContext, Result, line
from bakery.errors import ConfigError


@dataclass(frozen=True)
class ExportedKey:
    pem: str
    key_id: str
    source: str  # where the private key is: this machine's key file, BAKERY_SIGNING_KEY or signing.key
    signs: str  # what it signs here

    def to_json(self):
        return {"public_key": self.pem, "key_id": self.key_id, "source": self.source, "signs": self.signs}


@dataclass(frozen=True)
class PublicKeys(Result):
    keys: tuple[ExportedKey, ...]  # the verdict key first

    def to_json(self):
        first = self.keys[0]
        return {"public_key": "".join(k.pem for k in self.keys), "key_id": first.key_id, "source": first.source,
                "keys": [k.to_json() for k in self.keys]}

    def render(self, out, err):
        out.write("".join(k.pem for k in self.keys))
        if len(self.keys) == 1:
            line(err, f"key {self.keys[0].key_id[:16]} ({self.keys[0].source}); trust it elsewhere with trust.keys"
                      " in bakery.yml")
            return
        for key in self.keys:
            line(err, f"key {key.key_id[:16]} ({key.source}) signs {key.signs}")
        line(err, "trust both elsewhere: save this output as one file under trust.keys in bakery.yml")


def export(app: AppContext) -> PublicKeys:
    from bakery import keys

    def exported(private, source: str, signs: str) -> ExportedKey:
        return ExportedKey(keys.public_pem(private.public_key()), keys.key_id(private.public_key()), source, signs)

    env = os.environ.get(keys.SIGNING_KEY_ENV)
    verdict_key = keys.signing_key()  # made on first use
    source = f"{keys.SIGNING_KEY_ENV}={env}" if env else str(keys.keys_dir() / keys.PRIVATE_NAME)
    project = None if env else _project(app)  # BAKERY_SIGNING_KEY signs attestations too
    if project is not None and project.signing.key:
        attesting = keys.project_signing_key(project)
        if keys.key_id(attesting.public_key()) != keys.key_id(verdict_key.public_key()):
            return PublicKeys((exported(verdict_key, source, "verdicts"),
                               exported(attesting, f"signing.key {project.path(project.signing.key)}",
                                        "attestations and canaries")))
    return PublicKeys((exported(verdict_key, source, "verdicts and attestations"),))


def _project(app: AppContext):
    """The project around app.project_dir, None outside one; a broken bakery.yml says so rather than
    letting export print a key that may be the wrong one."""
    from bakery import config

    try:
        config.find_root(app.project_dir)
    except ConfigError:
        return None
    return app.load()
