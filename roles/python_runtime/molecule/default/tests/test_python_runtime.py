"""Role python_runtime on a Molecule instance: a new venv has a working pip and builds a
pyproject.toml package offline (no index, no build isolation), as role api_service does."""

import shlex

import pytest

WHEEL_DIR = "/usr/share/python-wheels"
OFFLINE = f"--no-index --no-cache-dir --find-links {WHEEL_DIR}"
PROBE_PYPROJECT = """\
[build-system]
requires = ["setuptools", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "molecule-probe"
version = "0.1"
"""


@pytest.fixture
def workdir(host):
    path = host.check_output("mktemp -d")
    yield path
    host.run(f"rm -rf {path}")


def test_a_new_venv_has_a_working_pip(host, workdir):
    host.check_output(f"python3 -m venv {workdir}/venv")
    assert host.check_output(f"{workdir}/venv/bin/pip --version").startswith("pip ")


def test_a_new_venv_builds_a_package_offline(host, workdir):
    venv, source = f"{workdir}/venv", f"{workdir}/molecule-probe"
    host.check_output(f"python3 -m venv {venv} && mkdir -p {source}/molecule_probe")
    host.check_output(f"printf %s {shlex.quote(PROBE_PYPROJECT)} > {source}/pyproject.toml")
    host.check_output(f"touch {source}/molecule_probe/__init__.py")
    host.check_output(f"{venv}/bin/pip install {OFFLINE} wheel")
    host.check_output(f"{venv}/bin/pip install {OFFLINE} --no-build-isolation {source}")
    host.check_output(f"cd / && {venv}/bin/python -c 'import molecule_probe'")
