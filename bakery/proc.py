"""The one seam through which bakery runs external commands (packer, podman, mmdebstrap, ...)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from bakery import interrupts
from bakery.errors import CommandFailed, PrerequisiteError

INTERRUPT_GRACE_S = 90.0
POLL_INTERVAL_S = 0.2
_OUTPUT_KEEP_BYTES = 256 * 1024


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def display(self) -> str:
        text = shlex.join(self.argv)
        return text if len(text) <= 160 else text[:157] + "..."

    def tail(self, lines: int = 3) -> str:
        source = self.stderr.strip() or self.stdout.strip()
        return " | ".join(source.splitlines()[-lines:]) or "no output"


def containers_conf() -> Path:
    """bakery's own podman configuration (runc runtime, ulimits within hard limits)."""
    return Path(str(files("bakery") / "data" / "containers.conf"))


def tool_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every external tool runs with."""
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(containers_conf()))
    venv_bin = str(Path(sys.executable).parent)
    if venv_bin not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    env.update(extra or {})
    return env


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    timeout: float | None = None,
    log_path: Path | None = None,
    stdin_data: str | None = None,
    on_poll: Callable[[], None] | None = None,
) -> CommandResult:
    """Run a command to completion and return its frozen result.

    The child runs in its own session, so a terminal Ctrl-C reaches only bakery, which
    forwards one SIGINT, waits for the child to clean up, and raises Interrupted.
    With log_path, stdout and stderr both go to that file (appended) as they are produced.
    """
    argv = tuple(str(a) for a in argv)
    started = time.monotonic()
    with _output_files(log_path) as (out, err):
        proc = _spawn(argv, env, cwd, out, err, stdin_data)
        rc = _wait(proc, timeout, on_poll)
        if err is out:  # both went to the log: keep its tail, the whole of it is in the file
            stdout, stderr = _read_back(out, _OUTPUT_KEEP_BYTES), ""
        else:  # stdout whole (callers parse it), stderr's tail
            stdout, stderr = _read_back(out), _read_back(err, _OUTPUT_KEEP_BYTES)
    result = CommandResult(argv, rc, stdout, stderr, round(time.monotonic() - started, 3))
    if check and rc != 0:
        raise CommandFailed(result)
    return result


def tool_version_output(argv: Sequence[str]) -> str:
    """stdout of a tool's version command, cached per tool binary (path, size, mtime).

    `packer version` and `mmdebstrap --version` cost 0.1-0.2 s each and go into every
    fingerprint; the same binary prints the same version. Cache: $XDG_CACHE_HOME/bakery.
    """
    binary = shutil.which(argv[0])
    if binary is None:
        raise PrerequisiteError(f"'{argv[0]}' is not installed or not on PATH", hint="run bakery doctor")
    stat = Path(binary).resolve().stat()
    key = f"{shlex.join(argv)}|{Path(binary).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    cache = _version_cache_path()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known = {k: v for k, v in known.items() if not k.startswith(shlex.join(argv) + "|")}
        known[key] = run(argv).stdout
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        tmp.replace(cache)
    return known[key]


def _version_cache_path() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "bakery" / "tool-versions.json"


@contextlib.contextmanager
def background(argv: Sequence[str], *, log_path: Path, env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """Run a long-lived helper (an ssh control master, ...) for the length of a block; stopped on exit."""
    argv = tuple(str(a) for a in argv)
    with open(log_path, "ab") as log:
        child = _spawn(argv, env, None, log, log, None)
        try:
            yield child
        finally:
            if child.poll() is None:
                _terminate(child)
            _reaped(child)


class Supervisor:
    """bakery's side of the watchman (bakery/supervisor.py) that stops every process group bakery
    started, removes the run's private dirs and only then lets go of its locks, when bakery dies.

    Started lazily with the first external command; best effort: when it cannot run, each
    direct child still gets SIGTERM from the kernel when bakery dies (setpriv --pdeathsig).
    """

    def __init__(self) -> None:
        self._channel = None
        self._owner_pid = 0
        self.process: subprocess.Popen | None = None

    def _connected(self):
        if self._channel is not None and self._owner_pid == os.getpid():
            return self._channel
        import socket

        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        script = Path(__file__).with_name("supervisor.py")
        try:
            self.process = subprocess.Popen([sys.executable, "-I", "-S", str(script), str(theirs.fileno())],
                                            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        self._channel, self._owner_pid = ours, os.getpid()
        return ours

    def _send(self, message: str, fds: Sequence[int] = ()) -> None:
        channel = self._connected()
        if channel is None:
            return
        import socket

        try:
            socket.send_fds(channel, [message.encode()], list(fds))
        except OSError:
            pass  # the watchman is gone: the kernel's parent-death signal still applies

    def watch_group(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def forget_group(self, pgid: int) -> None:
        if self._channel is not None:
            self._send(f"-{pgid}")

    def hold_lock(self, name: str, fd: int) -> None:
        self._send(f"L{name}", [fd])

    def release_lock(self, name: str) -> None:
        if self._channel is not None:
            self._send(f"U{name}")

    def remove_on_death(self, path: Path) -> None:
        self._send(f"D{path}")

    def removed(self, path: Path) -> None:
        if self._channel is not None:
            self._send(f"d{path}")


SUPERVISOR = Supervisor()


@functools.cache
def _setpriv() -> str:
    """util-linux's setpriv, or "" when it is missing (then no parent-death signal: the watchman remains)."""
    return shutil.which("setpriv") or ""


