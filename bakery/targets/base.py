"""The interface every build target (local, aws) implements."""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bakery.config import Project
from bakery.hygiene import HygieneResult
from bakery.rundir import RunDir


@dataclass(frozen=True)
class BaseArtifact:
    """What the bake starts from: a podman image (local) or an AMI (aws)."""

    name: str
    ref: str
    image_id: str


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
class BootResult:
    state: str  # systemd's is-system-running answer, or "timeout"
    seconds: float
    failed_units: tuple[str, ...] = ()
    pending_units: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "running"

    def describe(self) -> str:
        if self.state == "degraded":
            return f"systemd is degraded; failed units: {', '.join(self.failed_units) or 'unknown'}"
        if self.state == "timeout":
            return f"systemd did not settle in {self.seconds:.0f} s; still starting: {', '.join(self.pending_units) or 'unknown'}"
        return f"systemd is {self.state}"


SETTLED_STATES = ("running", "degraded", "maintenance", "stopping")


def wait_for_systemd(systemctl: Callable[..., str], timeout_s: float, started: float, poll_s: float = 0.2) -> BootResult:
    """Poll `systemctl is-system-running` until it settles or timeout_s (counted from started) passes.

    systemctl runs `systemctl ARGS...` on the instance (podman exec, SSH, ...) and returns its stdout.
    """
    state = "starting"
    while time.monotonic() - started < timeout_s:
        state = systemctl("is-system-running").strip() or "starting"
        if state in SETTLED_STATES:
            break
        time.sleep(poll_s)
    else:
        state = "timeout"
    seconds = round(time.monotonic() - started, 2)
    return BootResult(state, seconds, _unit_column(systemctl, 0, "list-units", "--failed"),
                      _unit_column(systemctl, 1, "list-jobs"))  # list-jobs: JOB UNIT TYPE STATE


def _unit_column(systemctl: Callable[..., str], index: int, *query: str) -> tuple[str, ...]:
    out = systemctl(*query, "--plain", "--no-legend", "--no-pager")
    return tuple(fields[index] for fields in map(str.split, out.splitlines()) if len(fields) > index)


class Target(ABC):
    name: str
    packer_source: str  # the build to run: -only=<packer_source>
    supports_layers: bool = False  # can bake role by role, each role's result cached as a layer
    hygiene_on_instance: bool = False  # the hygiene checks run from the booted instance (instance_hygiene)

    @classmethod
    def create(cls, project: Project | None = None, **options) -> Target:
        """The target for a project; options are target-specific (aws: region, profile, endpoint_url)."""
        return cls()

    def verdict(self, project: Project, image: ImageRecord) -> str:
        """passed, failed or unverified: from bakery's local catalog unless the target keeps its own."""
        from bakery import catalog

        return catalog.status_of(project.state_dir(), image.image_id)

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
        """Wait for systemd to report running (or degraded, or give up at the timeout)."""

    def image_root(self, image: ImageRecord) -> contextlib.AbstractContextManager[Path]:
        """The image's root filesystem before first boot, read-only, for the hygiene checks
        (targets with hygiene_on_instance examine the image from its instance instead)."""
        raise NotImplementedError(f"target {self.name} checks hygiene from the instance")

    def instance_hygiene(self, image: ImageRecord, instance: Instance, waivers: dict[str, str], secrets: list[str],
                         extra_roots: list[Path]) -> list[HygieneResult]:
        """The hygiene checks on the image as baked, examined from its booted instance (hygiene_on_instance)."""
        raise NotImplementedError(f"target {self.name} checks hygiene on image_root")

    @contextlib.contextmanager
    def suite_host(self, instance: Instance, run: RunDir) -> Iterator[str]:
        """The testinfra host spec the image suite runs through, for as long as the block runs."""
        yield instance.host_spec

    def record_verdict(self, image: ImageRecord, passed: bool) -> None:
        """Record the verdict where the target keeps it (besides bakery's local catalog)."""

    def layer_commit_argv(self, run: RunDir, ref: str, labels: dict[str, str]) -> list[str]:
        """The command that commits the bake in progress as the role layer ref (supports_layers only)."""
        raise NotImplementedError(f"target {self.name} has no role layers")

    @contextlib.contextmanager
    def build_session(self, run: RunDir) -> Iterator[dict[str, str]]:
        """Extra environment for Packer; on exit, removes whatever the run left."""
        yield {}
