"""The watchman that makes bakery's children die with bakery.

bakery starts it once (lazily, with the first external command) as a separate process in its
own session, connected by a SOCK_SEQPACKET socket. bakery tells it which process groups it
started (Packer re-spawns its plugins and ansible-playbook inside the group), hands it a copy of
every lock it holds, and the private temp dirs of the run. When bakery is gone, however it
died (kill -9 included), the socket reads EOF and the watchman

1. sends SIGTERM to every group still registered, then SIGKILL to what is left after a grace,
2. waits until no live process of those groups remains,
3. removes the run's private temp dirs (secrets, keys),
4. and only then closes its copies of the locks, so no other bakery run takes a lock over
   while a dead run's processes still work.

This file runs as a script (`python -I -S supervisor.py`): standard library only, no bakery import.
The bakery side of the protocol is in bakery/proc.py (Supervisor).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time

GRACE_S = 5.0
KILL_WAIT_S = 20.0
POLL_S = 0.1
SNAPSHOT_S = 1.0
MAX_MESSAGE = 4096
MAX_FDS = 4


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, pgid) of every live (non-zombie) process; this machine's init may never reap zombies."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2:].split()
        if fields[0] not in (b"Z", b"X"):
            table[int(entry)] = (int(fields[1]), int(fields[2]))
    return table


def live_group_members(pgid: int) -> list[int]:
    return [pid for pid, (_ppid, group) in _processes().items() if group == pgid]


def with_descendant_groups(groups: set[int]) -> set[int]:
    """groups plus the groups of every descendant of their members (a child that left the group
    with setsid, as some tools do for their workers, still dies with bakery)."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _group) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, seen = set(groups), set()
    todo = [pid for pid, (_ppid, group) in table.items() if group in groups]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for child in children.get(pid, []):
            found.add(table[child][1])
            todo.append(child)
    return found


def signal_groups(groups: set[int], sig: int) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def wait_until_gone(groups: set[int], timeout_s: float) -> set[int]:
    """The groups that still have live members after timeout_s."""
    deadline = time.monotonic() + timeout_s
    alive = {g for g in groups if live_group_members(g)}
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_S)
        alive = {g for g in alive if live_group_members(g)}
    return alive


def stop_groups(groups: set[int]) -> None:
    signal_groups(groups, signal.SIGTERM)
    left = wait_until_gone(groups, GRACE_S)
    if left:
        signal_groups(left, signal.SIGKILL)
        wait_until_gone(left, KILL_WAIT_S)


def serve(channel: socket.socket) -> tuple[set[int], dict[str, int], set[str]]:
    """Follow bakery's messages until EOF; return what was still registered then, with the groups
    of descendants seen meanwhile (looked at every SNAPSHOT_S: by the time bakery has died, a
    descendant that left its group may already have lost the parent that linked it to us)."""
    groups: set[int] = set()
    seen: set[int] = set()
    locks: dict[str, int] = {}
    dirs: set[str] = set()
    channel.settimeout(SNAPSHOT_S)
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(channel, MAX_MESSAGE, MAX_FDS)
        except TimeoutError:
            if groups or seen:
                seen = {g for g in (seen | with_descendant_groups(groups)) - groups if live_group_members(g)}
            continue
        except InterruptedError:
            continue
        except OSError:
            data, fds = b"", []
        if not data:
            return groups | seen, locks, dirs
        kind, arg = data[:1], data[1:].decode()
        if kind == b"+":
            groups.add(int(arg))
        elif kind == b"-":
            groups.discard(int(arg))
        elif kind == b"L" and fds:
            _close(locks.pop(arg, None))
            locks[arg] = fds.pop(0)
        elif kind == b"U":
            _close(locks.pop(arg, None))
        elif kind == b"D":
            dirs.add(arg)
        elif kind == b"d":
            dirs.discard(arg)
        for fd in fds:
            _close(fd)


def _close(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    channel = socket.socket(fileno=int(sys.argv[1]))
    groups, locks, dirs = serve(channel)
    stop_groups(with_descendant_groups(groups))
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)
    for fd in locks.values():
        _close(fd)


if __name__ == "__main__":
    main()
