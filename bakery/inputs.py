"""Everything that goes into a service image, as fingerprint inputs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from bakery import __version__, packer, seal, strategy
from bakery.config import Project
from bakery.fingerprint import ROLE_EXCLUDES, Fingerprint, Input, combine, tree_digest, tree_input, value_digest, values_input
from bakery.playbook import PlaybookInputs, resolve_playbook


@dataclass(frozen=True)
class ToolVersions:
    ansible_core: str
    packer: str
    bakery: str
    ansible_collections: str = "none"  # the `ansible` package version: its bundled collections
    mitogen: str = strategy.NOT_INSTALLED  # Mitogen's version (build.ansible_strategy: mitogen)

    @classmethod
    def detect(cls) -> ToolVersions:
        return cls(package_version("ansible-core"), packer.version_string(), __version__, _optional_version("ansible"),
                   _optional_version("mitogen"))


def _optional_version(name: str) -> str:
    try:
        return package_version(name)
    except PackageNotFoundError:
        return "none"


def bake_strategy(project: Project, service_name: str, tools: ToolVersions) -> strategy.Strategy:
    """The Ansible strategy the service's bakes run (the one asked for, or linear when Mitogen cannot run)."""
    return strategy.choose(project.ansible_strategy(service_name), tools.ansible_core, tools.mitogen)


def resolve_service_playbook(project: Project, service_name: str) -> PlaybookInputs:
    service = project.service(service_name)
    return resolve_playbook(project.path(service.playbook), project.path("roles"))


def service_inputs(
    project: Project,
    service_name: str,
    playbook: PlaybookInputs,
    base_image_id: str,
    tools: ToolVersions,
    target: str,
) -> list[Input]:
    service = project.service(service_name)
    inputs = [
        Input("base", service.base, base_image_id),
        tree_input("playbook", service.playbook, playbook.playbook),
        values_input("variables", "service", service.variables),
        Input("template", project.build.packer_template or "bundled", _template_digest(project)),
        Input("tool", "ansible-core", tools.ansible_core),
        Input("tool", "packer", tools.packer),
        Input("tool", "bakery", tools.bakery),
        Input("tool", "ansible", tools.ansible_collections),
        Input("target", "name", target),
    ]
    inputs += [tree_input("role", name, path, ROLE_EXCLUDES) for name, path in zip(playbook.roles, playbook.role_dirs)]
    inputs += [tree_input("vars", d.name, d) for d in playbook.vars_dirs]
    inputs += [tree_input("vars_file", os.path.relpath(f, playbook.playbook.parent), f) for f in playbook.vars_files]
    if service.app is not None:
        inputs.append(tree_input("app", service.app, project.path(service.app)))
    if service.seal:
        inputs.append(seal.seal_input())
    strategy_input = bake_strategy(project, service_name, tools).fingerprint_input()
    if strategy_input is not None:
        inputs.append(strategy_input)
    if service.templated_variables:
        inputs.append(values_input("variables", "templated", dict.fromkeys(sorted(service.templated_variables), True)))
    return inputs


def service_fingerprint(project: Project, service_name: str, base_image_id: str, target: str) -> Fingerprint:
    playbook = resolve_service_playbook(project, service_name)
    return combine(service_inputs(project, service_name, playbook, base_image_id, ToolVersions.detect(), target))


def _template_digest(project: Project) -> str:
    files = packer.template_files(project.template_dir())
    return value_digest({f.name: tree_digest(f) for f in files})
