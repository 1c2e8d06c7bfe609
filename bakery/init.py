"""`bakery init [DIR]`: a minimal project that bakes, seals and verifies as generated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bakery.config import CONFIG_NAME, NAME_PATTERN
from bakery.errors import ConfigError

DEFAULT_SERVICE = "app"

CONFIG = """\
# bakery project configuration; `bakery config schema` prints every key.
version: 1

bases:
  debian-12:
    suite: bookworm
    variant: minbase
    packages: [python3, python3-apt, systemd, systemd-sysv, openssh-server, sudo, ca-certificates, iproute2, procps]

services:
  {service}:
    playbook: playbooks/{service}.yml
    base: debian-12
    # bakery seals every image after the last role (host keys, machine id, apt lists, logs);
    # `seal: false` turns that off.

environments:
  dev: {{}}
"""

PLAYBOOK = """\
---
# The roles baked into the {service} image, in order (from roles/ or ANSIBLE_ROLES_PATH).
# The apt lists are there during the bake; bakery seals the image after the last role.
- name: Bake the {service} image
  hosts: all
  become: true
  roles: []
"""

SUITE = '''\
"""Checks on a booted instance of the {service} image (testinfra's `host` fixture).

`bakery verify {service}` (and `bakery build {service}`) boots the image and runs this suite.
"""


def test_systemd_is_running(host):
    assert host.run("systemctl is-system-running").stdout.strip() == "running"


def test_sshd_runs_with_host_keys_made_at_first_boot(host):
    assert host.service("ssh").is_running
    assert host.service("bakery-ssh-host-keys").is_running  # ran at this boot: the image had no keys
    assert host.file("/etc/ssh/ssh_host_ed25519_key.pub").is_file
'''

GITIGNORE = """\
# bakery's state: runs, catalog, locks
.bakery/
"""


@dataclass(frozen=True)
class InitResult:
    root: str
    service: str
    files: list[str]

    def as_dict(self) -> dict:
        return {"root": self.root, "service": self.service, "files": self.files}

    def human(self) -> str:
        lines = [f"created a bakery project in {self.root}:", *(f"  {f}" for f in self.files)]
        return "\n".join([*lines, f"next: bakery build {self.service}"])


def project_files(service: str) -> dict[str, str]:
    """Relative path -> content of the project init writes."""
    return {
        CONFIG_NAME: CONFIG.format(service=service),
        f"playbooks/{service}.yml": PLAYBOOK.format(service=service),
        f"tests/images/{service}/test_{service.replace('-', '_')}.py": SUITE.format(service=service),
        "roles/.gitkeep": "",
        ".gitignore": GITIGNORE,
    }


def init_project(root: Path, service: str = DEFAULT_SERVICE) -> InitResult:
    """Write a minimal project into root (created if missing); never overwrites a file."""
    if not re.match(NAME_PATTERN, service):
        raise ConfigError(f"service name '{service}' must match {NAME_PATTERN}", hint="pass --service NAME")
    files = project_files(service)
    existing = [name for name in files if (root / name).exists() and name != ".gitignore"]
    if existing:
        raise ConfigError(f"{root / existing[0]} already exists; bakery init writes only new files",
                          hint="run it in an empty directory or pass another DIR")
    written = []
    for name, content in files.items():
        if name == ".gitignore" and (root / name).exists():
            if _ignore_state_dir(root / name):
                written.append(f"{name} (appended .bakery/)")
            continue
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(name)
    return InitResult(str(root.resolve()), service, written)


def _ignore_state_dir(gitignore: Path) -> bool:
    """Add .bakery/ to an existing .gitignore (its other lines stay); False if it is there."""
    text = gitignore.read_text()
    if any(line.strip() in (".bakery", ".bakery/", "/.bakery/") for line in text.splitlines()):
        return False
    gitignore.write_text(text + ("" if text.endswith("\n") or not text else "\n") + GITIGNORE)
    return True
