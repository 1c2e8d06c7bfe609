"""`bakery gc`: old images and what only they use; each target's way behind one registry (GC_BY_TARGET)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from bakery.commands import AppContext, Result, line


@dataclass(frozen=True)
class GcRequest:
    services: tuple[str, ...] = ()
    keep: int = 3
    dry_run: bool = False
    target: str | None = None
    orphans: bool = False
    older_than: float | None = None  # aws: seconds


@dataclass(frozen=True)
class LocalGc(Result):
    actions: list  # bakery.gc.GcAction
    dry_run: bool
    orphans: bool = False  # the lines name each item's kind (container, image, layer, private-dir, work-dir, lock)

    def to_json(self):
        return [asdict(a) for a in self.actions]

    def render(self, out, err):
        for item in self.actions:
            if item.action != "keep":
                kind = f"{item.kind} " if self.orphans else ""
                line(out, f"{'would remove' if self.dry_run else item.action:<13} {kind}{item.ref}  ({item.reason})")
        kept = sum(a.action == "keep" for a in self.actions)
        line(err, f"{kept} kept, {len(self.actions) - kept} {'to remove' if self.dry_run else 'removed or in use'}")


@dataclass(frozen=True)
class AwsGc(Result):
    """AMI gc or orphan gc; exit 1 (after the report) when AWS refused any removal."""

    result: object  # bakery.aws.gc.AmiGcResult or OrphanGcResult
    orphans: bool

    def to_json(self):
        return self.result.as_dict()

    def render(self, out, err):
        for text in (orphan_gc_lines(self.result) if self.orphans else ami_gc_lines(self.result)):
            line(out, text)

    def raise_for_status(self):
        from bakery.aws import gc as aws_gc

        aws_gc.raise_if_failed(self.result)


def gc_local(app: AppContext, project, request: GcRequest) -> LocalGc:
    from bakery import gc

    if request.orphans:
        actions = gc.plan_local_orphans(project)
    else:
        actions = gc.plan_local_gc(request.keep, list(request.services) or None, project)
    return LocalGc(actions if request.dry_run else gc.apply(actions), request.dry_run, request.orphans)


def gc_aws(app: AppContext, project, request: GcRequest) -> AwsGc:
    from bakery.aws import gc as aws_gc

    conn, age = app.aws_connection(project), request.older_than
    if request.orphans:
        return AwsGc(aws_gc.gc_orphans(conn, project.state_dir(), dry_run=request.dry_run,
                                       older_than_s=aws_gc.DEFAULT_ORPHAN_AGE_S if age is None else age), True)
    return AwsGc(aws_gc.gc_amis(conn, keep=request.keep, dry_run=request.dry_run, state_dir=project.state_dir(),
                                services=list(request.services) or None,
                                unverified_min_age_s=aws_gc.DEFAULT_UNVERIFIED_AGE_S if age is None else age), False)


GC_BY_TARGET: dict[str, Callable[[AppContext, object, GcRequest], Result]] = {"local": gc_local, "aws": gc_aws}


def gc(app: AppContext, request: GcRequest) -> Result:
    from bakery.targets import target_class

    project = app.load()
    for name in request.services:
        project.service(name)
    target_name = app.target_name(project, request.target)
    target_class(target_name)  # an unknown target is a config error, named as for every command
    return GC_BY_TARGET[target_name](app, project, request)


def ami_gc_lines(result) -> list[str]:
    verb = "would remove" if result.dry_run else "removed"
    return [*(f"kept:         {k.ami_id} {k.service}: {k.reason}" for k in result.kept),
            *(f"{verb + ':':<13} {r.ami_id} {r.service}: {r.reason}; snapshots {', '.join(r.snapshots) or 'none'}"
              for r in result.removed),
            *(f"FAILED:       {f.ami_id} {f.service}: {'deregistered, snapshots left: ' if f.deregistered else ''}"
              f"{f.error}" for f in result.failed)]


def orphan_gc_lines(result) -> list[str]:
    verb = "would remove" if result.dry_run else "removed"
    return [*(f"{verb + ':':<13} {r.kind} {r.id} (run {r.run_id})" for r in result.removed),
            *(f"FAILED:       {r.kind} {r.id} (run {r.run_id}): {why}" for r, why in result.failed)]
