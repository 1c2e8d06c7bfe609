"""`bakery images`: what has been baked, with fingerprint, age and size."""

from __future__ import annotations

import time
from bakery.targets import ImageRecord, get_target


def list_images(project, service: str | None, target: str = "local", **target_options) -> list[dict]:
    """Rows for `bakery images`, newest first, with each image's verification verdict."""
    from bakery.verify import verdict_of

    target_impl = get_target(target, project, **target_options)
    return [image_row(i, verdict_of(project, i, target_impl).status) for i in target_impl.list_images(service)]


def image_row(image: ImageRecord, verdict: str, now: float | None = None) -> dict:
    return {
        "verification": verdict,
        "service": image.service,
        "image": image.ref,
        "image_id": image.image_id,
        "fingerprint": image.fingerprint,
        "created": image.created,
        "age": human_age((now or time.time()) - image.created),
        "size_bytes": image.size_bytes,
        "size": human_size(image.size_bytes),
        "git_commit": image.labels.get("bakery.git-commit", ""),
        "run_id": image.labels.get("bakery.run-id", ""),
    }


def human_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
