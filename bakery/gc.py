"""`bakery gc` on the local target: keep the newest N images per service, and the layers they use;
with --orphans, what runs whose process died left behind (containers, images, layer tags,
private temp dirs, locks)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

from bakery import locks, podman, private, statefile
from bakery.aws import runs
from bakery.config import Project
from bakery.state import StateDir
from bakery.layers import LABEL_CHAIN, baked_by, layer_tags
from bakery.targets.local import IMAGE_REPOSITORY, LABEL_RUN_ID, LocalTarget


@dataclass(frozen=True)
class GcAction:
    ref: str
    action: str  # keep, remove, removed, in-use, failed
    reason: str
    kind: str = "image"  # image, layer, container, private-dir, work-dir, lock, quarantined
    marker: str = ""  # quarantined: the file under .bakery/quarantine/ that lists it


def plan_local_gc(keep: int, services: list[str] | None = None, project: Project | None = None) -> list[GcAction]:
    """What to keep and remove. With services, only their images (and the layers no image uses).
    With project, only that project's images (another project's images keep their layers)."""
    images = LocalTarget().list_images()
    by_service: dict[str, list] = {}
    for image in images:  # newest first
        by_service.setdefault(image.service, []).append(image)
    owner = LocalTarget.create(project)
    ours = lambda image: owner.is_ours(image.labels, image.ref)  # noqa: E731
    reachable_elsewhere = {key for service, records in by_service.items() for image in records
                           if (services and service not in services) or not ours(image)
                           for key in image.labels.get(LABEL_CHAIN, "").split(",") if key}
    by_service = {s: [i for i in r if ours(i)] for s, r in by_service.items() if not services or s in services}
    actions, reachable = quarantined(project, services), set(reachable_elsewhere)
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


def quarantined(project: Project | None, services: list[str] | None) -> list[GcAction]:
    """Images verify untagged after they leaked a secret: removed first (ref: the marker file)."""
    if project is None:
        return []
    found = []
    for marker in sorted(StateDir(project.state_dir()).quarantine.glob("*.json")):
        record = statefile.read_json(marker, "quarantine marker")  # damaged: the file name still names the image
        service = str(record.get("service", "")) if isinstance(record, dict) else ""
        if not services or service in services:
            found.append(GcAction(marker.stem, "remove", f"image of {service or '?'} that leaked a secret"
                                  " (quarantined by verify)", "quarantined", str(marker)))
    return found


def layer_images() -> list[tuple[str, str]]:
    return [(ref, ref.rsplit(":", 1)[1]) for ref, _ in layer_tags()]


def apply(actions: list[GcAction]) -> list[GcAction]:
    """Remove what the plan says; an image a container still uses is kept and reported.
    Containers go first, so the images they ran are free to go after them."""
    order = {"container": 0, "quarantined": 1, "image": 2, "layer": 3}
    return [_apply_one(item) for item in sorted(actions, key=lambda a: order.get(a.kind, 3))]


def _apply_one(item: GcAction) -> GcAction:
    if item.action != "remove":
        return item
    if item.kind == "container":
        podman.remove(item.ref, grace_s=0)
        gone = not podman.containers(f"name=^{item.ref}$")
        return GcAction(item.ref, "removed" if gone else "failed", item.reason, item.kind)
    if item.kind in ("private-dir", "work-dir"):
        shutil.rmtree(item.ref, ignore_errors=True)
        return GcAction(item.ref, "removed" if not Path(item.ref).exists() else "failed", item.reason, item.kind)
    if item.kind == "quarantined":
        result = podman.podman("rmi", item.ref, check=False)
        if result.ok or not podman.podman("image", "exists", item.ref, check=False).ok:
            Path(item.marker).unlink(missing_ok=True)
            return replace(item, action="removed")
        return replace(item, action="in-use", reason=result.tail(1))
    if item.kind == "lock":
        removed = locks.remove_stale(locks.StaleLock(Path(item.ref), {}))
        return GcAction(item.ref, "removed" if removed else "in-use", item.reason, item.kind)
    result = podman.podman("rmi", item.ref, check=False)
    return GcAction(item.ref, "removed" if result.ok else "in-use", item.reason if result.ok else result.tail(1), item.kind)


EVERY_RUN = "*"  # in the map of current deployments: the record is damaged, so every replica counts as a member


def plan_local_orphans(project: Project) -> list[GcAction]:
    """Everything a dead run of this project left (runs of other projects are not ours to judge).
    The replicas of each recorded deployment are members of their environment, not orphans."""
    from bakery.deploy import current_deployment

    state, deployed = StateDir(project.state_dir()), {}
    for service in project.services:
        for env in project.environments:
            record = current_deployment(project, service, env)
            if record is not None:
                deployed[(service, env)] = record.run_id
            elif state.deployment(service, env).exists():  # there but unreadable: it says nothing of its replicas
                deployed[(service, env)] = EVERY_RUN
    judge = _RunJudge(project.state_dir())
    return [*_orphan_containers(judge, deployed), *_orphan_images(judge),
            *_orphan_private_dirs(), *_orphan_base_work(project), *_orphan_locks(project.state_dir())]


class _RunJudge:
    """Which runs of this project died before they finished (no result.json, process gone)."""

    def __init__(self, state_dir: Path):
        self.runs_dir = state_dir / "runs"
        self._known: dict[str, bool] = {}

    def died(self, run_id: str) -> bool:
        if run_id not in self._known:
            run_dir = self.runs_dir / run_id
            self._known[run_id] = ((run_dir / "run.json").is_file() and not runs.is_alive(self.runs_dir.parent, run_id)
                                   and not (run_dir / "result.json").exists())
        return self._known[run_id]

    def over(self, run_id: str) -> bool:
        """The run is of this project and its process is gone (finished or not)."""
        return (self.runs_dir / run_id / "run.json").is_file() and not runs.is_alive(self.runs_dir.parent, run_id)


def _orphan_containers(judge: _RunJudge, current_deploys: dict[tuple[str, str], str]) -> list[GcAction]:
    found = []
    for container in podman.containers(f"label={LABEL_RUN_ID}"):
        labels = container.get("Labels") or {}
        run_id, name = labels.get(LABEL_RUN_ID, ""), container["Names"][0]
        if not judge.over(run_id):
            continue
        key = (labels.get("bakery.service", ""), labels.get("bakery.env", ""))
        if labels.get("bakery.purpose") == "replica" and current_deploys.get(key) in (run_id, EVERY_RUN):
            continue
        found.append(GcAction(name, "remove", f"{labels.get('bakery.purpose', 'build')} container of run {run_id},"
                                              " whose process is gone", "container"))
    return found


def _orphan_images(judge: _RunJudge) -> list[GcAction]:
    """Service images and layer tags made by a run that died before it finished (their bake is unproven)."""
    found = []
    for entry in podman.list_images(LABEL_RUN_ID):
        labels = entry.get("Labels") or {}
        for ref in entry.get("Names") or []:
            if ref.startswith(IMAGE_REPOSITORY + "/") and judge.died(labels.get(LABEL_RUN_ID, "")):
                found.append(GcAction(ref, "remove", f"image of run {labels[LABEL_RUN_ID]}, which died", "image"))
    for ref, labels in layer_tags():
        own_run = baked_by(labels)
        if judge.died(own_run):
            found.append(GcAction(ref, "remove", f"layer of run {own_run}, which died", "layer"))
    return found


def _orphan_private_dirs() -> list[GcAction]:
    return [GcAction(str(d.path), "remove", f"private dir of run {d.run_id}: its process {d.pid} is gone", "private-dir")
            for d in private.dead_dirs()]


def _orphan_base_work(project: Project) -> list[GcAction]:
    """Work dirs of base bootstraps that died (a live bootstrap holds its base's lock)."""
    from bakery import base

    return [GcAction(str(path), "remove", f"work dir of a bootstrap of base '{name}' that died", "work-dir")
            for name, path in base.work_dirs(project) if not locks.is_held(project.state_dir(), f"base-{name}")]


def _orphan_locks(state_dir: Path) -> list[GcAction]:
    return [GcAction(str(lock.path), "remove",
                     f"held by run {lock.holder.get('run_id') or '?'} (pid {lock.holder.get('pid')}) when it died", "lock")
            for lock in locks.stale_locks(state_dir)]


