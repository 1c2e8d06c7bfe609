import pytest

from bakery.errors import ConfigError
from bakery.playbook import resolve_playbook


def make_role(roles, name, tasks="[]\n", meta=None):
    (roles / name / "tasks").mkdir(parents=True)
    (roles / name / "tasks" / "main.yml").write_text(tasks)
    if meta is not None:
        (roles / name / "meta").mkdir()
        (roles / name / "meta" / "main.yml").write_text(meta)


def test_roles_dependencies_and_includes_are_followed(tmp_path):
    roles = tmp_path / "roles"
    make_role(roles, "app", meta="dependencies:\n  - role: runtime\n")
    make_role(roles, "runtime")
    make_role(roles, "web", tasks="- name: x\n  ansible.builtin.include_role:\n    name: tls\n")
    make_role(roles, "tls")
    make_role(roles, "extra")
    make_role(roles, "unused")
    playbook = tmp_path / "site.yml"
    playbook.write_text(
        "- hosts: all\n  roles: [app, {role: web}]\n"
        "  tasks:\n    - block:\n        - ansible.builtin.import_role: {name: extra}\n"
    )
    (tmp_path / "group_vars").mkdir()
    result = resolve_playbook(playbook, roles)
    assert result.roles == ("app", "runtime", "web", "tls", "extra")
    assert result.vars_dirs == (tmp_path / "group_vars",)


def test_missing_role_names_role_and_fix(tmp_path):
    roles = tmp_path / "roles"
    make_role(roles, "app", meta="dependencies: [ghost]\n")
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: all\n  roles: [app]\n")
    with pytest.raises(ConfigError, match="role 'ghost' not found") as err:
        resolve_playbook(playbook, roles)
    assert "create roles/ghost" in err.value.one_line()


def test_templated_role_name_is_rejected(tmp_path):
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: all\n  roles: ['{{ which }}']\n")
    with pytest.raises(ConfigError, match="templated"):
        resolve_playbook(playbook, tmp_path / "roles")


def test_vars_files_are_inputs_and_must_exist(tmp_path):
    (tmp_path / "vars").mkdir()
    (tmp_path / "vars" / "common.yml").write_text("a: 1\n")
    playbook = tmp_path / "site.yml"
    playbook.write_text("- hosts: all\n  vars_files: [vars/common.yml]\n  roles: []\n")
    assert resolve_playbook(playbook, tmp_path / "roles").vars_files == (tmp_path / "vars" / "common.yml",)
    playbook.write_text("- hosts: all\n  vars_files: [vars/missing.yml]\n  roles: []\n")
    with pytest.raises(ConfigError, match="vars_files entry 'vars/missing.yml'"):
        resolve_playbook(playbook, tmp_path / "roles")
