"""Fixtures for the registry tests: a real registry, and "machines" (their own podman storage root,
state dir and project copy)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from helpers import container_ids, copy_fixture_project
from registry_server import running_registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


@dataclass(frozen=True)
class Machine:
    name: str
    project: Path
    storage_conf: Path | None  # None: the machine's default podman storage (the one the suite runs on)
    state_home: Path

    def env(self) -> dict[str, str]:
        """Its variables; CONTAINERS_STORAGE_CONF is None when it uses the default storage (unset it)."""
        return {"CONTAINERS_STORAGE_CONF": str(self.storage_conf) if self.storage_conf else None,
                "XDG_STATE_HOME": str(self.state_home)}

    def configure(self, registry_url: str, trust: list[Path] = (), tls_verify: bool = False) -> None:
        config = self.project / "bakery.yml"
        data = yaml.safe_load(config.read_text())
        data["registry"] = {"url": registry_url, "tls_verify": tls_verify}
        data["trust"] = {"keys": [str(p) for p in trust]}
        config.write_text(yaml.safe_dump(data))


def new_machine(root: Path, name: str, own_storage: bool = True, copy=copy_fixture_project) -> Machine:
    """A machine: its project copy, state dir and its own podman storage root (own_storage), or
    the storage this suite runs on (CONTAINERS_STORAGE_CONF when set, else podman's default)."""
    home = root / name
    storage_conf = Path(os.environ["CONTAINERS_STORAGE_CONF"]) if os.environ.get("CONTAINERS_STORAGE_CONF") else None
    if own_storage:
        storage_conf = home / "storage.conf"
        storage_conf.parent.mkdir(parents=True, exist_ok=True)
        storage_conf.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{home}/graph"\n'
                                f'runroot = "{home}/run"\n')
    return Machine(name, copy(home / "project"), storage_conf, home / "state")


def remove_storage(machine: Machine) -> None:
    """The machine's storage root, with the mounts podman keeps under it (its overlay dir is one).
    No podman command runs on it after this: podman would mount the overlay dir again."""
    home = machine.storage_conf.parent
    for mount_point in sorted(mounts_under(home), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount_point], check=False, capture_output=True)
    for part in ("graph", "run"):
        shutil.rmtree(home / part, ignore_errors=True)


def mounts_under(root: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    return [p for p in points if p == str(root) or p.startswith(f"{root}/")]


@pytest.fixture
def machines(tmp_path, monkeypatch):
    """machine(name): a new machine; use(machine): make it the one bakery runs on (env of this process)."""
    made: list[Machine] = []

    def machine(name: str, own_storage: bool = True) -> Machine:
        made.append(new_machine(tmp_path, name, own_storage))
        return made[-1]

    def use(which: Machine) -> None:
        for key, value in which.env().items():
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)

    yield machine, use
    for m in made:
        if m.storage_conf is not None and m.storage_conf.parent == tmp_path / m.name:
            remove_storage(m)


@pytest.fixture(autouse=True)
def no_container_left_behind():
    before = container_ids()
    yield
    assert not container_ids() - before, "test left containers behind"
