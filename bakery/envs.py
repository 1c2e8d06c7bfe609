"""Terraform environments: read terraform/envs/<env> and check that environments differ only in knobs.

dev, staging and prod share one infrastructure code base (DESIGN.md): their *.tf files must
declare the same things, and their terraform.tfvars may differ only in the keys listed in
KNOBS (sizes, counts, placement, runtime config). `diff_envs` reports the knob differences
and every other difference as a one-line violation. Parsing is static (python-hcl2), so it
works where Terraform is not installed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakery.config import NAME_PATTERN
from bakery.errors import ConfigError

ENVS_DIR = Path("terraform") / "envs"
MODULES_DIR = Path("terraform") / "modules"
TFVARS_FILE = "terraform.tfvars"
BACKEND_CONFIG_FILE = "backend.hcl"

# The terraform.tfvars keys that may differ between environments; every other key must be
# equal everywhere. Documented in terraform/README.md ("Knobs").
KNOBS: tuple[str, ...] = (
    "env",
    "region",
    "instance_type",
    "min_size",
    "max_size",
    "desired_capacity",
    "services",
    "vpc_id",
    "subnet_ids",
    "target_group_arns",
    "runtime_config",
)

# Top-level block kinds and how many labels they carry (resource "type" "name" has two).
_LABELLED_BLOCKS = {"resource": 2, "data": 2, "module": 1, "variable": 1, "output": 1, "provider": 1, "check": 1}
_MERGED_BLOCKS = ("locals", "terraform")
_MISSING = object()


@dataclass(frozen=True)
class ModuleCall:
    source: str
    arguments: dict[str, Any]  # argument name -> normalised value; `source` and `version` excluded

    @property
    def argument_names(self) -> tuple[str, ...]:
        return tuple(sorted(self.arguments))


@dataclass(frozen=True)
class EnvSpec:
    """What one terraform/envs/<name> directory declares, normalised for comparison."""

    name: str
    path: Path
    modules: dict[str, ModuleCall]
    resources: dict[str, dict]  # "aws_instance.debug" -> body
    data_sources: dict[str, dict]  # "data.aws_ami.this" -> body
    variables: dict[str, dict]  # name -> declaration body (type, default, validation, ...)
    outputs: dict[str, dict]
    locals: dict[str, Any]
    providers: dict[str, dict]  # "aws", or "aws.<alias>"
    terraform_settings: dict[str, Any]  # the terraform blocks without the backend
    backend: str | None  # backend type, e.g. "s3"
    backend_settings: dict[str, Any]  # inline backend arguments (empty for partial configuration)
    other_blocks: dict[str, Any]  # moved, import, removed, ...: compared whole
    tfvars: dict[str, Any]
    backend_config: dict[str, Any]  # backend.hcl, empty when absent


@dataclass(frozen=True)
class EnvDiff:
    a: str
    b: str
    knob_differences: dict[str, tuple[Any, Any]]  # knob -> (value in a, value in b); None when unset
    violations: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations


@dataclass(frozen=True)
class ModuleSummary:
    name: str
    path: Path
    variables: tuple[str, ...]
    required_variables: tuple[str, ...]  # declared without a default
    outputs: tuple[str, ...]
    resources: tuple[str, ...]
    data_sources: tuple[str, ...]


# -- reading -----------------------------------------------------------------------------


def list_envs(root: Path) -> list[str]:
    envs_dir = root / ENVS_DIR
    return sorted(p.name for p in envs_dir.iterdir() if p.is_dir()) if envs_dir.is_dir() else []


def load_env(root: Path, name: str) -> EnvSpec:
    env_dir = _env_dir(root, name)
    blocks = _load_tf_dir(env_dir, root)
    tfvars_path = env_dir / TFVARS_FILE
    if not tfvars_path.is_file():
        raise ConfigError(f"{_shown(tfvars_path, root)} is missing", hint="it holds the environment's sizes")
    backend_config_path = env_dir / BACKEND_CONFIG_FILE
    backend_config = load_hcl(backend_config_path, root) if backend_config_path.is_file() else {}
    return EnvSpec(name=name, path=env_dir, tfvars=load_hcl(tfvars_path, root),
                   backend_config=backend_config, **_env_fields(blocks))


def modules_summary(root: Path) -> dict[str, ModuleSummary]:
    modules_dir = root / MODULES_DIR
    module_dirs = sorted(p for p in modules_dir.iterdir() if p.is_dir()) if modules_dir.is_dir() else []
    return {d.name: _summarise_module(d, _load_tf_dir(d, root)) for d in module_dirs}


def _env_dir(root: Path, name: str) -> Path:
    if not re.match(NAME_PATTERN, name):
        raise ConfigError(f"environment name '{name}' must match {NAME_PATTERN}")
    env_dir = root / ENVS_DIR / name
    if not env_dir.is_dir():
        known = ", ".join(list_envs(root)) or "none"
        raise ConfigError(f"no Terraform environment '{name}': {_shown(env_dir, root)} is not a directory",
                          hint=f"environments: {known}")
    return env_dir


def _env_fields(blocks: dict[str, Any]) -> dict[str, Any]:
    settings = dict(blocks["terraform"])
    backend_type, backend_settings = _backend_of(settings.pop("backend", []))
    return {
        "modules": {name: _module_call(body) for name, body in blocks["module"].items()},
        "resources": blocks["resource"],
        "data_sources": blocks["data"],
        "variables": blocks["variable"],
        "outputs": blocks["output"],
        "locals": blocks["locals"],
        "providers": blocks["provider"],
        "terraform_settings": settings,
        "backend": backend_type,
        "backend_settings": backend_settings,
        "other_blocks": blocks["other"],
    }


def _summarise_module(module_dir: Path, blocks: dict[str, Any]) -> ModuleSummary:
    variables = blocks["variable"]
    return ModuleSummary(
        name=module_dir.name,
        path=module_dir,
        variables=tuple(sorted(variables)),
        required_variables=tuple(sorted(n for n, body in variables.items() if "default" not in body)),
        outputs=tuple(sorted(blocks["output"])),
        resources=tuple(sorted(blocks["resource"])),
        data_sources=tuple(sorted(blocks["data"])),
    )


def _module_call(body: dict[str, Any]) -> ModuleCall:
    arguments = {k: v for k, v in body.items() if k not in ("source", "version")}
    return ModuleCall(source=str(body.get("source", "")), arguments=arguments)


def _backend_of(backend_blocks: list[dict]) -> tuple[str | None, dict[str, Any]]:
    """The backend type and settings from a terraform block's `backend "<type>" {...}` list."""
    for block in backend_blocks:
        for backend_type, settings in block.items():
            return backend_type, settings
    return None, {}


