"""kill -9, SIGTERM and SIGHUP of a real `bakery build` during the bake."""

from __future__ import annotations

import json
import signal
import time

import pytest

from bakery.errors import ExitStatus
from faultkit import assert_no_secret_left, bake_until_ansible, wait_until_lock_free, wait_until_nothing_runs
from helpers import bakery_process, podman_json, processes_mentioning

pytestmark = [pytest.mark.faults, pytest.mark.integration]  # real podman, Packer, Ansible


def containers_of(run_id: str) -> list[dict]:
    return podman_json("ps", "-a", "--filter", f"label=bakery.run-id={run_id}")


def run_cli(project, *args: str):
    process = bakery_process(*args, cwd=project)
    out, err = process.communicate(timeout=900)
    return process.returncode, out, err


def test_kill_9_leaves_nothing_after_gc_orphans_and_the_next_build_works(faults_project):
    bake = bake_until_ansible(faults_project)
    lock = faults_project / ".bakery" / "locks" / "service-tiny.lock"
    bake.process.kill()
    bake.process.communicate()
    wait_until_lock_free(lock, 120, "the dead run's lock")  # its processes keep it until they are gone
    assert wait_until_nothing_runs(bake.run_id, timeout_s=0, but_containers=True) == []
    assert_no_secret_left(bake.run_id, bake.run_dir)

    rc, out, err = run_cli(faults_project, "gc", "--orphans", "--dry-run")
    assert rc == 0, err
    assert "lock" in out and "service-tiny.lock" in out  # the dead run held it
    rc, out, err = run_cli(faults_project, "doctor", "--json")
    orphans = next(c for c in json.loads(out) if c["name"] == "orphans")
    assert orphans["ok"] and "service-tiny.lock" in orphans["detail"]  # the same list, never a failure
    rc, out, err = run_cli(faults_project, "gc", "--orphans", "--json")
    assert rc == 0, err
    assert all(a["action"] == "removed" for a in json.loads(out)), out
    assert containers_of(bake.run_id) == []
    assert wait_until_nothing_runs(bake.run_id) == []
    rc, out, err = run_cli(faults_project, "gc", "--orphans", "--dry-run", "--json")
    assert json.loads(out) == []

    rc, out, err = run_cli(faults_project, "build", "tiny", "--force", "--no-verify", "--json")
    assert rc == 0, err
    assert json.loads(out)["image"].startswith("localhost/bakery/tiny:")


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, ExitStatus.INTERRUPTED), (signal.SIGHUP, ExitStatus.HANGUP)])
def test_sigterm_and_sighup_tear_the_bake_down(faults_project, sig, status):
    bake = bake_until_ansible(faults_project)
    bake.process.send_signal(sig)
    _, err = bake.process.communicate(timeout=300)
    assert bake.process.returncode == status, err
    assert "interrupted" in err.strip().splitlines()[-1]
    assert "Traceback" not in err
    assert wait_until_nothing_runs(bake.run_id) == []
    assert containers_of(bake.run_id) == []
    assert_no_secret_left(bake.run_id, bake.run_dir)
    state = json.loads((bake.run_dir / "state.json").read_text())["stages"]
    assert state[-1]["stage"] == "bake" and state[-1]["status"] == "failed"


def test_kill_9_during_verify_leaves_nothing_after_gc_orphans(faults_project):
    runs_dir = faults_project / ".bakery" / "runs"
    known = set(runs_dir.glob("*"))
    process = bakery_process("build", "tiny", "--force", cwd=faults_project)
    deadline = time.monotonic() + 600
    run_id = None
    while run_id is None:
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()[1][-2000:]
        fresh = [r.name for r in runs_dir.glob("*") if r not in known]
        if fresh and podman_json("ps", "--filter", f"name=bakery-verify-{fresh[0]}"):
            run_id = fresh[0]
        time.sleep(0.2)
    process.kill()
    process.communicate()
    assert wait_until_nothing_runs(run_id, but_containers=True) == []
    assert_no_secret_left(run_id, runs_dir / run_id)
    rc, out, err = run_cli(faults_project, "gc", "--orphans", "--dry-run", "--json")
    listed = json.loads(out)
    assert {"kind": "container", "ref": f"bakery-verify-{run_id}"}.items() <= next(
        a for a in listed if a["kind"] == "container").items()
    assert any(a["kind"] == "image" for a in listed)  # tagged by a run that never finished
    rc, out, err = run_cli(faults_project, "gc", "--orphans")
    assert rc == 0, err
    assert containers_of(run_id) == [] and wait_until_nothing_runs(run_id) == []
    rc, out, err = run_cli(faults_project, "build", "tiny", "--no-verify", "--json")  # the next run works
    assert rc == 0, err


def test_kill_9_during_a_base_bootstrap_keeps_the_old_base_and_gc_removes_its_work_dir(faults_project):
    work_root = faults_project / ".bakery" / "tmp"
    known = set(work_root.glob("base-debian-12-*"))
    process = bakery_process("base", "build", "debian-12", "--rebuild", cwd=faults_project)
    deadline = time.monotonic() + 300
    work = None
    while work is None:  # caught while mmdebstrap writes into its work dir
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()[1][-2000:]
        fresh = [d for d in work_root.glob("base-debian-12-*") if d not in known]
        if fresh and any("mmdebstrap" in p for p in processes_mentioning(str(fresh[0]))):
            work = fresh[0]
        time.sleep(0.2)
    process.kill()
    process.communicate()
    assert wait_until_nothing_runs(str(work)) == []  # mmdebstrap and its apt/dpkg died with bakery
    wait_until_lock_free(faults_project / ".bakery" / "locks" / "base-debian-12.lock", 60, "the dead bootstrap's lock")

    rc, out, err = run_cli(faults_project, "gc", "--orphans", "--dry-run", "--json")
    assert rc == 0, err
    assert {"kind": "work-dir", "ref": str(work), "action": "remove"}.items() <= next(
        a for a in json.loads(out) if a["kind"] == "work-dir").items()
    rc, out, err = run_cli(faults_project, "gc", "--orphans", "--json")
    assert rc == 0, err
    assert not work.exists()
    # the base the killed rebuild would have replaced is still there: nothing to bootstrap
    rc, out, err = run_cli(faults_project, "base", "build", "debian-12", "--json")
    assert rc == 0, err
    assert json.loads(out)["built"] is False


