"""Base images: a Debian rootfs bootstrapped by mmdebstrap and imported into podman.

A base is tagged with a fingerprint of its inputs and reused while they are unchanged.
"""

from __future__ import annotations

import shlex
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bakery import locks, podman, proc, seal
from bakery.config import Base, Project
from bakery.fingerprint import Fingerprint, Input, combine, file_digest, value_digest
from bakery.state import StateDir

BASE_REPOSITORY = "localhost/bakery-base"
RECIPE_VERSION = "4"  # bump when the way bases are built changes
LOCAL_FIELDS = ("suite", "variant", "packages", "mirror")  # what the local base is made of


@dataclass(frozen=True)
class BaseImage:
    name: str
    ref: str
    image_id: str
    fingerprint: str
    built: bool  # False when an existing image was reused


@lru_cache(maxsize=1)
def mmdebstrap_version() -> str:
    return proc.tool_version_output(["mmdebstrap", "--version"]).strip().split()[-1]


def base_fingerprint(base: Base, tool_version: str) -> Fingerprint:
    return combine([
        Input("base-recipe", "bakery", RECIPE_VERSION),
        Input("base-recipe", seal.HOST_KEYS_UNIT, file_digest(seal.host_keys_unit())),
        Input("base-recipe", seal.BAKE_APT_CONF, file_digest(seal.bake_apt_conf())),
        Input("base-config", "spec", value_digest(base.model_dump(include=set(LOCAL_FIELDS)))),
        Input("tool", "mmdebstrap", tool_version),
    ])


def base_ref(name: str, fingerprint: Fingerprint) -> str:
    return f"{BASE_REPOSITORY}/{name}:{fingerprint.short}"


def find_base(project: Project, name: str) -> BaseImage | None:
    """The base image for name if it has been built, without building it."""
    fingerprint = base_fingerprint(project.base(name), mmdebstrap_version())
    ref = base_ref(name, fingerprint)
    found = podman.find_image(ref)
    return BaseImage(name, ref, found["Id"], fingerprint.digest, built=False) if found else None


def ensure_base(project: Project, name: str, *, rebuild: bool = False, log=print) -> BaseImage:
    """Return the base image for name, bootstrapping it first if it does not exist yet."""
    base = project.base(name)
    fingerprint = base_fingerprint(base, mmdebstrap_version())
    ref = base_ref(name, fingerprint)
    # the project's lock, then the machine's: base images are shared by every project on the machine,
    # so a second project bootstrapping the same base at once waits and then finds it
    with locks.held(project.state_dir(), f"base-{name}", log), locks.machine_wide(f"base-{fingerprint.short}", log):
        found = None if rebuild else podman.find_image(ref)
        built = found is None
        if built and not rebuild and _pulled(project, name, ref, log):
            found, built = podman.inspect_image(ref), False
        if built:
            log(f"bootstrapping base '{name}' ({base.suite}, {len(base.packages)} packages) with mmdebstrap")
            bootstrap_and_import(project, name, base, fingerprint, ref)
            found = podman.inspect_image(ref)
    return BaseImage(name, ref, found["Id"], fingerprint.digest, built)


def _pulled(project: Project, name: str, ref: str, log) -> bool:
    """The base pulled from the registry by its input fingerprint (bases travel: the same image id everywhere)."""
    from bakery.registry_images import pull_base

    return pull_base(project, name, ref, log)


WORK_PREFIX = "base-"  # .bakery/tmp/base-<name>-<random>: a bootstrap's work dir, made under the lock base-<name>


def work_dirs(project: Project) -> list[tuple[str, Path]]:
    """(base name, work dir) of every bootstrap's work dir left under .bakery/tmp (alive or not)."""
    work = StateDir(project.state_dir()).tmp
    return [(name, d) for name in project.bases for d in sorted(work.glob(f"{WORK_PREFIX}{name}-*")) if d.is_dir()]


def bootstrap_and_import(project: Project, name: str, base: Base, fingerprint: Fingerprint, ref: str) -> None:
    work = StateDir(project.state_dir()).tmp
    work.mkdir(parents=True, exist_ok=True)
    log_path = project.state_dir() / "bases" / f"{name}-{fingerprint.short}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix=f"{WORK_PREFIX}{name}-") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        proc.run(mmdebstrap_argv(base, rootfs), log_path=log_path, timeout=1800)
        podman.podman(*import_argv(name, fingerprint, rootfs, ref), timeout=900)


def mmdebstrap_argv(base: Base, rootfs: Path) -> list[str]:
    argv = [
        "mmdebstrap",
        f"--variant={base.variant}",
        f"--include={','.join(base.packages)}",
        "--aptopt=Acquire::Retries \"3\"",
        "--skip=cleanup/apt/lists",  # a base ready for any role: `apt` finds packages without update_cache
        # ready for any role: the apt lists stay for the bake (the seal removes them), the
        # binary caches go; at rest no host keys and no machine id, and sshd makes its keys at boot
        "--customize-hook=rm -f \"$1\"/var/cache/apt/*.bin \"$1\"/etc/ssh/ssh_host_* \"$1\"/var/lib/dbus/machine-id"
        " && : > \"$1\"/etc/machine-id",
        *host_keys_unit_hooks(),
        # apt settings for the bake only (no translations, binary caches in /run): smaller role
        # layers and cheaper commits; the seal removes the file
        f"--customize-hook=cp {shlex.quote(str(seal.bake_apt_conf()))} \"$1\"{seal.BAKE_APT_CONF}",
        base.suite,
        str(rootfs),
    ]
    if base.mirror:
        argv.append(base.mirror)
    return argv


def host_keys_unit_hooks() -> list[str]:
    """Install and enable the seal's first-boot host key unit (when the base has sshd)."""
    unit, name = seal.host_keys_unit(), seal.HOST_KEYS_UNIT
    install = (f"[ ! -e \"$1\"/usr/sbin/sshd ] || {{ cp {shlex.quote(str(unit))} \"$1\"/etc/systemd/system/{name}"
               + "".join(f" && mkdir -p \"$1\"/etc/systemd/system/{w}.wants"
                         f" && ln -sf /etc/systemd/system/{name} \"$1\"/etc/systemd/system/{w}.wants/{name}"
                         for w in ("multi-user.target", "ssh.service")) + "; }")
    return [f"--customize-hook={install}"]


def import_argv(name: str, fingerprint: Fingerprint, rootfs: Path, ref: str) -> list[str]:
    return [
        "import",
        "--change", 'ENTRYPOINT ["/sbin/init"]',
        "--change", "STOPSIGNAL SIGRTMIN+3",
        "--change", f"LABEL bakery.base={name}",
        "--change", f"LABEL bakery.base-fingerprint={fingerprint.digest}",
        str(rootfs),
        ref,
    ]
