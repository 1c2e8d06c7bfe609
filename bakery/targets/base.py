"""The interface every build target (local, aws) implements."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bakery import catalog
from bakery.config import Project
from bakery.hygiene import HygieneResult
from bakery.rundir import RunDir
from bakery.systemd import BootResult, Shell

__all__ = ["BaseArtifact", "BootResult", "ImageRecord", "Instance", "SuiteHost", "Target"]


@dataclass(frozen=True)
class BaseArtifact:
    """What the bake starts from: a podman image (local) or an AMI (aws)."""

    name: str
    ref: str
    image_id: str
    ssh_user: str = ""  # aws: the user Packer and Ansible log in as (bases.<name>.ssh_username)


@dataclass(frozen=True)
class ImageRecord:
    """A baked image as the target knows it."""

    service: str
    ref: str  # local: localhost/bakery/<service>:<short>; aws: ami-...
    image_id: str
    fingerprint: str
    labels: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    size_bytes: int = 0


@dataclass(frozen=True)
class Instance:
    """A booted image: a name to clean up and a testinfra host spec to test it through."""

    name: str
    host_spec: str


@dataclass(frozen=True)
class SuiteHost:
    """How the image suite reaches an instance: a testinfra host spec, or the problem that prevented one."""

    spec: str
    via: str  # ssh | podman
    reason: str = ""  # why this transport
    problem: str = ""  # a finding about the image: the transport it needs does not work


class Target(ABC):
    name: str
    packer_source: str  # the build to run: -only=<packer_source>
    supports_layers: bool = False  # can bake role by role, each role's result cached as a layer
    hygiene_on_instance: bool = False  # the hygiene checks run from the booted instance (instance_hygiene)

    @classmethod
    def create(cls, project: Project | None = None, **options) -> Target:
        """The target for a project; options are target-specific (aws: region, profile, endpoint_url)."""
        return cls()

    def verdict(self, project: Project, image: ImageRecord, expected_key: catalog.ExpectedKey | None,
                trusted: list) -> catalog.VerdictState:
        """The image's signed verdict from bakery's local catalog (unless the target keeps its own),
        checked against the trusted keys and judged against the key of checks expected now."""
        return catalog.verdict_state(project.state_dir(), image.image_id, expected_key, trusted)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Inside the block, find_base, find_image and list_images may answer from one listing of
        the image store taken at its start (local: one `podman images`), so surveying 60 services
        costs one store query; for read-only surveys (plan, ci matrix, the up-to-date check of a
        build --all). Default: no snapshot, every call asks the store."""
        yield

    @abstractmethod
    def ensure_prerequisites(self) -> None:
        """Fail fast with a clear message when the target cannot work here."""

    @abstractmethod
    def prepare_base(self, project: Project, base_name: str, log) -> BaseArtifact:
        """Find or build the base the bake starts from."""

    @abstractmethod
    def find_base(self, project: Project, base_name: str) -> BaseArtifact | None:
        """The base if it exists already (never builds it)."""

    @abstractmethod
    def packer_variables(self, base: BaseArtifact) -> dict:
        """Target-specific Packer variables."""

    @abstractmethod
    def find_image(self, service: str, fingerprint: str) -> ImageRecord | None:
        """An existing image with exactly this fingerprint, if any."""

    def adoption_ref(self, service: str, fingerprint: str) -> str:
        """The reference an image published by another machine is pulled to (targets that pull images)."""
        raise NotImplementedError(f"the {self.name} target does not pull images from a registry")

    @abstractmethod
    def record_image(self, service: str, fingerprint: str, manifest_build: dict) -> ImageRecord:
        """Name/tag the artifact Packer produced and return it."""

    @abstractmethod
    def list_images(self, service: str | None = None) -> list[ImageRecord]:
        """Baked images, newest first."""

    @abstractmethod
    def boot_instance(self, image: ImageRecord, run: RunDir) -> contextlib.AbstractContextManager[Instance]:
        """Boot the image as an instance; it is removed when the block ends, whatever happens."""

    @abstractmethod
    def wait_until_booted(self, instance: Instance, timeout_s: float) -> BootResult:
        """Wait until systemd has settled with no queued jobs (or give up at the timeout)."""

    @abstractmethod
    def instance_shell(self, instance: Instance) -> Shell:
        """A function that runs a sh script as root on the instance and returns its stdout."""

    def image_root(self, image: ImageRecord) -> contextlib.AbstractContextManager[Path]:
        """The image's root filesystem before first boot, read-only, for the hygiene checks
        (targets with hygiene_on_instance examine the image from its instance instead)."""
        raise NotImplementedError(f"target {self.name} checks hygiene from the instance")

    def instance_hygiene(self, image: ImageRecord, instance: Instance, waivers: dict[str, str], secrets: list[str],
                         extra_roots: list[Path]) -> list[HygieneResult]:
        """The hygiene checks on the image as baked, examined from its booted instance (hygiene_on_instance)."""
        raise NotImplementedError(f"target {self.name} checks hygiene on image_root")

    @contextlib.contextmanager
    def suite_host(self, instance: Instance, run: RunDir, transport: str) -> Iterator[SuiteHost]:
        """How the image suite reaches the instance, for as long as the block runs (verify.transport
        chooses between SSH and podman exec where the target has both)."""
        yield SuiteHost(instance.host_spec, "ssh", "the instance is reached over SSH")

    def record_verdict(self, image: ImageRecord, verdict: catalog.Verdict) -> None:
        """Record the signed verdict where the target keeps it too (bakery's local catalog has it already)."""

    def quarantine(self, image: ImageRecord, state_dir: Path) -> str:
        """An image that leaked a secret: make it unusable by name (it stays for inspection) and
        say what was done; "" when the target has no such step."""
        return ""

    def layer_commit_argv(self, run: RunDir, ref: str, labels: dict[str, str]) -> list[str]:
        """The command that commits the bake in progress as the role layer ref (supports_layers only)."""
        raise NotImplementedError(f"target {self.name} has no role layers")

    @contextlib.contextmanager
    def build_session(self, run: RunDir, base: BaseArtifact) -> Iterator[dict[str, str]]:
        """Extra environment for Packer; on exit, removes whatever the run left."""
        yield {}
