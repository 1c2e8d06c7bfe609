"""bakery as a user gets it: installed non-editable into a fresh venv (pip's cache reused), run
from outside the repository on a project `bakery init` made."""

import json
import os
import sys
from pathlib import Path

import pytest

from bakery import proc
from helpers import REPO

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The bin/ of a fresh venv holding bakery installed from the repository (not editable)."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    proc.run([sys.executable, "-m", "venv", str(venv)], timeout=300)
    proc.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(REPO)], timeout=1800)
    return venv / "bin"


def tool_env(bin_dir: Path) -> dict[str, str]:
    """Only the system's PATH and the installed venv: not the repository's venv, not ./run's CONTAINERS_CONF."""
    repo_bin = str(REPO / ".venv" / "bin")
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != repo_bin]
    env = {k: v for k, v in os.environ.items() if k not in ("CONTAINERS_CONF", "VIRTUAL_ENV", "PYTHONPATH")}
    return {**env, "PATH": os.pathsep.join([str(bin_dir), *path])}


def test_installed_bakery_inits_and_builds_a_project(installed, tmp_path):
    env = tool_env(installed)
    bakery = str(installed / "bakery")
    proc.run([bakery, "init", str(tmp_path / "project")], env=env, cwd=tmp_path, timeout=60)
    doctor = proc.run([bakery, "doctor", "--json"], env=env, cwd=tmp_path / "project", check=False, timeout=120)
    assert all(c["ok"] for c in json.loads(doctor.stdout)), doctor.stdout
    # --force: an image of the same fingerprint (the same init project, baked by the repository's
    # bakery) may be in the store already
    built = proc.run([bakery, "build", "app", "--force", "--json"], env=env, cwd=tmp_path / "project", check=False, timeout=1800)
    assert built.rc == 0, built.stderr[-2000:]
    result = json.loads(built.stdout)
    assert result["verdict"] == "passed" and result["reused"] is False
    # the template and the seal came from the installed package, not from the repository
    variables = json.loads((Path(result["run_dir"]) / "packer" / "bakery.pkrvars.json").read_text())
    assert variables["roles_path"].endswith(os.path.join("site-packages", "bakery", "data", "seal"))
    assert str(installed.parent) in variables["roles_path"]
