"""Role layers (local target): after each role the build state is committed as a layer.

A layer is keyed by its parent layer, its one-role play (without the play's name), the role's
files (with its dependencies), everything every role sees (service variables, vars, template,
tool versions) and the per-build values (fingerprint, app source) only for roles whose files
mention them. A rebake after changing one role reuses every layer before it, and services
whose plays start alike share those layers. The last role's key includes the image
fingerprint, so the final image always carries its own labels. The layers that are not cached
are baked in one Packer run, committed one by one as their role finishes; a failed role stops
the run before its commit, so it is never cached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bakery import podman, seal, yamltext
from bakery.canary import RUN_LABEL
from bakery.fingerprint import ROLE_EXCLUDES, Fingerprint, tree_digest, tree_files, value_digest
from bakery.playbook import PlaybookInputs, resolve_playbook

LAYER_REPOSITORY = "localhost/bakery-layer"
LABEL_KEY = "bakery.layer-key"
LABEL_CHAIN = "bakery.layer-chain"
VOLATILE_VARS = ("bakery_fingerprint", "bakery_app_src", "bakery_run_id", "bakery_canary")
PINNING_VARS = ("bakery_fingerprint", "bakery_run_id", "bakery_canary")  # their value is new with every image
# The service's playbook file is not among them: each layer's key holds its own one-role play
# (settings and role entry, without the play's name), so services whose plays start with the same
# roles, settings and variables share those layers (the example's common and python_runtime).
SHARED_KINDS = ("variables", "vars", "vars_file", "template", "tool", "target")


@dataclass(frozen=True)
class LayerStep:
    index: int
    role: str
    playbook: Path  # a one-role copy of the service's play
    key: str
    # False when the key holds the image fingerprint (its role, or one below it, mentions bakery_fingerprint,
    # the run id or the canary): no other bake can reuse the layer, so it is not committed (a commit costs seconds)
    shareable: bool = True

    @property
    def ref(self) -> str:
        return f"{LAYER_REPOSITORY}/{self.role.lower()}:{self.key[:24]}"


TASK_KEYS = ("pre_tasks", "tasks", "post_tasks", "handlers")


def why_no_layers(playbook: Path) -> str | None:
    """Why the playbook cannot be baked role by role (None when it can): a layer is one role of
    one play, so tasks of the play itself, or several plays, have no layer to go in."""
    plays = yamltext.safe_load(playbook.read_text())
    if not isinstance(plays, list) or len(plays) != 1:
        return f"{playbook.name} has {len(plays) if isinstance(plays, list) else 'no'} plays (role layers need one play)"
    play = plays[0]
    keys = [key for key in TASK_KEYS if key in play]
    if keys:
        return f"its play has {', '.join(keys)} (role layers need a play that only lists roles; move them into a role)"
    if not play.get("roles"):
        return "its play lists no roles"
    return None


def split_play(playbook: Path) -> tuple[dict, list] | None:
    """(play settings, role entries) when the playbook is one play that only lists roles."""
    if why_no_layers(playbook) is not None:
        return None
    play = yamltext.safe_load(playbook.read_text())[0]
    settings = {k: v for k, v in play.items() if k != "roles"}
    return settings, list(play["roles"])


def plan_layers(playbook: PlaybookInputs, fingerprint: Fingerprint, base_id: str, roles_path: Path,
                out_dir: Path, *, sealed: bool = False, owner: str = "") -> list[LayerStep] | None:
    """The layer steps of a bake, or None when the playbook cannot be split into role layers.

    With sealed, the seal (bakery/seal.py) is the last layer, keyed by its own content. The last
    layer is the image itself: its key holds the image fingerprint and the owning project
    (owner), so another project's bake of the same inputs never hands this project an image made
    by another run, with another project's labels and an old creation time.
    """
    split = split_play(playbook.playbook)
    if split is None:
        return None
    settings, entries = split
    shared = value_digest([(i.kind, i.name, i.digest) for i in fingerprint.inputs if i.kind in SHARED_KINDS])
    out_dir.mkdir(parents=True, exist_ok=True)
    steps, parent, pinned_below = [], base_id, False
    for index, entry in enumerate(entries):
        role = entry if isinstance(entry, str) else entry.get("role") or entry.get("name")
        path = _write_one_role_playbook(out_dir, index, role, settings, entry, playbook.playbook.parent)
        last = index == len(entries) - 1 and not sealed
        key, pinned = _layer_key(parent, path, role, roles_path, shared, fingerprint, last, owner)
        pinned_below = pinned_below or pinned  # a layer's key holds its parent's: pinned from here on
        steps.append(LayerStep(index, role, path, key, shareable=not pinned_below))
        parent = key
    if sealed:
        steps.append(_seal_step(len(entries), parent, shared, fingerprint, out_dir, owner))
    return steps


def _seal_step(index: int, parent: str, shared: str, fingerprint: Fingerprint, out_dir: Path,
               owner: str) -> LayerStep:
    """The seal as the last layer: keyed by its parent, its own content and (being the last
    layer) the image fingerprint, so the final image carries its own labels."""
    path = seal.write_seal_playbook(out_dir / f"{index:02d}-{seal.ROLE_NAME}.yml")
    material = [parent, path.read_text(), seal.seal_input().digest, shared, _image_identity(fingerprint, owner)]
    return LayerStep(index, seal.ROLE_NAME, path, hashlib.sha256(value_digest(material).encode()).hexdigest(),
                     shareable=False)


def _write_one_role_playbook(out_dir: Path, index: int, role: str, settings: dict, entry, origin: Path) -> Path:
    play = {**settings, "roles": [entry]}
    if "vars_files" in play:
        play["vars_files"] = [str((origin / f).resolve()) for f in play["vars_files"]]
    path = out_dir / f"{index:02d}-{role}.yml"
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    seal.link_vars_dirs(origin, out_dir)  # group_vars/host_vars are found next to the playbook
    return path


def _layer_key(parent: str, playbook: Path, role: str, roles_path: Path, shared: str, fingerprint: Fingerprint,
               last: bool, owner: str = "") -> tuple[str, bool]:
    """(the layer's key, whether it holds the image fingerprint)."""
    roles = resolve_playbook(playbook, roles_path)
    role_digests = [(name, tree_digest(path, ROLE_EXCLUDES)) for name, path in zip(roles.roles, roles.role_dirs)]
    mentioned = sorted(v for v in VOLATILE_VARS if _mentions(roles.role_dirs, v))
    volatile = {v: _volatile_value(v, fingerprint) for v in mentioned}
    if last:
        volatile.update(_image_identity(fingerprint, owner))
    material = [parent, _play_without_name(playbook), role_digests, shared, volatile]
    pinned = last or any(v in mentioned for v in PINNING_VARS)
    return hashlib.sha256(value_digest(material).encode()).hexdigest(), pinned


def _image_identity(fingerprint: Fingerprint, owner: str) -> dict[str, str]:
    """What makes the last layer this project's image: the fingerprint, and the project when known."""
    return {"image": fingerprint.digest, **({"project": owner} if owner else {})}


def _play_without_name(one_role_playbook: Path) -> list:
    """The one-role play as it acts: its name only labels Ansible's output."""
    return [{k: v for k, v in play.items() if k != "name"} for play in yamltext.safe_load(one_role_playbook.read_text())]


def _volatile_value(var: str, fingerprint: Fingerprint) -> str:
    if var == "bakery_app_src":
        return value_digest([i.digest for i in fingerprint.inputs if i.kind == "app"])
    return fingerprint.digest  # fingerprint, run id and canary change with every new image


def _mentions(role_dirs: tuple[Path, ...], word: str) -> bool:
    """Whether any file of the roles (their own tests aside) mentions word."""
    needle = word.encode()
    return any(needle in full.read_bytes() for role_dir in role_dirs for _, full in tree_files(role_dir, ROLE_EXCLUDES))


def bake_layers(steps: list[LayerStep], base_ref: str, bake_run: Callable[[list[LayerStep], str], str],
                log: Callable[[str], None], *, use_cache: bool = True,
                usable: Callable[[dict[str, str]], bool] = lambda _labels: True,
                fetch: Callable[[LayerStep], bool] | None = None) -> tuple[str, int]:
    """Start from the deepest usable cached layer; bake the layers above it in one run
    (bake_run(steps, parent ref) commits each and returns the last one's image id).

    A layer's key holds its parent's, so a layer holds every layer below it. A cached layer counts
    only when usable(its labels) is true. fetch(step), when given, may bring a layer deeper than
    any usable cached one from elsewhere (the registry) into the store under step.ref.
    Returns (final image id, layers reused). Without use_cache every step is baked.
    """
    reused = _deepest_reusable(steps, log, usable, fetch) if use_cache else 0
    parent_ref = steps[reused - 1].ref if reused else base_ref
    image_id = podman.find_image(parent_ref)["Id"] if reused else ""
    rest = steps[reused:]
    if rest:
        log(f"layers {rest[0].index + 1}-{len(steps)}/{len(steps)}: baking {', '.join(s.role for s in rest)} "
            "in one Packer run, each committed as a layer")
        image_id = bake_run(rest, parent_ref)
        podman.tag(image_id, rest[-1].ref)
    return image_id, reused


def _deepest_reusable(steps: list[LayerStep], log: Callable[[str], None], usable: Callable[[dict[str, str]], bool],
                      fetch: Callable[[LayerStep], bool] | None) -> int:
    """How many steps need no bake: up to the deepest usable cached layer, or a deeper one fetch brings."""
    here, refused = 0, False
    for step in reversed(steps):
        cached = podman.find_image(step.ref)
        if cached is not None and usable(podman.image_labels(cached)):
            here = step.index + 1
            break
        if cached is not None and not refused:
            log(f"layer {step.index + 1}/{len(steps)} {step.role}: cached layer not usable, rebaking it")
            refused = True
    for step in reversed(steps[here:] if fetch else []):
        if fetch(step):
            return step.index + 1
    if here:
        log(f"layers 1-{here}/{len(steps)}: cached (up to {steps[here - 1].ref})")
    return here


def write_run_playbook(steps: list[LayerStep], path: Path, commit_argv: Callable[[LayerStep], list[str]]) -> Path:
    """One playbook for the steps of a run: each step's play, then (but after the last, which
    Packer commits, and after a step no other bake can reuse) a play on the controller that
    commits the build container as its layer.

    A step that fails stops the playbook before its commit, so a failed role is never cached.
    Facts are gathered once, by the first play, as the service's one play does (Ansible keeps
    them for the rest of the run): a layered bake sees the facts a --no-layers bake sees, and
    does not gather them again for every layer.
    """
    plays: list[dict] = []
    for step in steps:
        step_plays = yamltext.safe_load(step.playbook.read_text())
        plays.extend(step_plays if step is steps[0] else [{**play, "gather_facts": False} for play in step_plays])
        if step is not steps[-1] and step.shareable:
            plays.append(_commit_play(step, commit_argv(step)))
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return path


def _commit_play(step: LayerStep, argv: list[str]) -> dict:
    return {
        "name": f"bakery: commit layer {step.index + 1} ({step.role})",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "become": False,
        "tasks": [{"name": f"Commit the build container as {step.ref}", "ansible.builtin.command": {"argv": argv},
                   "changed_when": False}],
    }


def baked_by(labels: dict[str, str]) -> str:
    """The run that committed a layer itself (a layer names the run of every layer of the run below it too)."""
    return labels.get(f"{RUN_LABEL}.{len(labels.get(LABEL_CHAIN, '').split(',')) - 1:02d}", "")


def layer_tags(run_id: str | None = None) -> list[tuple[str, dict[str, str]]]:
    """(tag, labels) of every role layer in the store, or of those run_id committed itself."""
    out = podman.podman("images", "--format", "json", "--filter", f"reference={LAYER_REPOSITORY}/*").stdout
    found = {}
    for entry in json.loads(out or "[]"):
        labels = entry.get("Labels") or {}
        if run_id is None or baked_by(labels) == run_id:
            found.update({n: labels for n in entry.get("Names") or [] if n.startswith(LAYER_REPOSITORY + "/")})
    return list(found.items())


def layer_labels(steps: list[LayerStep], step: LayerStep) -> dict[str, str]:
    return {LABEL_KEY: step.key, LABEL_CHAIN: ",".join(s.key[:24] for s in steps[: step.index + 1])}
