"""Local target: a container image baked by Packer's docker builder on podman."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from bakery import base as bases
from bakery import locks, packer, podman, private
from bakery.ssh import SshEndpoint, new_key_pair, write_config
from bakery.config import Project
from bakery.errors import BuildFailed
from bakery.fingerprint import SHORT_LENGTH
from bakery.rundir import RunDir
from bakery.targets import container_ssh
from bakery.systemd import Shell, wait_for_boot
from bakery.targets.base import BaseArtifact, BootResult, ImageRecord, Instance, SuiteHost, Target

IMAGE_REPOSITORY = "localhost/bakery"
LABEL_SERVICE = "bakery.service"
LABEL_FINGERPRINT = "bakery.fingerprint"
LABEL_RUN_ID = "bakery.run-id"
LABEL_PROJECT = "bakery.project"
POLL_S = 0.2
VERIFY_USER = "bakery-verify"
# Run in the booted instance as root: does the image mean to be reached over SSH?
HAS_SSHD_AND_SUDO = "test -x /usr/sbin/sshd && command -v sudo >/dev/null"
# Run in the booted instance as root: a throw-away login for the suite (the instance is
# removed after the suite), like the login user an AWS instance gets from its key pair.
ADD_VERIFY_LOGIN = """set -e
useradd --create-home --shell /bin/sh "$1"
install -d -m 700 -o "$1" -g "$1" "/home/$1/.ssh"
printf '%s\\n' "$2" > "/home/$1/.ssh/authorized_keys"
chown "$1:" "/home/$1/.ssh/authorized_keys"
chmod 600 "/home/$1/.ssh/authorized_keys"
printf '%s ALL=(ALL:ALL) NOPASSWD: ALL\\n' "$1" > "/etc/sudoers.d/$1"
chmod 440 "/etc/sudoers.d/$1"
"""


def owned_by(project: Project, labels: dict[str, str]) -> bool:
    """An image is the project's when its label bakery.project says so; an image older than that
    label when the run that made it is one of the project's runs."""
    if LABEL_PROJECT in labels:
        return labels[LABEL_PROJECT] == project.identity
    run_id = labels.get(LABEL_RUN_ID, "")
    return bool(run_id) and (project.state_dir() / "runs" / run_id / "run.json").is_file()


def build_container(run_id: str) -> str:
    return f"bakery-build-{run_id}"  # the name run_command gives it in packer/local.pkr.hcl


def image_ref(service: str, fingerprint: str) -> str:
    return f"{IMAGE_REPOSITORY}/{service}:{fingerprint[:SHORT_LENGTH]}"


