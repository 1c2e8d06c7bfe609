"""The Ansible strategy of a bake: linear (Ansible's own) or mitogen (Mitogen for Ansible).

Mitogen runs each task in a Python interpreter it keeps in the build machine, instead of
copying and starting a module per task: a bake of the example's api-service took about a
quarter less time (docs/benchmarks.md). Images are the same either way; the strategy is a
fingerprint input all the same (a bake is what its tools did). When the installed Mitogen
cannot run with the installed ansible-core, the bake says so in one line and runs linear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from bakery.fingerprint import Input

STRATEGIES = ("linear", "mitogen")
# ansible-core minors that Mitogen 0.3 supports (its own minimum, 2.10) and that bakery has baked
# with it (the newest, 2.19); raise the maximum after a bake test run with a newer ansible-core.
MITOGEN_ANSIBLE_CORE = ((2, 10), (2, 19))
MITOGEN_STRATEGY = "mitogen_linear"  # Mitogen's drop-in for Ansible's linear strategy
NOT_INSTALLED = "none"
PACKER_PROXY_PROBLEM = "Mitogen does not work through Packer's SSH proxy (build.local_connection: packer-proxy)"


@dataclass(frozen=True)
class Strategy:
    name: str  # what the bake runs: linear or mitogen
    wanted: str  # what the configuration asks for
    mitogen: str = ""  # Mitogen's version, when name is mitogen
    warning: str = ""  # why the bake does not run what was asked for

    def fingerprint_input(self) -> Input | None:
        """A fingerprint input when the strategy is not Ansible's default (linear adds none, so
        fingerprints from before the setting existed stay the same)."""
        if self.name == "linear":
            return None
        return Input("tool", "ansible-strategy", f"{self.name} {self.mitogen}")

    def ansible_env(self) -> dict[str, str]:
        """Environment variables that make ansible-playbook use this strategy."""
        if self.name == "linear":
            return {}
        return {"ANSIBLE_STRATEGY_PLUGINS": str(mitogen_strategy_dir()), "ANSIBLE_STRATEGY": MITOGEN_STRATEGY}


def choose(wanted: str, ansible_core: str, mitogen: str, packer_proxy: bool = False) -> Strategy:
    """The strategy a bake runs, given the one asked for, the ansible-core version, the installed
    Mitogen's version (NOT_INSTALLED when there is none) and whether Ansible goes through Packer's
    SSH proxy (build.local_connection: packer-proxy), which Mitogen's connection times out on."""
    if wanted == "linear":
        return Strategy("linear", wanted)
    problem = PACKER_PROXY_PROBLEM if packer_proxy else mitogen_problem(ansible_core, mitogen)
    if problem:
        return Strategy("linear", wanted, warning=f"warning: ansible_strategy is mitogen, but {problem}; baking with"
                                                  " the linear strategy")
    return Strategy("mitogen", wanted, mitogen)


def for_installed(wanted: str) -> Strategy:
    """choose() with the installed ansible-core and Mitogen (role tests; a bake reads them as its tool versions)."""
    return choose(wanted, installed_version("ansible-core"), installed_version("mitogen"))


def installed_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return NOT_INSTALLED


def mitogen_problem(ansible_core: str, mitogen: str) -> str:
    """Why Mitogen cannot run the bake ('' when it can)."""
    if mitogen == NOT_INSTALLED:
        return "Mitogen is not installed (pip install mitogen)"
    low, high = MITOGEN_ANSIBLE_CORE
    core = minor_version(ansible_core)
    if core is None or not low <= core <= high:
        supported = f"{low[0]}.{low[1]}-{high[0]}.{high[1]}"
        return f"Mitogen {mitogen} does not support ansible-core {ansible_core} (supported: {supported})"
    return ""


def minor_version(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def mitogen_strategy_dir() -> Path:
    """Mitogen's strategy plugins, found without importing ansible_mitogen (which imports Ansible)."""
    spec = find_spec("ansible_mitogen")
    return Path(list(spec.submodule_search_locations)[0]) / "plugins" / "strategy"
