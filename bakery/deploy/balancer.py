"""The local target's load balancer: one HAProxy per service and environment, on a fixed 127.0.0.1 port.

bakery starts it as a host process it owns, with its files in .bakery/lb/<service>-<env>/
(haproxy.cfg, haproxy.pid, haproxy.log, admin.sock: the runtime API). The backend holds SLOTS
`server-template` slots, all in maintenance at start. A blue/green deploy, after the new
replicas passed bakery's own health probe, fills free slots with their addresses through the
runtime API (`set server replicas/slotN addr ... port ...`, `state ready`), waits until HAProxy's
health check calls them UP, then drains the old slots (`state drain`: no new requests, running
ones finish), puts them back in maintenance and only then are the old containers removed. A
deploy whose replicas never get healthy never reaches this module.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import re
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bakery import proc
from bakery.errors import ConfigError, DeployFailed
from bakery.state import StateDir

SLOTS = 16
BACKEND = "replicas"
# sun_path holds 107 bytes; HAProxy binds "<path>.<pid>.tmp" first and renames it, so keep room for that
SOCKET_PATH_MAX = 90
FREE_ADDR, FREE_PORT = "127.0.0.1", 1  # where a free slot points (it is in maintenance: never used)
POLL_S = 0.2
UP_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

CONFIG_TEMPLATE = """\
# Written by bakery for {service} in {env}; bakery changes its servers through the runtime API.
global
    stats socket {socket} mode 600 level admin
    pidfile {pidfile}
    log stderr format raw local0 notice
    daemon

defaults
    mode http
    log global
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 2s
    retries 3
    option redispatch
    retry-on conn-failure empty-response

frontend {service}-{env}
    bind 127.0.0.1:{port}
    default_backend {backend}

backend {backend}
    balance roundrobin
    option httpchk GET {health_path}
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 2 init-addr none
    server-template slot 1-{slots} {free_addr}:{free_port} disabled
"""


@dataclass(frozen=True)
class Slot:
    """One server-template slot, as HAProxy's `show stat` reports it."""

    name: str
    addr: str  # host:port
    status: str  # UP, DOWN, MAINT, DRAIN, "UP 1/2" (going down), "DOWN 1/2" (coming up), ...
    sessions: int

    @property
    def free(self) -> bool:
        return self.status.startswith("MAINT")

    @property
    def up(self) -> bool:
        return self.status == "UP"