class LocalTarget(Target):
    name = "local"
    packer_source = "bakery.docker.local"
    supports_layers = True

    _runtime_checked = False
    _listing: dict[str, dict] | None = None  # inside snapshot(): image reference -> `podman images` entry
    _project: Project | None = None  # images of other projects are not this target's business
    _project_id = ""

    @classmethod
    def create(cls, project: Project | None = None, **options) -> LocalTarget:
        target = cls()
        target._project, target._project_id = project, project.identity if project is not None else ""
        return target

    def is_ours(self, labels: dict[str, str], ref: str = "") -> bool:
        """Another project's image is never reused, re-tagged, listed or verified. A project's own
        tag (<fingerprint>-<project>) is its; the shared tag (<fingerprint>) by the image's labels."""
        if self._project is None:
            return True
        tag = ref.rpartition(":")[2]
        if "-" in tag:
            return tag.endswith("-" + self._project_id[:8])
        return owned_by(self._project, labels)

    def _refs(self, service: str, fingerprint: str) -> list[str]:
        """The shared name, then this project's own (used when another project's image holds the shared one)."""
        shared = image_ref(service, fingerprint)
        return [shared, f"{shared}-{self._project_id[:8]}"] if self._project_id else [shared]

    def ensure_prerequisites(self) -> None:
        """Cheap checks only: an up-to-date build runs no container (see _ensure_runtime)."""
        podman.ensure_working(deep=False)
        packer.packer_version()

    def _ensure_runtime(self) -> None:
        """The full podman check (storage, OCI runtime), once, before the first container starts."""
        if not self._runtime_checked:
            podman.ensure_working()
            self._runtime_checked = True

    def prepare_base(self, project: Project, base_name: str, log) -> BaseArtifact:
        base = bases.ensure_base(project, base_name, log=log)
        return BaseArtifact(base.name, base.ref, base.image_id)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        listing = {name: entry for entry in podman.list_images() for name in entry.get("Names") or []}
        outer, self._listing = self._listing, listing
        try:
            yield
        finally:
            self._listing = outer

    def find_base(self, project: Project, base_name: str) -> BaseArtifact | None:
        if self._listing is not None:
            ref = bases.base_ref(base_name, bases.base_fingerprint(project.base(base_name), bases.mmdebstrap_version()))
            entry = self._listing.get(ref)
            return BaseArtifact(base_name, ref, entry["Id"]) if entry else None
        base = bases.find_base(project, base_name)
        return BaseArtifact(base.name, base.ref, base.image_id) if base else None

    def packer_variables(self, base: BaseArtifact) -> dict:
        return {"base_image": base.ref}

    def find_image(self, service: str, fingerprint: str) -> ImageRecord | None:
        for ref in self._refs(service, fingerprint):
            if self._listing is not None:
                entry = self._listing.get(ref)
                record = self._listed(entry, ref) if entry else None
            else:
                found = podman.find_image(ref)
                record = self._record(found, ref) if found else None
            if record and record.fingerprint == fingerprint and self.is_ours(record.labels, ref):
                return record
        return None

    def adoption_ref(self, service: str, fingerprint: str) -> str:
        """Where an image another machine published is pulled to: this project's own tag (its labels
        name the project that baked it, so only the tag can say it is this project's now)."""
        return self._refs(service, fingerprint)[-1]

    def record_image(self, service: str, fingerprint: str, manifest_build: dict) -> ImageRecord:
        # machine-wide: two projects baking the same fingerprint at once must not both see the shared
        # tag free and then move it onto each other's image
        with locks.machine_wide("shared-tags", log=lambda _: None):
            ref, *own = self._refs(service, fingerprint)
            if own and not self._may_take_shared(ref, manifest_build["artifact_id"]):
                ref = own[0]
            podman.tag(manifest_build["artifact_id"], ref)
            return self._record(podman.inspect_image(ref), ref)

    def _may_take_shared(self, shared: str, artifact_id: str) -> bool:
        """Whether the shared tag may name this image: the image is ours (not a layer another project
        baked first, reused whole) and the tag does not name another project's image now."""
        if not owned_by(self._project, podman.image_labels(podman.inspect_image(artifact_id))):
            return False
        holder = podman.find_image(shared)
        return holder is None or owned_by(self._project, podman.image_labels(holder))

    def quarantine(self, image: ImageRecord, state_dir: Path) -> str:
        """Untag the image and the role layers its bake committed (a leaked secret may sit in any of
        them, and a cached layer would carry it into the next bake); the image stays by id for
        inspection, listed under quarantine/ so that `bakery gc` removes it first."""
        from bakery import layers
        from bakery.state import StateDir, write_json_atomic

        names = podman.inspect_image(image.image_id).get("RepoTags") or []
        refs = [n for n in names if n.startswith(f"{IMAGE_REPOSITORY}/")]
        run_id = image.labels.get(LABEL_RUN_ID, "")
        layer_refs = [ref for ref, _ in layers.layer_tags(run_id)] if run_id else []
        write_json_atomic(StateDir(state_dir).quarantine / f"{image.image_id.removeprefix('sha256:')}.json",
                          {"service": image.service, "refs": refs, "layers": layer_refs, "run_id": run_id})
        for ref in [*refs, *layer_refs]:
            podman.untag(ref)
        return (f"untagged {', '.join(refs) or image.ref} and {len(layer_refs)} layer(s) of its bake; kept as"
                f" {image.image_id.removeprefix('sha256:')[:12]} for inspection (bakery gc removes it)")

    def list_images(self, service: str | None = None) -> list[ImageRecord]:
        label = f"{LABEL_SERVICE}={service}" if service else LABEL_SERVICE
        entries = podman.list_images(label) if self._listing is None else self._listing.values()
        records = {}  # podman lists an image once per tag: one record per reference
        for entry in entries:
            labels = entry.get("Labels") or {}
            if LABEL_SERVICE not in labels or (service and labels[LABEL_SERVICE] != service):
                continue
            for name in entry.get("Names") or []:
                if name.startswith(f"{IMAGE_REPOSITORY}/") and self.is_ours(entry.get("Labels") or {}, name):
                    records[name] = self._listed(entry, name)
        return sorted(records.values(), key=lambda r: r.created, reverse=True)

    def image_root(self, image: ImageRecord) -> contextlib.AbstractContextManager[Path]:
        return podman.mounted_image(image.ref)

    @contextlib.contextmanager
    def boot_instance(self, image: ImageRecord, run: RunDir) -> Iterator[Instance]:
        name = f"bakery-verify-{run.run_id}"
        self._ensure_runtime()
        try:
            podman.run_detached(image.ref, name, {LABEL_RUN_ID: run.run_id, "bakery.purpose": "verify"},
                                f"--hostname={image.service or 'bakery'}")
            yield Instance(name, f"podman://{name}")
        finally:
            podman.remove(name, grace_s=0)  # a throwaway instance: no graceful shutdown needed

    def wait_until_booted(self, instance: Instance, timeout_s: float) -> BootResult:
        return wait_for_boot(self.instance_shell(instance), timeout_s, time.monotonic(), POLL_S)

    def instance_shell(self, instance: Instance) -> Shell:
        return lambda script: podman.exec_in(instance.name, "sh", "-c", script).stdout

    @contextlib.contextmanager
    def suite_host(self, instance: Instance, run: RunDir, transport: str) -> Iterator[SuiteHost]:
        """SSH through one shared connection (about 15 ms a command instead of about 200 ms for
        `podman exec`) when the image has sshd and sudo: then a login that does not work is a
        finding about the image, not a reason to fall back. podman exec for images without sshd
        (transport auto) or when verify.transport is podman."""
        if transport == "podman":
            yield SuiteHost(instance.host_spec, "podman", "verify.transport is podman")
            return
        if transport == "auto" and not podman.exec_in(instance.name, "sh", "-c", HAS_SSHD_AND_SUDO).ok:
            yield SuiteHost(instance.host_spec, "podman", "the image has no sshd or no sudo")
            return
        log_path = run.path / "verify-ssh.log"
        with private.private_dir(run.run_id, "ssh") as keys:
            endpoint, problem = _ssh_login(instance, keys, log_path)
            if endpoint is None:
                yield SuiteHost("", "ssh", problem=problem)
                return
            with endpoint.master(log_path) as connected:
                if connected:
                    yield SuiteHost(endpoint.host_spec(), "ssh", "the image has sshd and sudo")
                else:
                    yield SuiteHost("", "ssh", problem="the image runs sshd, but the verification login over SSH"
                                    f" failed: {_last_lines(log_path)}")

    def layer_commit_argv(self, run: RunDir, ref: str, labels: dict[str, str]) -> list[str]:
        changes = [f"--change=LABEL {key}={json.dumps(value)}" for key, value in labels.items()]
        return ["podman", "commit", "--quiet", *changes, build_container(run.run_id), ref]

    @contextlib.contextmanager
    def build_session(self, run: RunDir, base: BaseArtifact) -> Iterator[dict[str, str]]:
        self._ensure_runtime()
        try:
            with packer.docker_shim() as env, private.private_dir(run.run_id, "conn") as keys:
                try:
                    yield {**env, **self._connection_env(run, keys, base)}
                except BuildFailed:
                    podman.ensure_working(deep=False)  # a podman that broke under Packer: exit 4, not 5
                    raise
                finally:
                    container_ssh.close_master(keys)
        finally:
            podman.remove_containers(f"label={LABEL_RUN_ID}={run.run_id}")

    def _connection_env(self, run: RunDir, private: Path, base: BaseArtifact) -> dict[str, str]:
        """Ansible reaches the build container through its own sshd when the base has one
        (see container_ssh), through Packer's SSH proxy otherwise (or when build.local_connection
        asks for it); connection.json says which."""
        setting = self._project.build.local_connection if self._project is not None else "auto"
        has_sshd = _has_sshd(base.ref)
        direct = has_sshd and setting == "auto"
        run.write_json("connection.json", {"via": "container-sshd" if direct else "packer-proxy",
                                           "setting": setting, "base": base.ref, "base_has_sshd": has_sshd})
        if not direct:
            return {}
        vars_file = container_ssh.write_connection_vars(build_container(run.run_id), "root", private)
        return {"PKR_VAR_connection_vars_file": str(vars_file)}

    @staticmethod
    def _record(inspect: dict, ref: str) -> ImageRecord:
        labels = podman.image_labels(inspect)
        return ImageRecord(
            service=labels.get(LABEL_SERVICE, ""),
            ref=ref,
            image_id=inspect["Id"],
            fingerprint=labels.get(LABEL_FINGERPRINT, ""),
            labels=labels,
            created=datetime.fromisoformat(inspect["Created"][:26].rstrip("Z")).timestamp() if inspect.get("Created") else 0.0,
            size_bytes=int(inspect.get("Size", 0)),
        )

    @staticmethod
    def _listed(entry: dict, ref: str) -> ImageRecord:
        labels = entry.get("Labels") or {}
        return ImageRecord(
            service=labels.get(LABEL_SERVICE, ""),
            ref=ref,
            image_id=entry["Id"],
            fingerprint=labels.get(LABEL_FINGERPRINT, ""),
            labels=labels,
            created=float(entry.get("Created", 0)),
            size_bytes=int(entry.get("Size", 0)),
        )



@lru_cache(maxsize=8)
def _has_sshd(image_ref: str) -> bool:
    return podman.image_has_file(image_ref, container_ssh.SSHD)


def _ssh_login(instance: Instance, private: Path, log_path: Path) -> tuple[SshEndpoint | None, str]:
    """A key pair and a sudo-capable login on the instance; (None, why) when there can be none."""
    key = private / "id_ed25519"
    public = new_key_pair(key, VERIFY_USER)
    added = podman.exec_in(instance.name, "sh", "-c", ADD_VERIFY_LOGIN, "sh", VERIFY_USER, public)
    if not added.ok:
        return None, f"the verification login could not be added to the image: {added.tail(1)}"
    address = podman.container_address(instance.name)
    if not address:
        return None, "the instance has no network address to reach its sshd at"
    return SshEndpoint(VERIFY_USER, address, 22, key, write_config(private)), ""


def _last_lines(log_path: Path, count: int = 2) -> str:
    try:
        lines = [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    return " | ".join(lines[-count:]) or "ssh printed nothing"