def _with_parent_death_signal(argv: tuple[str, ...]) -> tuple[str, ...]:
    """argv run through `setpriv --pdeathsig TERM`, so the kernel sends the child SIGTERM when bakery
    dies. (Not a preexec_fn: Python code between fork and exec runs the at-fork hooks, which take the
    import and logging locks, and deadlocks when another thread spawns at the same time.)"""
    return (_setpriv(), "--pdeathsig", "TERM", "--", *argv) if _setpriv() else argv


class _output_files:
    def __init__(self, log_path: Path | None):
        self.log_path = log_path

    def __enter__(self):
        if self.log_path is not None:
            self.out = open(self.log_path, "a+b")
            return self.out, self.out
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        return self.out, self.err

    def __exit__(self, *exc):
        self.out.close()
        if self.log_path is None:
            self.err.close()


def command_of(proc: subprocess.Popen) -> tuple[str, ...]:
    """The command bakery asked for (without the setpriv prefix)."""
    args = tuple(proc.args)
    return args[args.index("--") + 1:] if _setpriv() and args[:1] == (_setpriv(),) else args


def _spawn(argv, env, cwd, out, err, stdin_data) -> subprocess.Popen:
    env = dict(env) if env is not None else tool_env()
    if shutil.which(argv[0], path=env.get("PATH")) is None:
        raise PrerequisiteError(f"'{argv[0]}' is not installed or not on PATH", hint="run bakery doctor")
    proc = subprocess.Popen(
        _with_parent_death_signal(tuple(argv)),
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        start_new_session=True,
    )
    if stdin_data is not None:
        proc.stdin.write(stdin_data.encode())
        proc.stdin.close()
    SUPERVISOR.watch_group(proc.pid)
    return proc


def _reaped(proc: subprocess.Popen) -> None:
    """The child has exited and was waited for: its group is no longer the watchman's business."""
    if proc.returncode is not None:
        SUPERVISOR.forget_group(proc.pid)


def _wait(proc: subprocess.Popen, timeout: float | None, on_poll) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with _exit_notifier(proc) as exited:
            while True:
                try:
                    return _wait_step(proc, exited)
                except subprocess.TimeoutExpired:
                    if on_poll is not None:
                        on_poll()
                    if deadline is not None and time.monotonic() > deadline:
                        _terminate(proc)
                        return proc.returncode
    except KeyboardInterrupt:
        _interrupt(proc)
        raise interrupts.interrupted(f"interrupted; '{Path(command_of(proc)[0]).name}' was stopped") from None
    finally:
        _reaped(proc)
        if on_poll is not None:
            on_poll()


