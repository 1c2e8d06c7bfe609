"""Packer: version, template staging, the docker shim, one build, its manifest."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from bakery import proc
from bakery.errors import BuildFailed, PrerequisiteError

MIN_VERSION = (1, 6, 6)
PLUGINS_FILE = "plugins.pkr.hcl"  # `packer { required_plugins }`: Packer >= 1.7 only
DOCKER_SHIM = '#!/bin/sh\n# Packer\'s docker builder calls `docker`; bakery runs podman.\nexec podman "$@"\n'


@lru_cache(maxsize=1)
def packer_version() -> tuple[int, int, int]:
    out = proc.tool_version_output(["packer", "version"])
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", out)
    if not match:
        raise PrerequisiteError(f"cannot read the Packer version from: {out.strip()[:80]}")
    version = tuple(int(p) for p in match.groups())
    if version < MIN_VERSION:
        raise PrerequisiteError(
            f"Packer {'.'.join(map(str, version))} is too old", hint="bakery needs Packer >= 1.6.6"
        )
    return version


def version_string() -> str:
    return ".".join(map(str, packer_version()))


def needs_plugins_block() -> bool:
    return packer_version() >= (1, 7, 0)


def bundled_template() -> Path:
    """The Packer template that ships with bakery (the default of build.packer_template)."""
    return Path(str(files("bakery") / "data" / "packer"))


def stage_template(template_dir: Path, dest: Path) -> Path:
    """Copy the *.pkr.hcl files the installed Packer understands into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for source in sorted(template_dir.glob("*.pkr.hcl")):
        if source.name == PLUGINS_FILE and not needs_plugins_block():
            continue
        shutil.copy2(source, dest / source.name)
    return dest


def template_files(template_dir: Path) -> list[Path]:
    return sorted(template_dir.glob("*.pkr.hcl"))


def write_var_file(path: Path, variables: dict) -> Path:
    path.write_text(json.dumps(variables, indent=2, sort_keys=True) + "\n")
    return path


@contextlib.contextmanager
def docker_shim() -> Iterator[dict[str, str]]:
    """A PATH entry whose `docker` execs podman (Packer 1.6.6's docker builder needs one)."""
    with tempfile.TemporaryDirectory(prefix="bakery-shim-") as tmp:
        shim = Path(tmp) / "docker"
        shim.write_text(DOCKER_SHIM)
        shim.chmod(0o755)
        base = proc.tool_env()
        yield {"PATH": f"{tmp}:{base['PATH']}"}


def init(staged: Path, env: dict[str, str]) -> None:
    if needs_plugins_block():
        proc.run(["packer", "init", str(staged)], env=env, timeout=600)


def build_argv(staged: Path, var_file: Path, only: str) -> list[str]:
    return ["packer", "build", "-machine-readable", "-color=false", f"-var-file={var_file}", f"-only={only}", str(staged)]


def build(
    staged: Path,
    var_file: Path,
    only: str,
    *,
    env: dict[str, str],
    log_path: Path,
    on_poll: Callable[[], None] | None = None,
) -> proc.CommandResult:
    init(staged, env)
    result = proc.run(build_argv(staged, var_file, only), env=env, log_path=log_path, check=False, on_poll=on_poll)
    if not result.ok:
        raise BuildFailed(f"packer build failed: {packer_error(result.stdout)}", hint=f"log: {log_path}")
    return result


def packer_error(machine_output: str) -> str:
    """The last error line of Packer's -machine-readable output."""
    errors = [
        line.split(",", 4)[-1]
        for line in machine_output.splitlines()
        if ",ui,error," in line or ",error," in line
    ]
    text = errors[-1] if errors else "no error reported"
    return text.replace("%!(PACKER_COMMA)", ",").replace("\\n", " ").strip()[:300]


def read_manifest(path: Path) -> dict:
    """The last build of Packer's manifest post-processor output."""
    if not path.exists():
        raise BuildFailed(f"Packer wrote no manifest at {path}")
    data = json.loads(path.read_text())
    runs = [b for b in data["builds"] if b.get("packer_run_uuid") == data.get("last_run_uuid")]
    return runs[-1]
