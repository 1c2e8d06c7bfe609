"""The seal: bakery's last step of every bake (like virt-sysprep or `cloud-init clean`).

After the service's last role, the bakery_seal role (package data, bakery/data/seal/) removes
SSH host keys, machine ids, apt lists and caches, shell histories, Ansible leftovers and logs,
and installs the unit that makes new host keys at first boot. It runs through the same
Ansible provisioner on every target: as one more play after the service's playbook, or as the
last role layer. `seal: false` on a service leaves it out (the hygiene checks then decide).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import yaml

from bakery.fingerprint import Input, tree_input

ROLE_NAME = "bakery_seal"
HOST_KEYS_UNIT = "bakery-ssh-host-keys.service"
BAKE_APT_CONF = "/etc/apt/apt.conf.d/00bakery-bake"  # from files/bake-apt.conf; in bases, gone after the seal


def role_dir() -> Path:
    return Path(str(files("bakery") / "data" / "seal" / ROLE_NAME))


def host_keys_unit() -> Path:
    """The first-boot host key unit (also installed into bakery's bases)."""
    return role_dir() / "files" / HOST_KEYS_UNIT


def bake_apt_conf() -> Path:
    """apt settings for the bake (installed into bakery's bases as BAKE_APT_CONF; the seal removes them)."""
    return role_dir() / "files" / "bake-apt.conf"


def roles_path(project_roles: Path) -> str:
    """ANSIBLE_ROLES_PATH of a bake: the project's roles, then the directory of the seal role."""
    return f"{project_roles}:{role_dir().parent}"


def seal_input() -> Input:
    """The seal's content as a fingerprint input."""
    return tree_input("seal", ROLE_NAME, role_dir())


def seal_play() -> dict:
    return {
        "name": "bakery: seal the image",
        "hosts": "all",
        "become": True,
        "gather_facts": False,
        "roles": [ROLE_NAME],  # found through roles_path
    }


def write_seal_playbook(path: Path) -> Path:
    """A playbook of the seal play alone (a role layer of its own)."""
    path.write_text(yaml.safe_dump([seal_play()], sort_keys=False))
    return path


def write_sealed_playbook(playbook: Path, path: Path) -> Path:
    """A playbook that runs the service's playbook as it is, then the seal. group_vars and
    host_vars next to the service's playbook are linked in (Ansible reads them next to the
    top playbook)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump([{"import_playbook": str(playbook.resolve())}, seal_play()], sort_keys=False))
    link_vars_dirs(playbook.parent, path.parent)
    return path


def link_vars_dirs(origin: Path, dest: Path) -> None:
    for name in ("group_vars", "host_vars"):
        if (origin / name).is_dir() and not (dest / name).exists():
            (dest / name).symlink_to((origin / name).resolve())