@contextlib.contextmanager
def _exit_notifier(proc: subprocess.Popen) -> Iterator[int | None]:
    """A pidfd that becomes readable when the child exits (Linux >= 5.3), or None."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _until_exit(notifiers: list[int | None]) -> None:
    """Sleep up to POLL_INTERVAL_S, waking the moment a child behind one of notifiers exits
    (a plain sleep when a notifier is missing)."""
    if None in notifiers:
        time.sleep(POLL_INTERVAL_S)
    else:
        select.select(notifiers, [], [], POLL_INTERVAL_S)


def _wait_step(proc: subprocess.Popen, exited: int | None) -> int:
    """Wait up to POLL_INTERVAL_S. Popen.wait(timeout) polls in sleeps of up to 50 ms; the pidfd
    wakes us the moment the child exits (three podman calls of a no-op build save about 0.05 s)."""
    if exited is None:
        return proc.wait(timeout=POLL_INTERVAL_S)
    _until_exit([exited])
    return proc.wait(timeout=0)


def _wait_for_any(processes: list[subprocess.Popen]) -> None:
    """Return when one of processes has exited, or after POLL_INTERVAL_S: the next command of
    run_parallel starts the moment a slot frees up instead of after a fixed sleep."""
    with contextlib.ExitStack() as stack:
        _until_exit([stack.enter_context(_exit_notifier(process)) for process in processes])


def _interrupt(proc: subprocess.Popen) -> None:
    """Forward SIGINT to the child's process group and give it time to clean up."""
    _signal_group(proc, signal.SIGINT)
    try:
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        _terminate(proc)


def _terminate(proc: subprocess.Popen) -> None:
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _read_back(handle, keep_bytes: int | None = None) -> str:
    """What a command wrote to handle: all of it, or its last keep_bytes."""
    handle.flush()
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0 if keep_bytes is None else max(0, size - keep_bytes))
    return handle.read().decode(errors="replace")


def run_parallel(commands: Sequence[Sequence[str]], *, jobs: int, log_paths: Sequence[Path],
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 fail_fast: bool = False) -> list[CommandResult | None]:
    """Run commands, at most `jobs` at a time; each one's stderr goes to its log, stdout is kept.

    On Ctrl-C every running command gets SIGINT and time to clean up, then Interrupted is raised.
    fail_fast: when a command fails, the running ones are stopped the same way (their results are
    kept) and the pending ones are not started (None in their place).
    """
    pending = list(range(len(commands)))
    running: dict[int, tuple[subprocess.Popen, float, object, object]] = {}
    results: dict[int, CommandResult] = {}

    def collect(index: int) -> CommandResult:
        process, started, out, err = running.pop(index)
        _reaped(process)
        results[index] = CommandResult(tuple(str(a) for a in commands[index]), process.returncode, _read_back(out),
                                       _read_back(err, _OUTPUT_KEEP_BYTES), round(time.monotonic() - started, 3))
        out.close(), err.close()
        return results[index]

    try:
        while pending or running:
            while pending and len(running) < jobs:
                index = pending.pop(0)
                out, err = tempfile.TemporaryFile(), open(log_paths[index], "w+b")
                argv = tuple(str(a) for a in commands[index])
                running[index] = (_spawn(argv, env, cwd, out, err, None), time.monotonic(), out, err)
            for index, (process, *_) in list(running.items()):
                if process.poll() is not None and not collect(index).ok and fail_fast:
                    pending.clear()
                    _stop_all([p for p, *_ in running.values()])
                    for stopped in list(running):
                        collect(stopped)
                    break
            if running:
                _wait_for_any([process for process, *_ in running.values()])
    except KeyboardInterrupt:
        _stop_all([process for process, *_ in running.values()])
        for process, *_ in running.values():
            _reaped(process)
        raise interrupts.interrupted(f"interrupted; {len(running)} running command(s) were stopped") from None
    return [results.get(i) for i in range(len(commands))]


def _stop_all(processes: list[subprocess.Popen]) -> None:
    """SIGINT to each process group, time to clean up, then SIGTERM/SIGKILL for any still running."""
    for process in processes:
        _signal_group(process, signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=INTERRUPT_GRACE_S)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            _terminate(process)
