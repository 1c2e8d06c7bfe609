"""The interface every build target (local, aws) implements."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field

from bakery.config import Project
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


class Target(ABC):
    name: str
    packer_source: str  # the build to run: -only=<packer_source>

    @abstractmethod
    def ensure_prerequisites(self) -> None:
        """Fail fast with a clear message when the target cannot work here."""

    @abstractmethod
    def prepare_base(self, project: Project, base_name: str, log) -> BaseArtifact:
        """Find or build the base the bake starts from."""

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

    @contextlib.contextmanager
    def build_session(self, run: RunDir) -> Iterator[dict[str, str]]:
        """Extra environment for Packer; on exit, removes whatever the run left."""
        yield {}