def _load_tf_dir(directory: Path, root: Path) -> dict[str, Any]:
    """Every top-level block of directory/*.tf, keyed by kind then address."""
    tf_files = sorted(directory.glob("*.tf"))
    if not tf_files:
        raise ConfigError(f"{_shown(directory, root)} has no *.tf files")
    blocks: dict[str, Any] = {kind: {} for kind in (*_LABELLED_BLOCKS, *_MERGED_BLOCKS, "other")}
    for path in tf_files:
        _collect_blocks(load_hcl(path, root), blocks, _shown(path, root))
    return blocks


def _collect_blocks(document: dict[str, Any], blocks: dict[str, Any], where: str) -> None:
    for kind, entries in document.items():
        if kind in _LABELLED_BLOCKS:
            for address, body in _addressed(kind, entries):
                _add_once(blocks[kind], address, body, f"{where}: {kind} {address} is declared twice")
        elif kind in _MERGED_BLOCKS:
            for body in entries:
                for key, value in body.items():
                    _merge_setting(blocks[kind], kind, key, value, where)
        else:
            blocks["other"].setdefault(kind, []).extend(entries if isinstance(entries, list) else [entries])


def _addressed(kind: str, entries: list[dict]) -> list[tuple[str, dict]]:
    """(address, body) for each labelled block: "aws_instance.web", "data.aws_ami.this", "aws.east"."""
    found = []
    for entry in entries:
        for label, inner in entry.items():
            if _LABELLED_BLOCKS[kind] == 2:
                found += [(f"{label}.{name}", body) for name, body in inner.items()]
            else:
                found.append((label, inner))
    if kind == "data":
        return [(f"data.{address}", body) for address, body in found]
    if kind == "provider":
        return [(f"{name}.{body['alias']}" if "alias" in body else name, body) for name, body in found]
    return found


def _add_once(table: dict[str, Any], address: str, body: Any, duplicate_message: str) -> None:
    if address in table:
        raise ConfigError(duplicate_message)
    table[address] = body


def _merge_setting(table: dict[str, Any], kind: str, key: str, value: Any, where: str) -> None:
    # Several terraform blocks may each hold a backend or required_providers: lists concatenate.
    if kind == "terraform" and isinstance(value, list) and isinstance(table.get(key), list):
        table[key] = table[key] + value
    else:
        _add_once(table, key, value, f"{where}: {kind} setting '{key}' is declared twice")


# -- parsing and python-hcl2's output shapes --------------------------------------------------


