"""Roles as a model: each role describes its inputs in meta/argument_specs.yml, in step with its
defaults, and Ansible (which validates the parameters a role is given before its first task)
accepts each default given as a parameter and refuses a value of the wrong type."""

import os
import shutil

import pytest
import yaml

from bakery import proc
from helpers import REPO

ROLES = REPO / "roles"
EXEMPT: set[str] = set()  # every role of the example describes its inputs
SPECCED = sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir() and p.name not in EXEMPT)
EXAMPLE_VARS = {"app_version": "1.0.0", "bakery_fingerprint": "f" * 64, "bakery_service": "api-service",
                "app_port": 8080}


def options(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


def defaults(role: str) -> dict:
    path = ROLES / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


@pytest.mark.parametrize("role", SPECCED)
def test_every_role_has_a_readme_and_describes_every_default(role):
    assert (ROLES / role / "README.md").is_file(), f"roles/{role}/README.md is missing"
    described, given = options(role), defaults(role)
    assert sorted(given) == sorted(described), f"roles/{role}: defaults/main.yml and meta/argument_specs.yml differ"
    for name, spec in described.items():
        assert spec.get("description") and spec.get("type"), f"roles/{role}: {name} needs a type and a description"
        assert "default" not in spec, f"roles/{role}: {name}: the default lives in defaults/main.yml only"


def _validating_copy(tmp_path, params: dict[str, dict]) -> str:
    """The roles with every task list emptied: Ansible still validates the arguments of each role it enters."""
    roles = tmp_path / "roles"
    shutil.copytree(ROLES, roles, ignore=shutil.ignore_patterns("molecule", "templates", "files"))
    for role in SPECCED:
        (roles / role / "tasks" / "main.yml").write_text("---\n[]\n")
        for handlers in (roles / role / "handlers").glob("*.yml"):
            handlers.write_text("---\n[]\n")
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Validate", "hosts": "all", "gather_facts": False,
                                         "roles": [{"role": r, **params.get(r, {})} for r in SPECCED]}]))
    return str(playbook)


def _play(tmp_path, playbook: str) -> proc.CommandResult:
    directory = os.path.dirname(playbook)
    env = {**os.environ, "ANSIBLE_ROLES_PATH": os.path.join(directory, "roles"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "False"}
    return proc.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", yaml.safe_dump(EXAMPLE_VARS),
                     playbook], env=env, cwd=tmp_path, check=False, timeout=300)


def test_ansible_accepts_the_defaults_and_refuses_a_wrong_type(tmp_path):
    accepted = _play(tmp_path, _validating_copy(tmp_path / "defaults", {r: defaults(r) for r in SPECCED}))
    assert accepted.rc == 0, accepted.stdout[-3000:]
    assert all(f"TASK [{r} : Validating arguments against arg spec 'main'" in accepted.stdout for r in SPECCED)
    refused = _play(tmp_path, _validating_copy(tmp_path / "wrong", {"nginx": {"nginx_listen_port": "eighty"}}))
    assert refused.rc != 0 and "nginx_listen_port" in refused.stdout, refused.stdout[-3000:]
