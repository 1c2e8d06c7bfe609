"""bakery.yml: typed project configuration, validated once, with field-level errors."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from bakery import yamltext
from bakery.errors import ConfigError

CONFIG_NAME = "bakery.yml"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
TARGET_NAMES = ("local", "aws")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmiFilter(Strict):
    """How the aws target finds its base AMI (Packer's source_ami_filter)."""

    name: str = Field(description="AMI name pattern, e.g. debian-12-amd64-*")
    owners: list[str] = Field(min_length=1, description="AMI owner account ids or aliases")
    virtualization_type: str = Field("hvm", description="AMI virtualization type")
    root_device_type: str = Field("ebs", description="AMI root device type")
    most_recent: bool = Field(True, description="take the newest match; with false, several matches are an error")


class Base(Strict):
    """A base image bootstrapped by mmdebstrap (local) or found by filter (aws)."""

    suite: str = Field("bookworm", description="local: Debian suite to bootstrap")
    variant: Literal["minbase", "essential", "apt", "required", "important", "standard"] = Field(
        "minbase", description="local: mmdebstrap variant")
    packages: list[str] = Field(min_length=1, description="Debian packages in the base rootfs")
    mirror: str | None = Field(None, description="apt mirror URL; default: mmdebstrap's (deb.debian.org with updates and security)")
    source_ami_filter: AmiFilter | None = Field(None, description="aws target: the base AMI")
    ssh_username: str = Field("admin", description="aws target: login user of the base AMI")


class AwsSettings(Strict):
    """AWS settings; environment variables and command-line flags override them."""

    region: str = Field("us-east-1", description="overridden by AWS_REGION / --region")
    profile: str | None = Field(None, description="overridden by AWS_PROFILE / --profile")
    endpoint_url: str | None = Field(None, description="EC2/SSM endpoint, e.g. a moto or LocalStack URL;"
                                     " overridden by BAKERY_AWS_ENDPOINT_URL / --endpoint-url")
    instance_type: str = Field("t3.small", description="build and verification instance type")
    kms_key_id: str | None = Field(None, description="encrypt AMI snapshots with this KMS key")
    copy_regions: list[str] = Field([], description="copy each AMI to these regions too")
    ssh_endpoint_command: str | None = Field(
        None, description="seam: command printing host:port to reach an instance over SSH; placeholders"
        " {phase} {instance_id} {ami_id} {run_id} {key_file} {user}; default: the instance's address from EC2, port 22"
        " (BAKERY_AWS_SSH_ENDPOINT_COMMAND)")
    build_ssh_endpoint_command: str | None = Field(
        None, description="seam: command printing host:port that Packer connects to instead of the build instance;"
        " placeholders {phase} {run_id} {ami_id} (the base AMI) {key_file} {user}"
        " (BAKERY_AWS_BUILD_SSH_ENDPOINT_COMMAND)")
    ssh_endpoint_release_command: str | None = Field(
        None, description="seam: run when a build or verification ends, whatever happened;"
        " {ami_id} is the AMI the build made, or empty (BAKERY_AWS_SSH_ENDPOINT_RELEASE_COMMAND)")
    image_mount_command: str | None = Field(
        None, description="seam: command that mounts the AMI's volume {volume_id} (attached to {instance_id} as"
        " {device}) read-only on the verification instance and prints the mount point; default: bakery mounts it"
        " over SSH (BAKERY_AWS_IMAGE_MOUNT_COMMAND)")
    ssh_source_cidr: str | None = Field(
        None, description="address range allowed to SSH to build/verify instances; default: the caller's /32;"
                     " a /0 range is rejected (BAKERY_AWS_SSH_SOURCE_CIDR)")

    @model_validator(mode="after")
    def _no_open_ssh(self) -> AwsSettings:
        if self.ssh_source_cidr is not None and self.ssh_source_cidr.endswith("/0"):
            raise ValueError(f"ssh_source_cidr {self.ssh_source_cidr} opens SSH to the world; use the caller's /32")
        return self


class Waiver(Strict):
    """A built-in hygiene check a service accepts failing, and why."""

    check: str = Field(description="name of the built-in hygiene check to waive")
    reason: str = Field(min_length=10, description="why it is acceptable; shown in the report")

    @model_validator(mode="after")
    def _known_check(self) -> Waiver:
        from bakery.hygiene import WAIVABLE_CHECKS

        if self.check not in WAIVABLE_CHECKS:
            raise ValueError(f"hygiene check '{self.check}' cannot be waived (waivable: {', '.join(WAIVABLE_CHECKS)})")
        return self


class CveWaiver(Strict):
    cve: str = Field(pattern=r"^CVE-[0-9]{4}-[0-9]+$", description="the CVE id to waive, e.g. CVE-2024-1234")
    reason: str = Field(min_length=10, description="why it is acceptable; shown in the report")
    until: datetime.date = Field(description="last day the waiver holds (YYYY-MM-DD); after it the CVE fails again")


class Vulnerabilities(Strict):
    """The offline vulnerability gate: the image's packages against a Debian security tracker feed."""

    feed: str | None = Field(None, description="the security tracker's JSON (tracker/data/json) as a file"
                             " (relative to the project) or an http(s) URL; none: the check is skipped")
    fail_on: Literal["low", "medium", "high"] = Field("high", description="lowest urgency that fails the image")
    waivers: list[CveWaiver] = []


class Verify(Strict):
    """services.<name>.verify: how the image is verified."""

    suite: str | None = Field(None, description="testinfra suite; default tests/images/<service>")
    boot_timeout_s: float = Field(60.0, gt=0, le=900, description="how long systemd may take to finish starting")
    settle_s: float = Field(
        2.0, ge=0, le=300, description="after boot, how long the unit states must hold before the image is judged"
        " (a unit that fails or restarts in that window fails the image)")
    transport: Literal["auto", "ssh", "podman"] = Field(
        "auto", description="how the suite reaches a local instance: auto (SSH when the image has sshd and sudo, and"
        " then a login that does not work fails the image; podman exec otherwise), ssh, or podman (for images not"
        " meant to run sshd)")
    waivers: list[Waiver] = Field([], description="hygiene checks this service waives, each with its reason")
    vulnerabilities: Vulnerabilities = Field(Vulnerabilities(), description="the offline vulnerability gate")


class DeploySettings(Strict):
    """services.<name>.deploy: what a healthy replica looks like."""

    port: int = Field(80, gt=0, lt=65536, description="port the instance serves on (health checks; local replicas"
                      " publish it on a loopback port)")
    health_path: str = Field("/healthz", description="HTTP path that answers 200 when a replica is healthy")
    health_timeout_s: float = Field(90.0, gt=0, le=1800, description="how long a new replica may take to get healthy")
    endpoints: dict[str, int] = Field(
        {}, description="local target: the fixed 127.0.0.1 port of each environment's load balancer (HAProxy),"
        " e.g. {dev: 8081, staging: 8082}; an environment without one has no balancer")

    @model_validator(mode="after")
    def _ports_in_range(self) -> DeploySettings:
        for env, port in self.endpoints.items():
            if not 1024 <= port <= 65535:
                raise ValueError(f"endpoints.{env}: port {port} is outside 1024-65535 (pick an unprivileged port)")
        return self
    runtime_paths: list[str] = Field(
        [], description="paths (or globs) a replica changes at runtime, e.g. /var/lib/<service state>: bakery drift"
        " ignores them, besides /run, /tmp, /var/log, /var/lib/systemd and first-boot files")


class Service(Strict):
    """A service: a playbook baked onto a base."""

    playbook: str = Field(description="playbook applying the service's roles; must exist")
    base: str = Field(description="name of an entry under bases")
    variables: dict[str, Any] = Field({}, description="extra vars passed to the playbook; part of the fingerprint")
    app: str | None = Field(None, description="app source directory or artifact file; must exist; passed as"
                                 " bakery_app_src; part of the fingerprint")
    secrets: dict[str, str] = Field(
        {}, description="extra vars read from environment variables at build time: {var: ENV_NAME}; never"
        " written to the run dir, and verification fails if a value shows up in the image or the logs")
    templated_variables: list[str] = Field(
        [], description="variables Ansible may template ({{ ... }} in their values is evaluated); every other"
        " variable and every secret reaches Ansible as an unsafe value, taken verbatim")
    verify: Verify = Field(Verify(), description="how the image is verified")
    deploy: DeploySettings = Field(DeploySettings(), description="how replicas are health-checked when deployed")
    ansible_strategy: Literal["linear", "mitogen"] | None = Field(
        None, description="Ansible strategy of this service's bakes; default: build.ansible_strategy")
    seal: bool = Field(True, description="seal the image after the last role (host keys, machine id, apt lists, "
                                         "histories, logs; first-boot host keys); false: the hygiene checks decide")

    @model_validator(mode="after")
    def _templated_are_variables(self) -> Service:
        unknown = [name for name in self.templated_variables if name not in self.variables]
        if unknown:
            raise ValueError(f"templated_variables: {', '.join(unknown)} not among the variables"
                             " (secrets are never templated)")
        return self


class Environment(Strict):
    """An environment images are promoted through and deployed to."""

    after: str | None = Field(None, description="environment an image must reach first")
    approval: bool = Field(False, description="deploys (and on aws promotions and destroys) need --approve")
    tfvars: str | None = Field(None, description="Terraform variables file a local deploy reads sizes from"
                                 " (instance_type, min_size, max_size, desired_capacity); default"
                                 " terraform/envs/<env>/terraform.tfvars; aws deploys always use terraform/envs/<env>/")
    services: list[str] | None = Field(None, description="services `bakery env up/status/destroy/recreate` act on;"
                                       " default: every service in bakery.yml")


class BuildSettings(Strict):
    """How images are built."""

    target: Literal["local", "aws"] = Field("local", description="target used when --target is not given")
    packer_template: str | None = Field(
        None, description="directory holding your own *.pkr.hcl files; default: the template bundled with bakery")
    local_connection: Literal["auto", "packer-proxy"] = Field(
        "auto", description="how Ansible reaches the local build container: auto (its sshd over podman exec when "
                            "the base has /usr/sbin/sshd, else Packer's SSH proxy) or packer-proxy (always the proxy)")
    cache: Literal["local", "registry"] = Field(
        "local", description="where role layers are reused from: local (this machine's store) or registry (also"
        " the role layers `bakery publish` pushed to the registry, when signed by a trusted key and baked with the"
        " signing key this machine uses; needs registry.url, BAKERY_REGISTRY or --registry); BAKERY_BUILD_CACHE"
        " overrides it")
    ansible_strategy: Literal["linear", "mitogen"] = Field(
        "linear", description="Ansible strategy of bakes and role tests: linear (Ansible's own) or mitogen (Mitogen"
        " for Ansible: fewer round trips per task; on an ansible-core it does not support, or through Packer's SSH"
        " proxy (local_connection: packer-proxy), bakes run linear and say so); a fingerprint input")


class Trust(Strict):
    """Keys whose verdicts count here."""

    keys: list[str] = Field([], description="public keys (PEM files, as `bakery keys export` prints them) whose"
                            " signed verdicts this project accepts, besides this machine's own key")


class RoleTests(Strict):
    vendored: list[str] = Field([], description="roles from elsewhere that `bakery test-roles` skips unless named"
                                               " (dotted names like geerlingguy.redis are skipped anyway)")


class RegistrySettings(Strict):
    """An OCI registry (distribution v2) that images, bases and attestations travel through."""

    url: str = Field(pattern=r"^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$",
                     description="HOST[:PORT]/PATH: images go to URL/SERVICE, bases to URL/bakery-base/NAME;"
                     " overridden by BAKERY_REGISTRY / --registry. Credentials: the containers auth file (podman login)")
    tls_verify: bool = Field(True, description="check the registry's TLS certificate (false: also allows plain HTTP)")
    cert_dir: str | None = Field(None, description="directory of extra CA certificates (*.crt) for the registry")


class Signing(Strict):
    key: str | None = Field(None, description="private Ed25519 key (PEM) that signs the attestations `bakery publish`"
                            " pushes; BAKERY_SIGNING_KEY overrides it (and also signs verdicts); default: this"
                            " machine's key")


class Project(Strict):
    """bakery.yml: the project configuration."""

    version: Literal[1] = Field(1, description="format version; only 1 is accepted")
    build: BuildSettings = Field(BuildSettings(), description="build settings")
    aws: AwsSettings = Field(AwsSettings(), description="settings of the aws target")
    bases: dict[str, Base] = Field(min_length=1, description="base images, by name")
    services: dict[str, Service] = Field(min_length=1, description="services to bake, by name")
    environments: dict[str, Environment] = Field({}, description="environments, by name, in promotion order")
    trust: Trust = Field(Trust(), description="whose signed verdicts this project accepts")
    role_tests: RoleTests = Field(RoleTests(), description="how `bakery test-roles` treats roles from elsewhere")
    registry: RegistrySettings | None = Field(None, description="the OCI registry images, bases and attestations"
                                              " travel through (none: images stay on this machine)")
    signing: Signing = Field(Signing(), description="the key that signs what `bakery publish` pushes")
    _root: Path = PrivateAttr(default=Path("."))

    @model_validator(mode="after")
    def _check_references(self) -> Project:
        for name in [*self.bases, *self.services, *self.environments]:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"name '{name}' must match {NAME_PATTERN}")
        for name, service in self.services.items():
            if service.base not in self.bases:
                raise ValueError(
                    f"services.{name}.base: unknown base '{service.base}'"
                    f" (defined: {', '.join(self.bases)})"
                )
        for name, env in self.environments.items():
            if env.after is not None and env.after not in self.environments:
                raise ValueError(f"environments.{name}.after: unknown environment '{env.after}'")
            for service in env.services or []:
                if service not in self.services:
                    raise ValueError(f"environments.{name}.services: unknown service '{service}'"
                                     f" (defined: {', '.join(self.services)})")
        self._check_endpoints()
        return self

    def _check_endpoints(self) -> None:
        """Each endpoint names a known environment, and no two endpoints share a port."""
        taken: dict[int, str] = {}
        for name, service in self.services.items():
            for env, port in service.deploy.endpoints.items():
                where = f"services.{name}.deploy.endpoints.{env}"
                if env not in self.environments:
                    raise ValueError(f"{where}: unknown environment '{env}' (defined: {', '.join(self.environments)})")
                if port in taken:
                    raise ValueError(f"{where}: port {port} is already the endpoint of {taken[port]}; give each its own port")
                taken[port] = where

    @property
    def root(self) -> Path:
        return self._root

    def service(self, name: str) -> Service:
        if name not in self.services:
            known = ", ".join(sorted(self.services))
            raise ConfigError(f"unknown service '{name}'", hint=f"services in {CONFIG_NAME}: {known}")
        return self.services[name]

    def environment_services(self, env: str) -> list[str]:
        """The services of an environment as a whole (environments.<env>.services, default all)."""
        self.tfvars_path(env)  # the unknown-environment error
        listed = self.environments[env].services
        return list(self.services) if listed is None else list(listed)

    def ansible_strategy(self, service: str) -> str:
        """The Ansible strategy the service asks for: its own, else build.ansible_strategy."""
        return self.service(service).ansible_strategy or self.build.ansible_strategy

    def base(self, name: str) -> Base:
        if name not in self.bases:
            raise ConfigError(f"unknown base '{name}'", hint=f"bases in {CONFIG_NAME}: {', '.join(self.bases)}")
        return self.bases[name]

    def path(self, relative: str) -> Path:
        return (self._root / relative).resolve()

    def suite_path(self, service: str) -> Path:
        return self.path(self.service(service).verify.suite or f"tests/images/{service}")

    def tfvars_path(self, env: str) -> Path:
        if env not in self.environments:
            known = ", ".join(self.environments) or "none"
            raise ConfigError(f"unknown environment '{env}'", hint=f"environments in {CONFIG_NAME}: {known}")
        return self.path(self.environments[env].tfvars or f"terraform/envs/{env}/terraform.tfvars")

    def template_dir(self) -> Path:
        if self.build.packer_template is None:
            from bakery.packer import bundled_template

            return bundled_template()
        return self.path(self.build.packer_template)

    def trusted_key_paths(self) -> list[Path]:
        return [self.path(p) for p in self.trust.keys]

    def state_dir(self) -> Path:
        return self._root / ".bakery"

    @property
    def identity(self) -> str:
        """This project on this machine (its resolved root), as images label it: bakery.project."""
        import hashlib

        return hashlib.sha256(str(self._root.resolve()).encode()).hexdigest()[:16]


