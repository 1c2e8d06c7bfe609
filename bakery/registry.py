"""An OCI registry (distribution v2) that images, bases and their attestations travel through.

Tag convention in REGISTRY_URL (HOST[:PORT]/PATH):
- `URL/SERVICE:<12-hex fingerprint>`: a published image;
- `URL/SERVICE:sha256-<manifest digest hex>.att`: its attestation, an OCI artifact whose one layer
  is the DSSE envelope (bakery/attestation.py) of an in-toto Statement about that digest;
- `URL/bakery-base/NAME:<12-hex base input fingerprint>`: a base image;
- `URL/bakery-layer/ROLE:<24-hex layer key>`: a role layer (as `localhost/bakery-layer/ROLE:<key>` locally),
  with its attestation at `URL/bakery-layer/ROLE:sha256-<manifest digest hex>.att`.
Every copy goes through skopeo (bakery/proc.py); credentials come from the containers auth file
that `podman login` writes, as skopeo reads it by default.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bakery import attestation, proc
from bakery.errors import ConfigError, GateRefused

REGISTRY_ENV = "BAKERY_REGISTRY"
CACHE_ENV = "BAKERY_BUILD_CACHE"  # overrides build.cache (local | registry), e.g. in CI only
BASE_REPOSITORY = "bakery-base"
LAYER_REPOSITORY = "bakery-layer"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_NOT_FOUND = ("manifest unknown", "not found", "name unknown")


@dataclass(frozen=True)
class Registry:
    url: str  # HOST[:PORT]/PATH
    tls_verify: bool = True
    cert_dir: Path | None = None

    @property
    def host(self) -> str:
        return self.url.split("/", 1)[0]

    def repository(self, name: str) -> str:
        return f"{self.url}/{name}"

    def base_repository(self, name: str) -> str:
        return f"{self.url}/{BASE_REPOSITORY}/{name}"

    def layer_repository(self, role: str) -> str:
        return f"{self.url}/{LAYER_REPOSITORY}/{role.lower()}"

    def flags(self, side: str = "") -> list[str]:
        """skopeo's TLS options; side is '', 'src-' or 'dest-'."""
        cert = [f"--{side}cert-dir={self.cert_dir}"] if self.cert_dir else []
        return [f"--{side}tls-verify={str(self.tls_verify).lower()}", *cert]

    def manifest(self, ref: str) -> bytes | None:
        """The raw manifest of REPO:TAG or REPO@DIGEST, or None when the registry does not have it."""
        result = proc.run(["skopeo", "inspect", "--raw", "--retry-times=2", *self.flags(), f"docker://{ref}"],
                          check=False, timeout=120)
        if result.ok:
            return result.stdout.encode()
        if any(text in result.stderr.lower() for text in _NOT_FOUND):
            return None
        raise ConfigError(f"registry {self.host}: cannot read {ref}: {result.tail(1)}",
                          hint="check registry.url, registry.tls_verify and `podman login`")

    def digest_of(self, ref: str) -> str | None:
        raw = self.manifest(ref)
        return None if raw is None else "sha256:" + hashlib.sha256(raw).hexdigest()

    def labels(self, ref: str) -> dict[str, str]:
        """The labels of the image at ref (REPO@DIGEST), read from its config without pulling it."""
        result = proc.run(["skopeo", "inspect", "--config", "--retry-times=2", *self.flags(), f"docker://{ref}"],
                          timeout=120)
        return json.loads(result.stdout).get("config", {}).get("Labels") or {}

    def push(self, local_ref: str, ref: str) -> str:
        """Copy a local image to ref; the pushed manifest's digest."""
        with tempfile.TemporaryDirectory(prefix="bakery-push-") as tmp:
            digest_file = Path(tmp) / "digest"
            proc.run(["skopeo", "copy", "--retry-times=2", *self.flags("dest-"), "--digestfile", str(digest_file),
                      f"containers-storage:{local_ref}", f"docker://{ref}"], timeout=1800)
            return digest_file.read_text().strip()

    def pull(self, ref: str, local_ref: str) -> None:
        proc.run(["skopeo", "copy", "--retry-times=2", *self.flags("src-"), f"docker://{ref}",
                  f"containers-storage:{local_ref}"], timeout=1800)

    def push_artifact(self, ref: str, data: bytes, media_type: str) -> str:
        """An OCI artifact (an empty config, data as its one layer) at ref, copied from an oci: layout dir."""
        with tempfile.TemporaryDirectory(prefix="bakery-artifact-") as tmp:
            layout = Path(tmp)
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {**_blob(layout, b"{}"), "mediaType": OCI_CONFIG},
                "layers": [{**_blob(layout, data), "mediaType": media_type}]}).encode()
            entry = {**_blob(layout, manifest), "mediaType": OCI_MANIFEST,
                     "annotations": {"org.opencontainers.image.ref.name": "artifact"}}
            (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
            (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
            proc.run(["skopeo", "copy", "--retry-times=2", *self.flags("dest-"), f"oci:{layout}:artifact",
                      f"docker://{ref}"], timeout=300)
        return entry["digest"]

    def fetch_artifact(self, ref: str) -> bytes | None:
        """The one layer of the OCI artifact at ref, or None when there is none."""
        if self.manifest(ref) is None:
            return None
        with tempfile.TemporaryDirectory(prefix="bakery-artifact-") as tmp:
            layout = Path(tmp) / "oci"
            proc.run(["skopeo", "copy", "--retry-times=2", *self.flags("src-"), f"docker://{ref}",
                      f"oci:{layout}:artifact"], timeout=300)
            index = json.loads((layout / "index.json").read_text())
            manifest = json.loads(_blob_path(layout, index["manifests"][0]["digest"]).read_bytes())
            return _blob_path(layout, manifest["layers"][0]["digest"]).read_bytes()


def layer_cache(project) -> str:
    """Where role layers are reused from: BAKERY_BUILD_CACHE, else build.cache in bakery.yml."""
    chosen = os.environ.get(CACHE_ENV) or project.build.cache
    if chosen not in ("local", "registry"):
        raise ConfigError(f"{CACHE_ENV}={chosen!r} is not a layer cache", hint="set it to local or registry, or unset it")
    return chosen


def registry_for(project, override: str | None = None) -> Registry | None:
    """The registry: --registry, else BAKERY_REGISTRY, else registry.url in bakery.yml; None when none is set."""
    settings = project.registry
    url = override or os.environ.get(REGISTRY_ENV) or (settings.url if settings else None)
    if not url:
        return None
    url = url.removeprefix("docker://").rstrip("/")
    tls_verify = settings.tls_verify if settings else True
    cert_dir = project.path(settings.cert_dir) if settings and settings.cert_dir else None
    return Registry(url, tls_verify, cert_dir)


def require_registry(project, override: str | None = None) -> Registry:
    found = registry_for(project, override)
    if found is None:
        raise ConfigError("no registry is set", hint=f"set registry.url in bakery.yml, {REGISTRY_ENV} or --registry")
    return found


def attestation_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".att"


def split_digest_ref(ref: str) -> tuple[str, str]:
    """REPO@sha256:HEX -> (REPO, sha256:HEX)."""
    repository, _, digest = ref.removeprefix("docker://").partition("@")
    if not digest.startswith("sha256:") or len(digest) != 71:
        raise ConfigError(f"'{ref}' is not a reference by digest", hint="give REGISTRY/PATH/SERVICE@sha256:<64 hex>")
    return repository, digest


def attested(registry: Registry, repository: str, digest: str, trusted: list) -> dict:
    """The statement attesting repository@digest, checked: signed by a trusted key, about this very digest,
    with a passed verdict. GateRefused naming the reason otherwise."""
    statement = attested_statement(registry, repository, digest, trusted, attestation.PREDICATE_TYPE)
    verdict = statement["predicate"]["record"]["verdict"]
    if verdict.get("verdict") != "passed":
        raise GateRefused(f"{repository}@{digest[:19]}: the attested verdict is {verdict.get('verdict')}, not passed")
    return statement


def attested_statement(registry: Registry, repository: str, digest: str, trusted: list, predicate_type: str) -> dict:
    """The statement of predicate_type attesting repository@digest: signed by a trusted key, about this very
    digest. GateRefused naming the reason otherwise."""
    where = f"{repository}@{digest[:19]}"
    envelope = registry.fetch_artifact(f"{repository}:{attestation_tag(digest)}")
    if envelope is None:
        raise GateRefused(f"{where} has no attestation (no tag {attestation_tag(digest)[:24]}...)",
                          hint="publish it with `bakery publish`")
    opened = attestation.open_envelope(envelope, trusted, predicate_type)
    if opened.statement is None:
        raise GateRefused(f"{where}: {opened.problem}", hint="add the signer's public key to trust.keys if you trust it")
    if opened.subject_digest != digest:
        raise GateRefused(f"{where}: the attestation names another digest ({opened.subject_digest[:19]})",
                          hint="the tag was overwritten; publish the image again")
    return opened.statement


def _blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _blob_path(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")
