"""`bakery gc` on the local target: keep the newest N images per service, and the layers they use."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bakery import podman
from bakery.layers import LABEL_CHAIN, LAYER_REPOSITORY
from bakery.targets.local import LocalTarget


@dataclass(frozen=True)
class GcAction:
    ref: str
    action: str  # keep, remove, removed, in-use
    reason: str


def plan_local_gc(keep: int, services: list[str] | None = None) -> list[GcAction]:
    """What to keep and remove. With services, only their images (and the layers no image uses)."""
    images = LocalTarget().list_images()
    by_service: dict[str, list] = {}
    for image in images:  # newest first
        by_service.setdefault(image.service, []).append(image)
    reachable_elsewhere = {key for service, records in by_service.items() if services and service not in services
                           for image in records for key in image.labels.get(LABEL_CHAIN, "").split(",") if key}
    by_service = {s: r for s, r in by_service.items() if not services or s in services}
    actions, reachable = [], set(reachable_elsewhere)
    for service, records in sorted(by_service.items()):
        for rank, image in enumerate(records):
            if rank < keep:
                reachable.update(filter(None, image.labels.get(LABEL_CHAIN, "").split(",")))
                actions.append(GcAction(image.ref, "keep", f"newest {keep} of {service}"))
            else:
                actions.append(GcAction(image.ref, "remove", f"older than the newest {keep} of {service}"))
    for ref, key in layer_images():
        if key in reachable:
            actions.append(GcAction(ref, "keep", "layer of a kept image"))
        else:
            actions.append(GcAction(ref, "remove", "layer no kept image uses"))
    return actions


def layer_images() -> list[tuple[str, str]]:
    out = podman.podman("images", "--format", "json", "--filter", f"reference={LAYER_REPOSITORY}/*").stdout
    refs = dict.fromkeys(name for entry in json.loads(out or "[]") for name in entry.get("Names") or [])
    return [(ref, ref.rsplit(":", 1)[1]) for ref in refs if ref.startswith(LAYER_REPOSITORY + "/")]


def apply(actions: list[GcAction]) -> list[GcAction]:
    """Remove what the plan says; an image a container still uses is kept and reported."""
    done = []
    for item in actions:
        if item.action != "remove":
            done.append(item)
            continue
        result = podman.podman("rmi", item.ref, check=False)
        done.append(GcAction(item.ref, "removed" if result.ok else "in-use", item.reason if result.ok else result.tail(1)))
    return done


