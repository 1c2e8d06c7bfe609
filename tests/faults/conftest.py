"""The fault suite: bakery killed, hung up, starved of podman, fed broken state. Each case checks
that nothing is left running, no secret is left on disk, and the error is clear with its exit code.

One tiny fixture project for the whole suite; its first bake (and the base bootstrap on a fresh
podman store) happens once, later bakes reuse the base. Helpers: faultkit.py."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bakery import proc  # noqa: E402
from faultkit import SECRET_ENV, SECRET_VALUE  # noqa: E402
from helpers import REPO, copy_fixture_project  # noqa: E402


@pytest.fixture(scope="session")
def faults_project(tmp_path_factory) -> Path:
    """The fixture project with a secret on the tiny service; the base exists and tiny was baked once."""
    project = copy_fixture_project(tmp_path_factory.mktemp("faults") / "project")
    config = yaml.safe_load((project / "bakery.yml").read_text())
    config["services"]["tiny"]["secrets"] = {"tiny_password": SECRET_ENV}
    (project / "bakery.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    os.environ[SECRET_ENV] = SECRET_VALUE
    result = proc.run([str(REPO / ".venv" / "bin" / "bakery"), "-C", str(project),
                       "build", "tiny", "--no-verify"], check=False, timeout=900)
    assert result.rc == 0, result.stderr[-2000:]
    return project


BREAKABLE_PODMAN = """#!/bin/sh
# podman, until the file BREAK exists next to this script; then every call fails like a broken podman
if [ -e "$(dirname "$0")/BREAK" ]; then
    echo "Error: cannot set up the OCI runtime: runc: not responding (fault injected)" >&2
    exit 125
fi
exec {podman} "$@"
"""


@pytest.fixture
def breakable_podman(tmp_path) -> tuple[dict, Path]:
    """(env whose PATH starts with a podman shim, the file that breaks it when created)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "podman"
    shim.write_text(BREAKABLE_PODMAN.format(podman=shutil.which("podman", path=proc.tool_env()["PATH"])))
    shim.chmod(0o755)
    env = proc.tool_env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    yield env, bin_dir / "BREAK"
    (bin_dir / "BREAK").unlink(missing_ok=True)
