"""Thin podman helpers over the subprocess seam; structured output only (JSON)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from bakery import proc
from bakery.errors import CommandFailed, ExitStatus, PrerequisiteError


class PodmanFailed(CommandFailed):
    """A podman command failed: podman is not working as bakery needs (exit 4, like a missing podman)."""

    exit_status = ExitStatus.PREREQ

    def __init__(self, result: proc.CommandResult):
        super().__init__(result)
        self.message = f"podman is not working (exit {result.rc}): {result.display()}: {result.tail()}"
        self.hint = "run bakery doctor"
        self.args = (self.one_line(),)


def podman(*args: str, check: bool = True, timeout: float | None = 300) -> proc.CommandResult:
    """podman ARGS through the subprocess seam; with check, a failure raises PodmanFailed (exit 4)."""
    result = proc.run(["podman", *args], check=False, timeout=timeout)
    if check and not result.ok:
        raise PodmanFailed(result)
    return result


def ensure_working(*, deep: bool = True) -> None:
    """Fail fast with a clear message when podman cannot run.

    deep: `podman info`, which checks storage and the OCI runtime (about 0.35 s here); else
    `podman version` (about 0.04 s), enough for commands that only look at images.
    """
    args = ("info", "--format", "json") if deep else ("version", "--format", "json")
    try:
        podman(*args, timeout=60)
    except CommandFailed as exc:
        raise PrerequisiteError(
            f"podman is not working: {exc.result.tail(1)}", hint="run bakery doctor"
        ) from None


def inspect_image(ref: str) -> dict:
    return json.loads(podman("image", "inspect", ref).stdout)[0]


def find_image(ref: str) -> dict | None:
    """`podman image inspect` of ref, or None when there is no such image (one podman call)."""
    result = podman("image", "inspect", ref, check=False)
    if result.ok:
        return json.loads(result.stdout)[0]
    if "image not known" in result.stderr or "no such image" in result.stderr.lower():
        return None
    raise PodmanFailed(result)


def image_labels(inspect: dict) -> dict[str, str]:
    """The labels of an image, from `podman image inspect` output."""
    return inspect.get("Config", {}).get("Labels") or inspect.get("Labels") or {}


def list_images(label_filter: str | None = None) -> list[dict]:
    """`podman images` as JSON: the images with a label (KEY or KEY=VALUE), or every image (None)."""
    filters = ("--filter", f"label={label_filter}") if label_filter else ()
    out = podman("images", *filters, "--format", "json").stdout
    return json.loads(out or "[]")


def tag(image_id: str, ref: str) -> None:
    podman("tag", image_id, ref)


def untag(ref: str) -> None:
    """Remove the name ref; the image stays (by id) while another name or a container holds it or until removed."""
    podman("untag", ref, ref)


def containers(*filters: str) -> list[dict]:
    args = [arg for f in filters for arg in ("--filter", f)]
    return json.loads(podman("ps", "-a", *args, "--format", "json").stdout or "[]")


def remove_containers(*filters: str) -> list[str]:
    """Force-remove every container matching all filters; returns their names."""
    names = [c["Names"][0] for c in containers(*filters)]
    for name in names:
        remove(name)
    return names


@contextlib.contextmanager
def mounted_image(ref: str) -> Iterator[Path]:
    """The image's root filesystem, read-only, for as long as the block runs."""
    path = Path(podman("image", "mount", ref).stdout.strip())
    try:
        yield path
    finally:
        podman("image", "unmount", ref, check=False)


def image_has_file(ref: str, path: str) -> bool:
    with mounted_image(ref) as root:
        return os.path.lexists(root / path.lstrip("/"))


def run_detached(image: str, name: str, labels: dict[str, str], *extra: str) -> None:
    label_args = [f"--label={k}={v}" for k, v in labels.items()]
    podman("run", "-d", f"--name={name}", "--systemd=always", *label_args, *extra, image)


def exec_in(name: str, *argv: str, timeout: float = 30) -> proc.CommandResult:
    return podman("exec", name, *argv, check=False, timeout=timeout)


def container_address(name: str) -> str:
    """The container's address on podman's bridge network ('' when it has none)."""
    return podman("inspect", "--format", "{{.NetworkSettings.IPAddress}}", name, check=False).stdout.strip()


def remove(name: str, grace_s: int = 5) -> None:
    podman("rm", "-f", "-t", str(grace_s), name, check=False)
