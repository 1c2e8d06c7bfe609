"""What a playbook uses: its roles (with dependencies and include/import_role) and vars files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bakery import yamltext
from bakery.errors import ConfigError

ROLE_INCLUDES = {
    "include_role",
    "import_role",
    "ansible.builtin.include_role",
    "ansible.builtin.import_role",
}
TASK_LISTS = ("pre_tasks", "tasks", "post_tasks", "handlers", "block", "rescue", "always")


@dataclass(frozen=True)
class PlaybookInputs:
    playbook: Path
    roles: tuple[str, ...]  # in first-use order
    role_dirs: tuple[Path, ...]
    vars_dirs: tuple[Path, ...]  # group_vars / host_vars next to the playbook
    vars_files: tuple[Path, ...] = ()  # the plays' vars_files


def resolve_playbook(playbook: Path, roles_path: Path) -> PlaybookInputs:
    plays = _load_yaml(playbook)
    if not isinstance(plays, list):
        raise ConfigError(f"{playbook}: a playbook must be a list of plays")
    names: list[str] = []
    for play in plays:
        for name in _play_role_names(play):
            _add_with_dependencies(name, roles_path, playbook, names)
    vars_dirs = tuple(d for d in (playbook.parent / "group_vars", playbook.parent / "host_vars") if d.is_dir())
    vars_files = tuple(_vars_file(playbook, f) for play in plays for f in play.get("vars_files") or [])
    return PlaybookInputs(playbook, tuple(names), tuple(roles_path / n for n in names), vars_dirs, vars_files)


def _vars_file(playbook: Path, name) -> Path:
    path = playbook.parent / str(name)
    if "{{" in str(name) or not path.is_file():
        raise ConfigError(f"{playbook.name}: vars_files entry '{name}' must be a literal path to an existing file")
    return path


def _play_role_names(play: dict) -> list[str]:
    if "import_playbook" in play or "ansible.builtin.import_playbook" in play:
        raise ConfigError("import_playbook is not supported; list the roles in one playbook")
    names = [_role_entry_name(entry) for entry in play.get("roles") or []]
    for key in TASK_LISTS:
        names.extend(_task_role_names(play.get(key) or []))
    return names


def _role_entry_name(entry) -> str:
    if isinstance(entry, str):
        return entry
    return entry.get("role") or entry.get("name")


def _task_role_names(tasks: list) -> list[str]:
    names: list[str] = []
    for task in tasks:
        if not isinstance(task, dict):
            continue
        for key in ROLE_INCLUDES & task.keys():
            args = task[key]
            names.append(args if isinstance(args, str) else args.get("name"))
        for key in ("block", "rescue", "always"):
            names.extend(_task_role_names(task.get(key) or []))
    return [n for n in names if n]


def _add_with_dependencies(name: str, roles_path: Path, playbook: Path, seen: list[str]) -> None:
    if name in seen:
        return
    if "{{" in name:
        raise ConfigError(f"{playbook}: role name '{name}' is templated; bakery needs literal role names")
    role_dir = roles_path / name
    if not role_dir.is_dir():
        raise ConfigError(
            f"{playbook.name}: role '{name}' not found in {roles_path}",
            hint=f"create roles/{name} or fix the playbook",
        )
    seen.append(name)
    for dep in _role_dependencies(role_dir):
        _add_with_dependencies(dep, roles_path, playbook, seen)
    for tasks_file in sorted((role_dir / "tasks").glob("*.y*ml")):
        for inner in _task_role_names(_load_yaml(tasks_file) or []):
            _add_with_dependencies(inner, roles_path, playbook, seen)


def _role_dependencies(role_dir: Path) -> list[str]:
    meta = next((m for m in (role_dir / "meta" / "main.yml", role_dir / "meta" / "main.yaml") if m.is_file()), None)
    if meta is None:
        return []
    data = _load_yaml(meta) or {}
    return [_role_entry_name(d) for d in data.get("dependencies") or []]


def _load_yaml(path: Path):
    try:
        return yamltext.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
