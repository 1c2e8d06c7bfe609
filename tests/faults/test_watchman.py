"""The watchman (bakery/supervisor.py) without Packer: a process that holds a bakery lock and runs a
command through bakery/proc.py is killed with SIGKILL; its command group, and a descendant that
left the group, are stopped, its private dir goes, and the lock is free only after all that."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from bakery import locks, private
from faultkit import lock_is_free, private_root, wait_until_lock_free
from helpers import processes_mentioning

pytestmark = [pytest.mark.faults, pytest.mark.integration]  # real podman, Packer, Ansible

HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from bakery import locks, private, proc
    state, marker = Path(sys.argv[1]), sys.argv[2]
    with locks.held(state, "service-x", print, "run-" + marker), private.private_dir("run-" + marker, "vars") as keys:
        (keys / "secret").write_text("s3cret")
        print(keys, flush=True)
        # TERM ignored: the watchman must escalate to SIGKILL; the setsid'd sleep leaves the group
        proc.run(["sh", "-c", f"trap '' TERM; setsid sleep 3600{marker} & sleep 3601{marker}; wait"])
""")


def test_a_killed_holder_leaves_nothing_and_its_lock_frees_last(tmp_path):
    marker = str(time.monotonic_ns())[-6:]
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), marker], stdout=subprocess.PIPE, text=True)
    keys = holder.stdout.readline().strip()
    deadline = time.monotonic() + 60
    while len(processes_mentioning("sleep 36")) < 2 or not any(marker in p for p in processes_mentioning("sleep 3600")):
        assert time.monotonic() < deadline and holder.poll() is None, "the holder never started its command"
        time.sleep(0.1)
    time.sleep(1.5)  # the watchman looks at descendants every second
    lock = locks.lock_dir(tmp_path) / "service-x.lock"
    holder.kill()
    holder.wait()
    assert not lock_is_free(lock)  # the command still runs: the dead holder's lock is held for it
    wait_until_lock_free(lock, 60, "the lock")
    assert [p for p in processes_mentioning(marker) if "sleep" in p] == []
    assert not (private_root() / f"run-{marker}").exists() and keys
    assert [s.holder["run_id"] for s in locks.stale_locks(tmp_path)] == [f"run-{marker}"]
    assert all(d.run_id != f"run-{marker}" for d in private.dead_dirs())
