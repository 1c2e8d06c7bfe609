"""Secrets passed to a bake, and the canary that proves they do not leak.

Every bake gets a random canary secret as an extra var (`bakery_canary`). Verification fails
if the canary, or any of the service's secrets, shows up in the image or the build's run dir.
Canaries are kept per machine, like the podman store that holds the images: an image baked from
another checkout on this machine is checked for its own canary. An image whose canary is not
here (another machine, a wiped state dir) cannot be shown clean, so it fails the check.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bakery.config import Project
from bakery.errors import ConfigError

CANARY_VAR = "bakery_canary"
RUN_LABEL = "bakery.run-id"


def canary_dir() -> Path:
    """$XDG_STATE_HOME/bakery/canaries (default ~/.local/state/bakery/canaries)."""
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "bakery" / "canaries"


def _canary_path(run_id: str) -> Path:
    return canary_dir() / run_id


def new_canary(run_id: str) -> str:
    """A fresh canary for a bake, kept (mode 0600) outside the run dir so verification can look for it."""
    value = f"bakery-canary-{secrets.token_hex(16)}"
    path = _canary_path(run_id)
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


def bake_runs(labels: dict[str, str]) -> list[str]:
    """The runs that baked an image: bakery.run-id, and bakery.run-id.<NN> of each role layer."""
    keys = [key for key in labels if key == RUN_LABEL or key.startswith(RUN_LABEL + ".")]
    return sorted({labels[key] for key in keys if labels[key]})


def missing_canaries(run_ids: list[str]) -> list[str]:
    """Runs whose canary is not on this machine."""
    return [run_id for run_id in run_ids if not _canary_path(run_id).is_file()]


def all_here(labels: dict[str, str]) -> bool:
    """Whether the canary of every bake run of an image (or role layer) is on this machine;
    one that is not here makes verification fail, so such an image is not worth reusing."""
    return not missing_canaries(bake_runs(labels))


def secrets_for(project: Project, service: str, run_ids: str | list[str]) -> list[str]:
    """Values that must appear nowhere: the bakes' canaries and the secrets that are set now."""
    ids = [run_ids] if isinstance(run_ids, str) else run_ids
    found = [_canary_path(r).read_text().strip() for r in ids if r and _canary_path(r).is_file()]
    for env_name in project.service(service).secrets.values():
        if os.environ.get(env_name):
            found.append(os.environ[env_name])
    return found
