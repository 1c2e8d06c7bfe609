"""Integration tests drive real podman, Packer, Ansible and mmdebstrap."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import container_ids, copy_fixture_project


@pytest.fixture(scope="session")
def shared_project(tmp_path_factory) -> Path:
    """One fixture project for the session, so the base and the tiny image are built once."""
    return copy_fixture_project(tmp_path_factory.mktemp("shared") / "project")


@pytest.fixture(autouse=True)
def no_container_left_behind():
    before = container_ids()
    yield
    left = container_ids() - before
    assert not left, f"test left containers behind: {left}"
