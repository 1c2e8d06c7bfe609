"""Role layers through the registry: `bakery publish` pushes the role layers of an image with a signed
attestation each; a bake with `build.cache: registry` takes the deepest layer it needs from there.

A layer is taken only when its attestation is signed by a trusted key and names this very manifest
digest and layer key, and when this machine knows the canary of every bake run in it (they derive
from the signing key this machine uses, bakery/canary.py): an image baked on it must pass
verification here, canary check included.
"""

from __future__ import annotations

from bakery import __version__, attestation, canary, keys, layers
from bakery.config import Project
from bakery.errors import GateRefused
from bakery.registry import Registry, attestation_tag, attested_statement
from bakery.verify import trusted_keys


def push_layers(project: Project, registry: Registry, labels: dict[str, str], image_ref: str) -> list[str]:
    """Push the role layers an image was baked on (its layer chain, the image itself aside), each tagged by
    its layer key, with its attestation; the references pushed."""
    chain = [k for k in labels.get(layers.LABEL_CHAIN, "").split(",") if k][:-1]
    if not chain:  # baked in one piece (--no-layers, a play that cannot be split, the aws target)
        return []
    local = {tag.rsplit(":", 1)[1]: (tag, layer_labels) for tag, layer_labels in layers.layer_tags()}
    signing_key = keys.project_signing_key(project)
    pushed = []
    for key24 in chain:
        if key24 not in local:
            continue  # removed by gc since: the image is complete without it
        tag, layer_labels = local[key24]
        repository = registry.layer_repository(tag.rsplit(":", 1)[0].rsplit("/", 1)[1])
        digest = registry.push(tag, f"{repository}:{key24}")
        statement = attestation.statement(repository, digest, layer_predicate(layer_labels, tag, image_ref),
                                          attestation.LAYER_PREDICATE_TYPE)
        registry.push_artifact(f"{repository}:{attestation_tag(digest)}", attestation.envelope(statement, signing_key),
                               attestation.ENVELOPE_MEDIA_TYPE)
        pushed.append(f"{repository}:{key24}")
    return pushed


def layer_predicate(labels: dict[str, str], tag: str, image_ref: str) -> dict:
    return {"layer": {"key": labels.get(layers.LABEL_KEY, ""), "ref": tag, "chain": labels.get(layers.LABEL_CHAIN, ""),
                      "canary_keys": sorted({run.key_id for run in canary.bake_runs_of(labels)})},
            "image": image_ref, "bakery_version": __version__}


def fetch_layer(project: Project, registry: Registry, step: layers.LayerStep, log) -> str | None:
    """Pull the step's layer from the registry to its local tag, when it is there and may be used
    (the reference by digest it was pulled from); why not in log when it is there but may not."""
    repository = registry.layer_repository(step.role)
    tag = f"{repository}:{step.key[:24]}"
    digest = registry.digest_of(tag)
    if digest is None:
        return None
    try:
        check_layer(project, registry, repository, digest, step)
    except GateRefused as refused:
        log(f"not using layer {tag}: {refused.one_line()}")
        return None
    registry.pull(f"{repository}@{digest}", step.ref)
    log(f"layer {step.index + 1:02d} ({step.role}) from {registry.url}: {tag}")
    return f"{repository}@{digest}"


def check_layer(project: Project, registry: Registry, repository: str, digest: str, step: layers.LayerStep) -> None:
    """GateRefused unless repository@digest is the step's layer, attested by a trusted key, with canaries known here."""
    statement = attested_statement(registry, repository, digest, trusted_keys(project), attestation.LAYER_PREDICATE_TYPE)
    if statement["predicate"]["layer"]["key"] != step.key:
        raise GateRefused("its attestation is about another layer key")
    labels = registry.labels(f"{repository}@{digest}")
    if labels.get(layers.LABEL_KEY) != step.key:
        raise GateRefused("the image is labelled with another layer key")
    if not canary.all_here(canary.canary_key(project), labels):
        raise GateRefused("the canaries of its bakes derive from another signing key, so an image baked on it"
                          " could not pass verification here", hint="share the signing key (BAKERY_SIGNING_KEY)")