def address_of(url: str) -> str:
    """'127.0.0.1:40343' from a replica URL 'http://127.0.0.1:40343'."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


class Balancer:
    """The HAProxy of one service in one environment."""

    def __init__(self, state: StateDir, service: str, env: str, port: int, health_path: str):
        self.service, self.env, self.port, self.health_path = service, env, port, health_path
        self.dir = state.balancer(service, env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.dir / "haproxy.cfg"

    @property
    def pid_path(self) -> Path:
        return self.dir / "haproxy.pid"

    @property
    def socket_path(self) -> Path:
        """admin.sock in the balancer's directory; a short path in the temp dir when that one is too long."""
        path = self.dir / "admin.sock"
        if len(str(path.resolve())) <= SOCKET_PATH_MAX:
            return path
        digest = hashlib.sha256(str(self.dir.resolve()).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"bakery-lb-{digest}.sock"

    # -- the process ------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The pid of this balancer's HAProxy when it runs, else None (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_path.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return None
        return pid if str(self.config_path).encode() in cmdline else None

    def running(self) -> bool:
        return self.pid() is not None

    def check_port_free(self, where: str) -> None:
        """ConfigError when the endpoint port is taken by someone else (call before starting)."""
        with socket.socket() as probe:
            # as HAProxy binds: connections of an earlier balancer in TIME_WAIT do not count, a listener does
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", self.port))
                probe.listen()
            except OSError:
                raise ConfigError(f"{where}: port {self.port} on 127.0.0.1 is in use by another process",
                                  hint="stop it or pick another port") from None

    def check_health_path(self) -> None:
        """ConfigError unless the health path can go into HAProxy's `option httpchk` line."""
        if not re.fullmatch(r"/[^\s#]*", self.health_path):
            raise ConfigError(f"services.{self.service}.deploy.health_path: {self.health_path!r} cannot be a load"
                              " balancer health check", hint="a path starting with / without spaces or #")

    def start(self) -> None:
        """Write the config and start HAProxy (it daemonizes); all slots start in maintenance."""
        self.check_health_path()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        self.config_path.write_text(CONFIG_TEMPLATE.format(
            service=self.service, env=self.env, port=self.port, health_path=self.health_path, slots=SLOTS,
            backend=BACKEND, socket=self.socket_path, pidfile=self.pid_path, free_addr=FREE_ADDR,
            free_port=FREE_PORT))
        proc.run(["haproxy", "-f", self.config_path], log_path=self.dir / "haproxy.log", timeout=30)
        self._wait_for(lambda: self.running() and self.socket_path.exists(), 10.0,
                       f"HAProxy for {self.service} in {self.env} did not start (see {self.dir / 'haproxy.log'})")

    def stop(self) -> bool:
        """Stop HAProxy and remove its files; True when it was running."""
        pid = self.pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            self._wait_for(lambda: not Path(f"/proc/{pid}").exists(), STOP_TIMEOUT_S,
                           f"HAProxy (pid {pid}) did not stop")
        self.socket_path.unlink(missing_ok=True)
        for path in (self.config_path, self.pid_path, self.dir / "haproxy.log"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.dir.rmdir()
        return pid is not None

    # -- the runtime API --------------------------------------------------------------------

    def command(self, text: str) -> str:
        """One runtime API command over admin.sock; its answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(5)
            conn.connect(str(self.socket_path))
            conn.sendall(text.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def slots(self) -> list[Slot]:
        """Every slot of the backend, from `show stat` (CSV)."""
        rows = csv.DictReader(self.command("show stat").removeprefix("# ").splitlines())
        return [Slot(r["svname"], r.get("addr", ""), r["status"], int(r["scur"] or 0))
                for r in rows if r["pxname"] == BACKEND and r["svname"] not in ("BACKEND", "FRONTEND")]

    def serving(self) -> list[Slot]:
        return [s for s in self.slots() if not s.free]

    def _set(self, slot: str, *words: str) -> None:
        answer = self.command(f"set server {BACKEND}/{slot} {' '.join(words)}").strip()
        if answer and not answer.startswith("no need to change") and "changed from" not in answer:
            raise DeployFailed(f"HAProxy refused 'set server {slot} {' '.join(words)}': {answer.splitlines()[0]}")

    # -- blue/green -------------------------------------------------------------------------

    def add(self, urls: list[str], timeout_s: float = UP_TIMEOUT_S) -> list[str]:
        """Put the replicas at urls into free slots and wait until HAProxy's health check calls each UP.

        On failure the slots just filled are freed again, so the old replicas keep serving alone.
        """
        free = [s.name for s in self.slots() if s.free]
        if len(free) < len(urls):
            raise DeployFailed(f"the balancer of {self.service} in {self.env} has {len(free)} free slot(s)"
                               f" for {len(urls)} new replica(s)", hint=f"at most {SLOTS // 2} replicas per environment")
        filled = list(zip(free, urls))
        try:
            for slot, url in filled:
                host, port = address_of(url).rsplit(":", 1)
                self._set(slot, "addr", host, "port", port)
                self._set(slot, "state", "ready")
            names = {slot for slot, _ in filled}
            self._wait_for(lambda: all(s.up for s in self.slots() if s.name in names), timeout_s,
                           f"HAProxy's health check did not pass for the new replicas of {self.service} in"
                           f" {self.env} in {timeout_s:.0f} s")
        except BaseException:
            self.release([slot for slot, _ in filled])
            raise
        return [slot for slot, _ in filled]

    def drain_all_but(self, keep_urls: list[str], timeout_s: float = DRAIN_TIMEOUT_S) -> list[str]:
        """Every other used slot (the old replicas, or stale ones): no new requests, running ones finish, freed."""
        keep = {address_of(u) for u in keep_urls}
        slots = [s.name for s in self.serving() if s.addr not in keep]
        for slot in slots:
            self._set(slot, "state", "drain")
        # a request still running after timeout_s is cut off: the new replicas serve already
        _wait_until(lambda: all(s.sessions == 0 for s in self.slots() if s.name in slots), timeout_s)
        self.release(slots)
        return slots

    def release(self, slots: list[str]) -> None:
        """Back to maintenance and the free address."""
        for slot in slots:
            self._set(slot, "state", "maint")
            self._set(slot, "addr", FREE_ADDR, "port", str(FREE_PORT))

    @staticmethod
    def _wait_for(condition, timeout_s: float, message: str) -> None:
        if not _wait_until(condition, timeout_s):
            raise DeployFailed(message)


def _wait_until(condition, timeout_s: float) -> bool:
    """True once condition() holds; False when timeout_s passed first."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True