def test_kill_9_during_a_deploy_leaves_no_replica_after_gc_orphans(faults_project):
    rc, out, err = run_cli(faults_project, "build", "web", "--json")
    assert rc == 0, err
    runs_dir = faults_project / ".bakery" / "runs"
    known = set(runs_dir.glob("*"))
    process = bakery_process("deploy", "web", "--env", "dev", cwd=faults_project)
    deadline = time.monotonic() + 300
    run_id = None
    try:
        while run_id is None:  # caught when its first replica exists
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()[1][-2000:]
            fresh = [r.name for r in runs_dir.glob("*") if r not in known]
            if fresh and containers_of(fresh[0]):
                run_id = fresh[0]
            time.sleep(0.2)
        process.kill()
        process.communicate()
        assert wait_until_nothing_runs(run_id, but_containers=True) == []
        rc, out, err = run_cli(faults_project, "gc", "--orphans", "--dry-run", "--json")
        listed = {a["ref"] for a in json.loads(out) if a["kind"] == "container"}
        assert listed and listed == {c["Names"][0] for c in containers_of(run_id)}, out
        rc, out, err = run_cli(faults_project, "gc", "--orphans")
        assert rc == 0, err
        assert containers_of(run_id) == []
        rc, out, err = run_cli(faults_project, "status", "web", "--env", "dev", "--json")
        assert json.loads(out)["deployment"] is None and json.loads(out)["replicas"] == []  # nothing was recorded
        rc, out, err = run_cli(faults_project, "deploy", "web", "--env", "dev")  # the next deploy works
        assert rc == 0, err
    finally:
        run_cli(faults_project, "destroy", "web", "--env", "dev")


def start_and_catch(project, argv: list[str], caught, timeout_s: float = 600):
    """Start `bakery ARGV` and poll caught(fresh run ids) until it returns something truthy: (process, what)."""
    runs_dir = project / ".bakery" / "runs"
    known = set(runs_dir.glob("*"))
    process = bakery_process(*argv, cwd=project)
    deadline = time.monotonic() + timeout_s
    while True:
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()[1][-2000:]
        found = caught([r.name for r in runs_dir.glob("*") if r not in known])
        if found:
            return process, found
        time.sleep(0.2)


def verify_torn_down(project, sig, status) -> None:
    process, run_id = start_and_catch(project, ["build", "tiny", "--force"], lambda fresh: fresh and podman_json(
        "ps", "--filter", f"name=bakery-verify-{fresh[0]}") and fresh[0])
    process.send_signal(sig)
    _, err = process.communicate(timeout=300)
    assert process.returncode == status and "Traceback" not in err, err[-2000:]
    # interrupted in a child's wait ("bakery: error: interrupted; ...") or between two ("bakery: interrupted")
    assert err.strip().splitlines()[-1].startswith(("bakery: error: interrupted", "bakery: interrupted")), err[-2000:]
    assert containers_of(run_id) == [] and wait_until_nothing_runs(run_id) == []
    assert podman_json("ps", "-a", "--filter", f"name=bakery-verify-{run_id}") == []


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, ExitStatus.INTERRUPTED), (signal.SIGHUP, ExitStatus.HANGUP)])
def test_sigterm_and_sighup_in_verify_base_and_deploy_tear_down(faults_project, sig, status):
    # verify: its container is removed
    verify_torn_down(faults_project, sig, status)

    # base bootstrap: its work dir is removed, the old base stays
    work_root = faults_project / ".bakery" / "tmp"
    process, work = start_and_catch(faults_project, ["base", "build", "debian-12", "--rebuild"], lambda _: next(
        (d for d in work_root.glob("base-debian-12-*") if any("mmdebstrap" in p for p in processes_mentioning(str(d)))),
        None))
    process.send_signal(sig)
    _, err = process.communicate(timeout=300)
    assert process.returncode == status and "Traceback" not in err, err[-2000:]
    assert wait_until_nothing_runs(str(work)) == [] and not work.exists()
    rc, out, err = run_cli(faults_project, "base", "build", "debian-12", "--json")
    assert rc == 0 and json.loads(out)["built"] is False, err

    # deploy: the new replicas are removed, nothing is recorded
    assert run_cli(faults_project, "build", "web")[0] == 0
    try:
        process, run_id = start_and_catch(faults_project, ["deploy", "web", "--env", "dev"],
                                          lambda fresh: fresh and containers_of(fresh[0]) and fresh[0])
        process.send_signal(sig)
        _, err = process.communicate(timeout=300)
        assert process.returncode == status and "Traceback" not in err, err[-2000:]
        assert containers_of(run_id) == [] and wait_until_nothing_runs(run_id) == []
        rc, out, err = run_cli(faults_project, "status", "web", "--env", "dev", "--json")
        assert json.loads(out)["deployment"] is None and json.loads(out)["replicas"] == []
    finally:
        run_cli(faults_project, "destroy", "web", "--env", "dev")