def find_root(start: Path) -> Path:
    """The nearest directory at or above start that holds bakery.yml."""
    for candidate in [start, *start.resolve().parents]:
        if (candidate / CONFIG_NAME).is_file():
            return candidate.resolve()
    raise ConfigError(
        f"no {CONFIG_NAME} found in {start.resolve()} or its parents",
        hint="run bakery inside a project or pass --project DIR",
    )


def load_project(start: Path) -> Project:
    root = find_root(start)
    path = root / CONFIG_NAME
    project = parse_project(path.read_text(), source=str(path))
    project.__pydantic_private__["_root"] = root  # frozen model: the root is set once, here
    check_paths(project, source=str(path))
    return project


def parse_project(text: str, *, source: str) -> Project:
    try:
        data = yamltext.safe_load_unique(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a mapping with bases, services, environments")
    try:
        return Project.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source)) from None


def describe_validation_error(exc: ValidationError, source: str) -> str:
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")  # typos explain the rest
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown key; {_allowed_keys_hint(first['loc'])}"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{source}: {field}: {message}{more}"


def _allowed_keys_hint(loc: tuple) -> str:
    model: type[BaseModel] = Project
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None:
            continue
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))[-1]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            model = inner
    return "allowed keys: " + ", ".join(model.model_fields)


