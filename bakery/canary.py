"""Secrets passed to a bake, and the canary that proves they do not leak.

Every bake gets a random canary secret as an extra var (`bakery_canary`). Verification fails
if the canary, or any of the service's secrets, shows up in the image or the build's run dir.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bakery.config import Project
from bakery.errors import ConfigError

CANARY_VAR = "bakery_canary"


def _canary_path(project: Project, run_id: str) -> Path:
    return project.state_dir() / "canaries" / run_id


def new_canary(project: Project, run_id: str) -> str:
    """A fresh canary for a bake, kept (mode 0600) outside the run dir so verification can look for it."""
    value = f"bakery-canary-{secrets.token_hex(16)}"
    path = _canary_path(project, run_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def secret_vars(project: Project, service: str) -> dict[str, str]:
    """The service's secret extra vars, read from the environment; a missing one is a config error."""
    values = {}
    for var, env_name in project.service(service).secrets.items():
        if not os.environ.get(env_name):
            raise ConfigError(
                f"secret '{var}' of service '{service}' needs environment variable {env_name}",
                hint=f"export {env_name}=... before baking",
            )
        values[var] = os.environ[env_name]
    return values


def secrets_for(project: Project, service: str, run_id: str) -> list[str]:
    """Values that must appear nowhere: the bake's canary and the secrets that are set now."""
    found = []
    path = _canary_path(project, run_id) if run_id else None
    if path is not None and path.exists():
        found.append(path.read_text().strip())
    for env_name in project.service(service).secrets.values():
        if os.environ.get(env_name):
            found.append(os.environ[env_name])
    return found