def load_hcl(path: Path, root: Path | None = None) -> dict[str, Any]:
    """One HCL file (*.tf, *.tfvars, backend.hcl) in python-hcl2's classic shape, without metadata."""
    from lark.exceptions import LarkError, UnexpectedInput  # with hcl2 (~0.1 s): only for commands that read HCL

    shown = _shown(path, root) if root is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {shown}: {error}") from None
    try:
        document = _hcl_loads(text)
    except UnexpectedInput as error:
        raise ConfigError(f"{shown}: not valid HCL at line {error.line}, column {error.column}") from None
    except (LarkError, ValueError, RuntimeError) as error:
        raise ConfigError(f"{shown}: not valid HCL ({_first_line(str(error))})") from None
    return _without_metadata(document)


def _hcl_loads(text: str) -> dict[str, Any]:
    """Parse HCL into python-hcl2's classic shape whatever its version (pyproject allows 4.3 to 8.x).

    The classic shape (4.x to 7.x): blocks are lists of {label: {label: body}}, string
    literals are plain, expressions are "${...}". 8.x by default quotes string literals and
    block labels ('"dev"'), adds __is_block__ and __comments__ keys and keeps heredoc
    markers; its SerializationOptions turn that back into the classic shape.
    """
    import hcl2

    options_type = getattr(hcl2, "SerializationOptions", None)
    if options_type is None:
        return hcl2.loads(text)
    options = options_type(with_comments=False, explicit_blocks=False, strip_string_quotes=True,
                           preserve_heredocs=False)
    return hcl2.loads(text, serialization_options=options)


def _without_metadata(value: Any) -> Any:
    """Drop python-hcl2's own keys (__start_line__, __comments__, __is_block__, ...) at any depth."""
    if isinstance(value, dict):
        return {k: _without_metadata(v) for k, v in value.items() if not _is_metadata_key(k)}
    if isinstance(value, list):
        return [_without_metadata(v) for v in value]
    return value


def _is_metadata_key(key: str) -> bool:
    return key.startswith("__") and key.endswith("__")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "parse error"


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# -- comparing ---------------------------------------------------------------------------


def diff_envs(root: Path, a: str, b: str) -> EnvDiff:
    env_a, env_b = load_env(root, a), load_env(root, b)
    knob_differences, tfvars_violations = _tfvars_differences(env_a, env_b)
    violations = [
        *_module_violations(env_a, env_b),
        *_declaration_violations(env_a, env_b),
        *_backend_violations(env_a, env_b),
        *tfvars_violations,
        *_tfvars_problems(env_a),
        *_tfvars_problems(env_b),
    ]
    return EnvDiff(a=a, b=b, knob_differences=knob_differences, violations=violations)


def _module_violations(a: EnvSpec, b: EnvSpec) -> list[str]:
    found = [f"{x.name} calls module '{m}' that {y.name} does not" for x, y, m in _one_sided(a, b, "modules")]
    for name in sorted(a.modules.keys() & b.modules.keys()):
        call_a, call_b = a.modules[name], b.modules[name]
        if call_a.source != call_b.source:
            found.append(f"{b.name} calls module '{name}' from '{call_b.source}'"
                         f" but {a.name} calls it from '{call_a.source}'")
        found += _argument_violations(name, a.name, call_a.arguments, b.name, call_b.arguments)
    return found


def _argument_violations(module: str, a: str, args_a: dict, b: str, args_b: dict) -> list[str]:
    found = []
    for arg in sorted(args_a.keys() | args_b.keys()):
        value_a, value_b = args_a.get(arg, _MISSING), args_b.get(arg, _MISSING)
        if value_a is _MISSING or value_b is _MISSING:
            passer, other = (a, b) if value_b is _MISSING else (b, a)
            found.append(f"{passer} passes argument '{arg}' to module '{module}' but {other} does not")
        elif value_a != value_b:
            found.append(f"module '{module}' argument '{arg}' is {_show(value_b)} in {b}"
                         f" but {_show(value_a)} in {a}")
    return found


# EnvSpec field -> how a violation names one of its entries
_DECLARATIONS = {
    "resources": "resource {}",
    "data_sources": "data source {}",
    "variables": "variable '{}'",
    "outputs": "output '{}'",
    "locals": "local value '{}'",
    "providers": "provider '{}'",
    "terraform_settings": "terraform setting '{}'",
    "other_blocks": "{} blocks",
}


