"""`bakery doctor` on this machine, and a clear error when podman is dead."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakery.errors import ExitStatus
from bakery.init import init_project

pytestmark = pytest.mark.integration


def test_doctor_reports_every_prerequisite_ok(cli):
    result = cli("doctor", "--json")
    assert result.rc == 0, result.out
    checks = {c["name"]: c for c in result.json()}
    assert set(checks) == {"podman", "runc", "packer", "python", "mmdebstrap", "ssh", "skopeo", "haproxy", "disk", "orphans"}  # cwd: the repo
    assert all(c["ok"] for c in checks.values())
    assert "runtime runc" in checks["podman"]["detail"]


@pytest.fixture
def dead_podman(tmp_path, monkeypatch):
    """A podman on PATH that fails like one whose service is broken."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "podman"
    fake.write_text("#!/bin/sh\necho 'Error: cannot set up the OCI runtime: runc: not responding' >&2\nexit 125\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_dead_podman_is_one_clear_line_before_anything_starts(cli, fixture_project, dead_podman):
    result = cli("-C", fixture_project, "build", "tiny")
    assert result.rc == ExitStatus.PREREQ
    lines = result.err.strip().splitlines()
    assert lines == ["bakery: error: podman is not working: Error: cannot set up the OCI runtime: runc: not "
                     "responding (run bakery doctor)"]
    assert not (fixture_project / ".bakery" / "runs").exists()


def test_doctor_says_how_to_fix_a_dead_podman(cli, dead_podman):
    result = cli("doctor")
    assert result.rc == ExitStatus.PREREQ
    assert "FAIL podman" in result.out and "->" in result.out


@pytest.fixture
def path_without_packer_and_mmdebstrap(tmp_path) -> str:
    """A PATH of links to everything on this machine's PATH but packer and mmdebstrap."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        for entry in sorted(Path(directory).glob("*")) if Path(directory).is_dir() else []:
            link = bin_dir / entry.name
            if entry.name not in ("packer", "mmdebstrap") and not link.exists() and not link.is_symlink():
                link.symlink_to(entry)
    return str(bin_dir)


def test_doctor_names_each_missing_tool_with_the_package_to_install(tmp_path, path_without_packer_and_mmdebstrap):
    project = tmp_path / "project"
    init_project(project)
    env = {**os.environ, "PATH": path_without_packer_and_mmdebstrap}

    def bakery(*args):
        return subprocess.run([sys.executable, "-m", "bakery", *args], cwd=project, env=env, capture_output=True, text=True)

    doctor = bakery("doctor")
    assert doctor.returncode == ExitStatus.PREREQ
    failed = {line.split()[1]: line for line in doctor.stdout.splitlines() if line.startswith("FAIL")}
    assert sorted(failed) == ["mmdebstrap", "packer"], doctor.stdout
    for tool in failed:
        assert failed[tool].endswith(f"not on PATH  -> sudo apt-get install {tool} (in bakery's repository,"
                                     " ./run true installs everything)")
    # a command that needs one says which, and where to look (an installed bakery has no ./run)
    build = bakery("build", "app")
    assert build.returncode == ExitStatus.PREREQ
    assert build.stderr.strip().splitlines() == ["bakery: error: 'packer' is not installed or not on PATH"
                                              " (run bakery doctor)"]
