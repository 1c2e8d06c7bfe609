"""Signals that end a bakery command: SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped SSH
session) all raise KeyboardInterrupt, so every `with` block tears down the same way; the exit
status says which one it was (130 for SIGINT and SIGTERM, 129 for SIGHUP)."""

from __future__ import annotations

import signal
import threading

from bakery.errors import ExitStatus, Interrupted

_received: list[int] = []


def _raise_interrupt(signum, frame) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def install() -> None:
    """Install the handlers, even when started with SIGINT ignored (`cmd &`). Main thread only."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)


def received() -> bool:
    """Whether an ending signal arrived (the command may still have finished its teardown)."""
    return bool(_received)


def exit_status() -> ExitStatus:
    """HANGUP when the first ending signal was SIGHUP, else INTERRUPTED."""
    return ExitStatus.HANGUP if _received[:1] == [signal.SIGHUP] else ExitStatus.INTERRUPTED


def interrupted(message: str) -> Interrupted:
    """The error to raise once the children are stopped, carrying the exit status of the signal."""
    error = Interrupted(message)
    error.exit_status = exit_status()
    return error