def _declaration_violations(a: EnvSpec, b: EnvSpec) -> list[str]:
    found = []
    for field, label in _DECLARATIONS.items():
        found += [f"{x.name} declares {label.format(key)} that {y.name} does not"
                  for x, y, key in _one_sided(a, b, field)]
        table_a, table_b = getattr(a, field), getattr(b, field)
        for key in sorted(table_a.keys() & table_b.keys()):
            if table_a[key] != table_b[key]:
                found.append(f"{label.format(key)} differs between {a.name} and {b.name}"
                             f"{_differing_keys(table_a[key], table_b[key])}")
    return found


def _backend_violations(a: EnvSpec, b: EnvSpec) -> list[str]:
    found = []
    if a.backend != b.backend:
        found.append(f"{a.name} uses backend {_show_backend(a.backend)} but {b.name} uses {_show_backend(b.backend)}")
    elif a.backend_settings != b.backend_settings:
        found.append(f"backend \"{a.backend}\" settings in the *.tf files differ between {a.name} and {b.name}"
                     f"{_differing_keys(a.backend_settings, b.backend_settings)}")
    keys_a, keys_b = set(a.backend_config), set(b.backend_config)
    if keys_a != keys_b:
        found.append(f"{BACKEND_CONFIG_FILE} of {a.name} and {b.name} set different keys:"
                     f" {', '.join(sorted(keys_a ^ keys_b))}")
    state_a = _state_location(a.backend_config)
    if a.name != b.name and state_a is not None and state_a == _state_location(b.backend_config):
        found.append(f"{a.name} and {b.name} keep their state in the same place ({state_a})")
    return found


def _tfvars_differences(a: EnvSpec, b: EnvSpec) -> tuple[dict[str, tuple[Any, Any]], list[str]]:
    knob_differences: dict[str, tuple[Any, Any]] = {}
    violations = []
    for key in _ordered_keys(a.tfvars.keys() | b.tfvars.keys()):
        value_a, value_b = a.tfvars.get(key, _MISSING), b.tfvars.get(key, _MISSING)
        if value_a == value_b:
            continue
        if key in KNOBS:
            knob_differences[key] = (_none_if_missing(value_a), _none_if_missing(value_b))
        else:
            violations.append(f"tfvars key '{key}' differs and is not a declared knob"
                              f" ({a.name}: {_show(value_a)}, {b.name}: {_show(value_b)})")
    return knob_differences, violations


def _tfvars_problems(env: EnvSpec) -> list[str]:
    """Checks of one environment's tfvars on their own."""
    where = f"{env.name}/{TFVARS_FILE}"
    found = [f"{where} sets '{key}' but no variable '{key}' is declared"
             for key in sorted(env.tfvars.keys() - env.variables.keys())]
    if "env" in env.tfvars and env.tfvars["env"] != env.name:
        found.append(f"{where} sets env = {_show(env.tfvars['env'])}, not \"{env.name}\"")
    if "ami_id" in env.tfvars:
        found.append(f"{where} sets ami_id; bakery passes the verified image with -var ami_id=...")
    return found


def _one_sided(a: EnvSpec, b: EnvSpec, field: str) -> list[tuple[EnvSpec, EnvSpec, str]]:
    """(declaring env, other env, key) for each key of `field` that only one env has."""
    keys_a, keys_b = getattr(a, field).keys(), getattr(b, field).keys()
    return [(a, b, k) for k in sorted(keys_a - keys_b)] + [(b, a, k) for k in sorted(keys_b - keys_a)]


def _ordered_keys(keys: set[str]) -> list[str]:
    """Knobs in KNOBS order, then the other keys alphabetically."""
    return [k for k in KNOBS if k in keys] + sorted(keys - set(KNOBS))


def _differing_keys(value_a: Any, value_b: Any) -> str:
    if not (isinstance(value_a, dict) and isinstance(value_b, dict)):
        return ""
    keys = sorted(k for k in value_a.keys() | value_b.keys() if value_a.get(k, _MISSING) != value_b.get(k, _MISSING))
    return f": {', '.join(keys)}"


def _state_location(backend_config: dict[str, Any]) -> str | None:
    if "key" not in backend_config:
        return None
    return f"{backend_config.get('bucket', '')}/{backend_config['key']}"


def _show_backend(backend: str | None) -> str:
    return f"\"{backend}\"" if backend else "no backend"


def _none_if_missing(value: Any) -> Any:
    return None if value is _MISSING else value


def _show(value: Any) -> str:
    """A normalised value as it reads in HCL: var.x for an expression, "t3.small" for a string."""
    if value is _MISSING:
        return "not set"
    if isinstance(value, str) and value.startswith("${") and value.endswith("}") and value.count("${") == 1:
        return value[2:-1]
    return json.dumps(value)
