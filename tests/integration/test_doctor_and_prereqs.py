"""`bakery doctor` on this machine, and a clear error when podman is dead."""

import os

import pytest

from bakery.errors import ExitStatus

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
                     "responding (run ./run bakery doctor)"]
    assert not (fixture_project / ".bakery" / "runs").exists()


def test_doctor_says_how_to_fix_a_dead_podman(cli, dead_podman):
    result = cli("doctor")
    assert result.rc == ExitStatus.PREREQ
    assert "FAIL podman" in result.out and "->" in result.out
