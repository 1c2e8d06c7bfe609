"""Fixtures shared by every test: fixture projects and an in-process CLI runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import CliResult, copy_fixture_project  # noqa: E402


@pytest.fixture
def cli(capsys):
    """Run bakery's CLI in-process (the real main(), its error boundary included)."""
    from bakery.cli import main

    def invoke(*args) -> CliResult:
        capsys.readouterr()
        rc = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(int(rc), captured.out, captured.err)

    return invoke


@pytest.fixture
def fixture_project(tmp_path) -> Path:
    return copy_fixture_project(tmp_path / "project")
