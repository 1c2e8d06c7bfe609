"""`bakery build` on the local target with real podman, Packer and Ansible."""

import contextlib
import io
import json
import signal
import time
from pathlib import Path

import pytest
import yaml

from bakery import config, proc, strategy
from bakery.cli import main
from bakery.errors import ExitStatus
from helpers import bakery_process, container_ids, image_labels, podman_json, processes_mentioning

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_build(shared_project):
    """Bake the tiny fixture service once for this module (bootstraps the base on first use)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["-C", str(shared_project), "build", "tiny", "--force", "--json"])
    assert rc == 0
    return json.loads(out.getvalue())


def test_build_json_has_the_documented_fields(tiny_build, shared_project):
    assert tiny_build["service"] == "tiny"
    shared = f"localhost/bakery/tiny:{tiny_build['fingerprint'][:12]}"
    own = f"{shared}-{config.load_project(shared_project).identity[:8]}"  # when another project's image has the shared tag
    assert tiny_build["image"] in (shared, own)
    assert len(tiny_build["fingerprint"]) == 64
    assert tiny_build["duration_s"] > 0 and tiny_build["run_id"]
    assert tiny_build["reused"] is False


def test_image_carries_labels_and_the_roles_work(tiny_build):
    labels = image_labels(tiny_build["image"])
    assert labels["bakery.service"] == "tiny"
    assert labels["bakery.fingerprint"] == tiny_build["fingerprint"]
    assert labels["bakery.roles"] == "motd"
    assert labels["bakery.base"].startswith("localhost/bakery-base/debian-12:")
    assert labels["bakery.run-id"] == tiny_build["run_id"]
    for key in ("bakery.git-commit", "bakery.build-time", "bakery.version", "bakery.base-id"):
        assert labels[key]
    content = proc.run(["podman", "run", "--rm", "--entrypoint", "/bin/cat", tiny_build["image"], "/etc/motd"]).stdout
    assert content == f"baked by bakery ({tiny_build['fingerprint']})\n"


def test_run_directory_explains_the_run(tiny_build):
    run = Path(tiny_build["run_dir"])
    inputs = json.loads((run / "inputs.json").read_text())
    assert inputs["fingerprint"] == tiny_build["fingerprint"]
    assert {i["kind"] for i in inputs["inputs"]} >= {"base", "role", "playbook", "variables", "template", "tool"}
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["builds"][0]["custom_data"]["run_id"] == tiny_build["run_id"]
    assert any((run / "ansible" / "job_events").glob("*.json"))
    assert "Build 'bakery.docker.local' finished" in (run / "packer.log").read_text()
    stages = json.loads((run / "state.json").read_text())["stages"]
    assert [(s["stage"], s["status"]) for s in stages] == [("base", "ok"), ("fingerprint", "ok"), ("bake", "ok"), ("verify", "ok")]
    assert not list(run.rglob("extra-vars.json"))  # extra vars (possible secrets) stay out of the run dir


def test_packer_proxy_setting_bakes_through_packers_proxy(tiny_build, cli, fixture_project):
    # A service of its own: its image must not become the newest image of a service other tests plan
    # or verify against (images are machine-wide).
    config = fixture_project / "bakery.yml"
    data = yaml.safe_load(config.read_text())
    # Mitogen times out through Packer's proxy: asked for, it is refused in one line and the bake runs linear
    data["build"] = {**data.get("build", {}), "local_connection": "packer-proxy", "ansible_strategy": "mitogen"}
    data["services"]["proxied"] = {**data["services"]["tiny"], "variables": {"motd_text": "through the proxy"}}
    config.write_text(yaml.safe_dump(data))
    # --force: a bake even when an earlier run of this test left an image of these inputs
    result = cli("-C", fixture_project, "build", "proxied", "--force", "--no-verify", "--json")
    assert result.rc == 0, result.err
    built = result.json()
    assert built["ansible_strategy"] == "linear"
    assert [line for line in result.err.splitlines() if "Packer's SSH proxy" in line] == [
        "warning: ansible_strategy is mitogen, but " + strategy.PACKER_PROXY_PROBLEM + "; baking with the linear strategy"]
    connection = json.loads((Path(built["run_dir"]) / "connection.json").read_text())
    assert connection == {**connection, "via": "packer-proxy", "setting": "packer-proxy", "base_has_sshd": True}
    motd = proc.run(["podman", "run", "--rm", "--entrypoint", "/bin/cat", built["image"], "/etc/motd"]).stdout
    assert motd == f"through the proxy ({built['fingerprint']})\n"
    run = Path(tiny_build["run_dir"])
    assert json.loads((run / "connection.json").read_text())["via"] == "container-sshd"


def test_second_build_reuses_the_image(tiny_build, shared_project, cli):
    result = cli("-C", shared_project, "build", "tiny", "--json")
    assert result.rc == 0
    again = result.json()
    assert again["reused"] is True
    assert again["image"] == tiny_build["image"]
    assert "up to date" in result.err


def test_images_lists_the_build(tiny_build, shared_project, cli):
    result = cli("-C", shared_project, "images", "tiny", "--json")
    rows = result.json()
    row = next(r for r in rows if r["image"] == tiny_build["image"])
    assert row["fingerprint"] == tiny_build["fingerprint"]
    assert row["size_bytes"] > 10_000_000 and row["age"].endswith("ago")


def test_failing_task_names_role_task_and_log_and_leaves_nothing(tiny_build, shared_project, cli):
    before = container_ids()
    result = cli("-C", shared_project, "build", "broken")
    assert result.rc == ExitStatus.BUILD_FAILED
    error = result.err.strip().splitlines()[-1]
    assert "role 'broken' task 'Fail on purpose' failed" in error or "in role 'broken' task 'Fail on purpose'" in error
    assert "log: " in error and error.split("log: ")[1].rstrip(")").endswith("packer.log")
    assert container_ids() == before
    assert podman_json("images", "--filter", "reference=localhost/bakery/broken") == []


def test_sigint_stops_packer_and_exits_130(tiny_build, shared_project):
    before = container_ids()
    process = bakery_process("build", "tiny", "--force", cwd=shared_project)
    events = None
    runs_dir = shared_project / ".bakery" / "runs"
    known_runs = set(runs_dir.glob("*"))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        fresh = [r for r in runs_dir.glob("*") if r not in known_runs]
        if fresh and any((fresh[0] / "ansible" / "job_events").glob("*.json")):
            events = fresh[0]
            break
        time.sleep(0.2)
    assert events is not None, "the bake never reached Ansible"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=180)
    assert process.returncode == ExitStatus.INTERRUPTED
    assert "interrupted" in err
    assert container_ids() == before
    assert processes_mentioning(events.name) == []
    state = json.loads((events / "state.json").read_text())["stages"]
    assert state[-1] == {**state[-1], "stage": "bake", "status": "failed"}

