"""The example api-service: a real bake of every role through Packer, then the verification gate."""

import json
import urllib.parse
from pathlib import Path

import pytest

from helpers import container_ids, copy_example_project, image_labels, processes_mentioning

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def example_project(tmp_path_factory) -> Path:
    """A copy of the repo's example project, so the test has its own .bakery state."""
    return copy_example_project(tmp_path_factory.mktemp("example") / "project")


def test_api_service_bakes_and_passes_verification(cli, example_project):
    before = container_ids()
    result = cli("-C", example_project, "build", "api-service", "--force", "--json")
    assert result.rc == 0, result.err
    built = result.json()
    assert built["verdict"] == "passed" and built["reused"] is False
    labels = image_labels(built["image"])
    assert labels["bakery.roles"] == "common,python_runtime,nginx,api_service"
    report = json.loads((Path(built["run_dir"]) / "verify-report.json").read_text())
    assert report["boot"]["state"] == "running"
    # The image runs sshd, so the suite went over SSH (one shared connection), which is now closed.
    assert report["host"].startswith("ssh://bakery-verify@"), report["host"]
    ssh_config = urllib.parse.parse_qs(urllib.parse.urlsplit(report["host"]).query)["ssh_config"][0]
    assert processes_mentioning(ssh_config) == [] and not Path(ssh_config).exists()
    assert all(h["passed"] for h in report["hygiene"]), report["hygiene"]
    outcomes = {t["name"].split("[")[0].split("::")[-1]: t["outcome"] for t in report["tests"]}
    assert len(outcomes) >= 8
    assert all(o == "passed" for o in outcomes.values()), outcomes
    assert any("healthz" in name for name in outcomes)
    assert container_ids() == before
    # Ansible reached the build container through its own sshd; that connection is closed.
    connection = json.loads((Path(built["run_dir"]) / "connection.json").read_text())
    assert connection["via"] == "container-sshd" and connection["base_has_sshd"] is True
    assert processes_mentioning(f"bakery-build-{built['run_id']}") == []
    assert processes_mentioning("bakery-conn-") == []
    events = list((Path(built["run_dir"]) / "ansible" / "job_events").glob("*.json"))
    roles_seen = {json.loads(e.read_text())["event_data"].get("role") for e in events}
    assert {"common", "python_runtime", "nginx", "api_service", "bakery_seal"} <= roles_seen
