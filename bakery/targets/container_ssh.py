"""Ansible's connection into the local build container: SSH over `podman exec`, no network.

Packer 1.6.6's docker builder hands Ansible an SSH proxy that runs every command through
`docker exec`: about 0.5-1 s a task and 2-3 s for a template. Instead, Ansible's own ssh
connection reaches an `sshd -i` that `podman exec` starts in the container, kept open by
ControlPersist and used with pipelining: one `podman exec` for the whole play and about
0.3 s a task (measurements in docs/benchmarks.md).

The sshd runs with no config file of the image (`-f /dev/null`), so roles that harden the
image's sshd cannot lock the bake out, and its authorized key and host key live under /run,
a tmpfs in the build container that is never committed to the image.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from bakery import proc
from bakery.ssh import new_key_pair

SSHD = "/usr/sbin/sshd"
RUN_DIR = "/run/bakery-ansible"
# In the container: $1 is the public key bakery connects with.
# The keys are private; the session gets the umask `podman exec` gives (022), as it would
# through Packer's proxy: the files roles create must not become private.
START_SSHD = f"""(
  umask 077
  mkdir -p {RUN_DIR} /run/sshd
  printf '%s\\n' "$1" > {RUN_DIR}/authorized_keys
  [ -s {RUN_DIR}/host_key ] || ssh-keygen -q -t ed25519 -N '' -f {RUN_DIR}/host_key
) || exit 1
umask 022
exec {SSHD} -i -f /dev/null -o HostKey={RUN_DIR}/host_key -o AuthorizedKeysFile={RUN_DIR}/authorized_keys \
  -o PermitRootLogin=prohibit-password -o 'Subsystem=sftp internal-sftp' -o LogLevel=ERROR
"""
MASTER_SOCKET = "master"  # in the private dir; closed by close_master when the bake ends


def write_connection_vars(container: str, user: str, private_dir: Path) -> Path:
    """A key pair, the proxy command and the Ansible vars that use them, in private_dir."""
    key = private_dir / "id_ed25519"
    public = new_key_pair(key, f"bakery {container}")
    proxy = private_dir / "proxy"
    proxy.write_text("#!/bin/sh\n# Ansible's SSH connection into the build container (bakery)\n"
                     f"exec podman exec -i {shlex.quote(container)} sh -c {shlex.quote(START_SSHD)} sh "
                     f"{shlex.quote(public)}\n")
    proxy.chmod(0o700)
    # No host key to check: the "network" is the podman exec pipe, and the host key is the
    # throw-away one START_SSHD made in the container. Packer's own key is offered too (it
    # passes one with -e); the sshd accepts only ours.
    common = [f"-o ProxyCommand={proxy}", f"-o IdentityFile={key}", "-o IdentitiesOnly=yes",
              "-o StrictHostKeyChecking=no", "-o UserKnownHostsFile=/dev/null", "-o LogLevel=ERROR"]
    variables = {
        "ansible_host": container,  # for Ansible's messages; the proxy command ignores it
        "ansible_port": 22,
        "ansible_user": user,
        # every task reuses one connection; -C (Ansible's default) only costs CPU on a local pipe
        "ansible_ssh_args": f"-o ControlMaster=auto -o ControlPersist=120s -o ControlPath={private_dir / MASTER_SOCKET}",
        "ansible_ssh_common_args": " ".join(common),
        "ansible_ssh_pipelining": True,
    }
    path = private_dir / "connection-vars.json"
    path.write_text(json.dumps(variables, indent=2) + "\n")
    return path


def close_master(private_dir: Path) -> None:
    """Stop the ControlPersist master now, instead of when the container is gone or it times out."""
    socket = private_dir / MASTER_SOCKET
    if socket.exists():
        proc.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "bakery-build"], check=False, timeout=30)
