"""The Ansible strategy of a bake: which one runs, the fall back to linear, and its part in the fingerprint."""

from pathlib import Path

import pytest

from bakery import strategy
from bakery.config import load_project, parse_project
from bakery.errors import ConfigError
from bakery.fingerprint import combine
from bakery.inputs import ToolVersions, bake_strategy, resolve_service_playbook, service_inputs
from helpers import copy_fixture_project

TOOLS = ToolVersions("2.19.4", "1.6.6", "0.1.0", mitogen="0.3.54")


@pytest.fixture
def project_root(tmp_path) -> Path:
    return copy_fixture_project(tmp_path / "p")


def set_strategy(root: Path, build: str | None = None, tiny: str | None = None) -> None:
    text = (root / "bakery.yml").read_text()
    if build:
        text = text.replace("version: 1\n", f"version: 1\nbuild: {{ansible_strategy: {build}}}\n")
    if tiny:
        text = text.replace("    playbook: playbooks/tiny.yml\n", f"    playbook: playbooks/tiny.yml\n"
                                                                   f"    ansible_strategy: {tiny}\n")
    (root / "bakery.yml").write_text(text)


def fingerprint(root: Path, tools: ToolVersions = TOOLS) -> str:
    project = load_project(root)
    playbook = resolve_service_playbook(project, "tiny")
    return combine(service_inputs(project, "tiny", playbook, "sha256:base", tools, "local")).digest


def test_linear_is_the_default_and_sets_nothing(project_root):
    chosen = bake_strategy(load_project(project_root), "tiny", TOOLS, "local")
    assert (chosen.name, chosen.warning) == ("linear", "")
    assert chosen.ansible_env() == {} and chosen.fingerprint_input() is None


def test_mitogen_on_a_supported_ansible_core_runs_mitogen_linear():
    chosen = strategy.choose("mitogen", "2.19.4", "0.3.54")
    assert (chosen.name, chosen.mitogen, chosen.warning) == ("mitogen", "0.3.54", "")
    env = chosen.ansible_env()
    assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
    assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_linear.py").is_file()


@pytest.mark.parametrize("core, mitogen, reason", [
    ("2.21.0", "0.3.54", "does not support ansible-core 2.21.0 (supported: 2.10-2.19)"),
    ("2.9.27", "0.3.54", "does not support ansible-core 2.9.27"),
    ("2.19.4", strategy.NOT_INSTALLED, "Mitogen is not installed (pip install mitogen)"),
])
def test_mitogen_that_cannot_run_falls_back_to_linear_with_one_warning_line(core, mitogen, reason):
    chosen = strategy.choose("mitogen", core, mitogen)
    assert chosen.name == "linear" and chosen.wanted == "mitogen"
    assert reason in chosen.warning and chosen.warning.startswith("warning: ")
    assert "\n" not in chosen.warning and chosen.warning.endswith("baking with the linear strategy")
    assert chosen.ansible_env() == {}


def test_a_service_setting_overrides_the_project_setting(project_root):
    set_strategy(project_root, build="mitogen", tiny="linear")
    project = load_project(project_root)
    assert bake_strategy(project, "tiny", TOOLS, "local").name == "linear"
    assert bake_strategy(project, "web", TOOLS, "local").name == "mitogen"


def test_the_strategy_is_a_fingerprint_input(project_root):
    linear = fingerprint(project_root)
    set_strategy(project_root, tiny="mitogen")
    mitogen = fingerprint(project_root)
    assert mitogen != linear
    assert fingerprint(project_root, ToolVersions("2.19.4", "1.6.6", "0.1.0", mitogen="0.3.55")) != mitogen


def test_a_fallback_to_linear_fingerprints_as_linear(project_root):
    linear = fingerprint(project_root)
    set_strategy(project_root, tiny="mitogen")
    assert fingerprint(project_root, ToolVersions("2.19.4", "1.6.6", "0.1.0")) == linear  # no Mitogen installed


def test_mitogen_through_packers_ssh_proxy_falls_back_to_linear_and_fingerprints_as_linear(project_root):
    linear = fingerprint(project_root)
    set_strategy(project_root, build="mitogen")
    config = project_root / "bakery.yml"
    config.write_text(config.read_text().replace("{ansible_strategy: mitogen}",
                                                 "{ansible_strategy: mitogen, local_connection: packer-proxy}"))
    project = load_project(project_root)
    assert project.build.local_connection == "packer-proxy"
    chosen = bake_strategy(project, "tiny", TOOLS, "local")
    assert chosen.name == "linear" and "through Packer's SSH proxy" in chosen.warning
    assert chosen.warning.endswith("baking with the linear strategy") and "\n" not in chosen.warning
    assert fingerprint(project_root) == linear
    assert bake_strategy(project, "tiny", TOOLS, "aws").name == "mitogen"  # the setting is the local target's


def test_an_unknown_strategy_names_the_field_and_the_choices():
    text = ("version: 1\nbuild: {ansible_strategy: free}\nbases: {b: {packages: [python3]}}\n"
            "services: {s: {playbook: site.yml, base: b}}\n")
    with pytest.raises(ConfigError) as err:
        parse_project(text, source="bakery.yml")
    message = err.value.one_line()
    assert "build.ansible_strategy" in message and "'linear' or 'mitogen'" in message
