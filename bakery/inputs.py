"""Everything that goes into a service image, as fingerprint inputs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
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


def bake_strategy(project: Project, service_name: str, tools: ToolVersions, target: str) -> strategy.Strategy:
    """The Ansible strategy the service's bakes run (the one asked for, or linear when Mitogen cannot run)."""
    packer_proxy = target == "local" and project.build.local_connection == "packer-proxy"
    return strategy.choose(project.ansible_strategy(service_name), tools.ansible_core, tools.mitogen, packer_proxy)


def resolve_service_playbook(project: Project, service_name: str) -> PlaybookInputs:
    service = project.service(service_name)
    return resolve_playbook(project.path(service.playbook), project.path("roles"))


@dataclass
class Hashes:
    """Digests computed once per run: a role, playbook or template shared by 60 services is read
    and hashed once, the tool versions are probed once. Lives as long as one command: files
    edited during a run are not noticed by that run, as for any other input it read."""

    _trees: dict[tuple, Input] = field(default_factory=dict)
    _playbooks: dict[str, PlaybookInputs] = field(default_factory=dict)
    _templates: dict[str, str] = field(default_factory=dict)
    _tools: ToolVersions | None = None

    def tools(self) -> ToolVersions:
        if self._tools is None:
            self._tools = ToolVersions.detect()
        return self._tools

    def tree_input(self, kind: str, name: str, path, exclude: tuple[str, ...] = ()) -> Input:
        key = (kind, name, str(path), exclude)
        if key not in self._trees:
            self._trees[key] = tree_input(kind, name, path, exclude)
        return self._trees[key]

    def playbook(self, project: Project, service_name: str) -> PlaybookInputs:
        path = str(project.path(project.service(service_name).playbook))
        if path not in self._playbooks:
            self._playbooks[path] = resolve_service_playbook(project, service_name)
        return self._playbooks[path]

    def template_digest(self, project: Project) -> str:
        key = str(project.template_dir())
        if key not in self._templates:
            self._templates[key] = _template_digest(project)
        return self._templates[key]


def service_inputs(
    project: Project,
    service_name: str,
    playbook: PlaybookInputs,
    base_image_id: str,
    tools: ToolVersions,
    target: str,
    hashes: Hashes | None = None,
) -> list[Input]:
    hashes = hashes or Hashes()
    tree = hashes.tree_input
    service = project.service(service_name)
    inputs = [
        Input("base", service.base, base_image_id),
        tree("playbook", service.playbook, playbook.playbook),
        values_input("variables", "service", service.variables),
        Input("template", project.build.packer_template or "bundled", hashes.template_digest(project)),
        Input("tool", "ansible-core", tools.ansible_core),
        Input("tool", "packer", tools.packer),
        Input("tool", "bakery", tools.bakery),
        Input("tool", "ansible", tools.ansible_collections),
        Input("target", "name", target),
    ]
    inputs += [tree("role", name, path, ROLE_EXCLUDES) for name, path in zip(playbook.roles, playbook.role_dirs)]
    inputs += [tree("vars", d.name, d) for d in playbook.vars_dirs]
    inputs += [tree("vars_file", os.path.relpath(f, playbook.playbook.parent), f) for f in playbook.vars_files]
    if service.app is not None:
        inputs.append(tree("app", service.app, project.path(service.app)))
    if service.seal:
        inputs.append(seal.seal_input())
    strategy_input = bake_strategy(project, service_name, tools, target).fingerprint_input()
    if strategy_input is not None:
        inputs.append(strategy_input)
    if service.templated_variables:
        inputs.append(values_input("variables", "templated", dict.fromkeys(sorted(service.templated_variables), True)))
    return inputs


def service_fingerprint(project: Project, service_name: str, base_image_id: str, target: str,
                        hashes: Hashes | None = None) -> Fingerprint:
    hashes = hashes or Hashes()
    playbook = hashes.playbook(project, service_name)
    return combine(service_inputs(project, service_name, playbook, base_image_id, hashes.tools(), target, hashes))


def _template_digest(project: Project) -> str:
    files = packer.template_files(project.template_dir())
    return value_digest({f.name: tree_digest(f) for f in files})