def check_paths(project: Project, *, source: str) -> None:
    """Every path the config names must exist inside the project (symlinks resolved); report the first that does not."""
    for name, service in project.services.items():
        _require(project, service.playbook, f"services.{name}.playbook", source)
        if service.app is not None:
            _require(project, service.app, f"services.{name}.app", source)
        if service.verify.suite is not None:
            _inside(project, service.verify.suite, f"services.{name}.verify.suite", source)
    for name, env in project.environments.items():
        if env.tfvars is not None:
            _inside(project, env.tfvars, f"environments.{name}.tfvars", source)
    if project.build.packer_template is not None:
        _require(project, project.build.packer_template, "build.packer_template", source)


def _require(project: Project, relative: str, field: str, source: str) -> None:
    _inside(project, relative, field, source)
    if not project.path(relative).exists():
        raise ConfigError(f"{source}: {field}: '{relative}' does not exist", hint="fix the path or create it")


def _inside(project: Project, relative: str, field: str, source: str) -> None:
    """A path of the config must stay inside the project once symlinks are resolved (`../../etc/ssh` does not)."""
    if not project.path(relative).is_relative_to(project.root.resolve()):
        raise ConfigError(f"{source}: {field}: '{relative}' resolves to {project.path(relative)}, outside the project",
                          hint=f"use a path inside {project.root}")


def json_schema() -> dict:
    return Project.model_json_schema()
