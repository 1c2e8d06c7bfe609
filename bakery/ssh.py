"""Reaching an instance over SSH: the ssh client config, remote commands, the testinfra host spec."""

from __future__ import annotations

import contextlib
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bakery import proc
from bakery.errors import ConfigError

# Trust on first use, in a known_hosts file private to this boot: instance host keys are new
# every time; the key pair is the run's own. Commands share one connection when a control
# master runs (SshEndpoint.master); without one each command connects on its own.
CONFIG = """\
Host *
  StrictHostKeyChecking accept-new
  UserKnownHostsFile {known_hosts}
  IdentitiesOnly yes
  BatchMode yes
  PasswordAuthentication no
  ConnectTimeout 10
  ServerAliveInterval 15
  LogLevel ERROR
  ControlMaster auto
  ControlPath {control_dir}/cm-%C
  ControlPersist no
"""
MASTER_READY_TIMEOUT_S = 15.0


def new_key_pair(key: Path, comment: str) -> str:
    """A throw-away ed25519 key pair at key and key.pub (no passphrase); returns the public key line."""
    proc.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
    return key.with_suffix(".pub").read_text().strip()


@dataclass(frozen=True)
class SshEndpoint:
    user: str
    host: str
    port: int
    key_file: Path
    config_file: Path

    def host_spec(self) -> str:
        """A testinfra (10.x) `ssh://` spec: the ssh binary, this config and key, sudo for systemctl."""
        query = urllib.parse.urlencode({"ssh_config": str(self.config_file), "ssh_identity_file": str(self.key_file),
                                        "controlpersist": "0", "sudo": "true"})
        return f"ssh://{self.user}@{_bracketed(self.host)}:{self.port}?{query}"

    def argv(self, *command: str) -> list[str]:
        return ["ssh", "-F", str(self.config_file), "-i", str(self.key_file), "-p", str(self.port),
                "-l", self.user, self.host, "--", *command]

    def run(self, *command: str, timeout: float = 30) -> proc.CommandResult:
        """Run a command on the instance; rc 255 means ssh itself failed (not up yet, refused)."""
        return proc.run(self.argv(*command), check=False, timeout=timeout)

    @contextlib.contextmanager
    def master(self, log_path: Path) -> Iterator[bool]:
        """One shared connection for the block: every command then costs milliseconds, not a handshake.

        Yields whether the master connected (commands still work without it, only slower);
        the master process is stopped when the block ends.
        """
        argv = ["ssh", "-F", str(self.config_file), "-i", str(self.key_file), "-p", str(self.port),
                "-l", self.user, "-M", "-N", self.host]
        with proc.background(argv, log_path=log_path) as master:
            yield self._wait_for_master(master)

    def _wait_for_master(self, master) -> bool:
        deadline = time.monotonic() + MASTER_READY_TIMEOUT_S
        check = ["ssh", "-F", str(self.config_file), "-p", str(self.port), "-l", self.user, "-O", "check", self.host]
        while time.monotonic() < deadline and master.poll() is None:
            if proc.run(check, check=False, timeout=10).ok:
                return True
            time.sleep(0.05)
        return False


def write_config(directory: Path) -> Path:
    path = directory / "ssh_config"
    path.write_text(CONFIG.format(known_hosts=directory / "known_hosts", control_dir=directory))
    return path


def parse_host_port(text: str, source: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` from the last line a command printed."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    host, _, port = last.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{source} printed '{last[:80]}', not host:port",
                          hint="print e.g. 127.0.0.1:2222 on the last line")
    return host, int(port)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
