"""Local rollout with real podman: blue/green replicas, health gates, promotion order."""

import json
import threading
import time
import urllib.request

import pytest
import yaml

from bakery.errors import ExitStatus

pytestmark = pytest.mark.integration


def set_web(project, version: str, healthy: bool = True) -> None:
    config = project / "bakery.yml"
    data = yaml.safe_load(config.read_text())
    data["services"]["web"]["variables"] = {"web_version": version, "web_healthy": healthy}
    config.write_text(yaml.safe_dump(data))


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=3) as response:
        return json.loads(response.read())


def status(cli, project, env="dev") -> dict:
    result = cli("-C", project, "status", "web", "--env", env, "--json")
    assert result.rc == 0, result.err
    return result.json()


def build(cli, project) -> dict:
    result = cli("-C", project, "build", "web", "--json")
    assert result.rc == 0, result.err
    return result.json()


class Poller(threading.Thread):
    """Polls URLs until stopped (bounded: at most 2000 requests) and counts failures."""

    def __init__(self, urls):
        super().__init__(daemon=True)
        self.urls, self.stop, self.requests, self.failures = urls, threading.Event(), 0, []

    def run(self):
        while not self.stop.is_set() and self.requests < 2000:
            for url in self.urls:
                self.requests += 1
                try:
                    get_json(url + "/healthz")
                except OSError as exc:
                    self.failures.append(str(exc))
            time.sleep(0.05)


@pytest.fixture
def web_project(cli, fixture_project):
    yield fixture_project
    for env in ("dev", "staging", "prod"):
        cli("-C", fixture_project, "destroy", "web", "--env", env)


def test_blue_green_rollout_and_rejected_release(cli, web_project):
    v1 = build(cli, web_project)
    assert cli("-C", web_project, "deploy", "web", "--env", "dev").rc == 0
    replicas = status(cli, web_project)["replicas"]
    assert len(replicas) == 2 and all(r["healthy"] for r in replicas)
    assert {get_json(r["url"] + "/healthz")["version"] for r in replicas} == {"1"}

    set_web(web_project, "2")
    v2 = build(cli, web_project)
    assert cli("-C", web_project, "deploy", "web", "--env", "dev").rc == 0
    replicas = status(cli, web_project)["replicas"]
    assert len(replicas) == 2
    assert {get_json(r["url"] + "/healthz")["version"] for r in replicas} == {"2"}
    assert {r["fingerprint"] for r in replicas} == {v2["fingerprint"]} != {v1["fingerprint"]}

    set_web(web_project, "3", healthy=False)
    build(cli, web_project)  # verification passes: the suite does not ask for /healthz
    poller = Poller([r["url"] for r in replicas])
    poller.start()
    result = cli("-C", web_project, "deploy", "web", "--env", "dev")
    poller.stop.set()
    poller.join()
    assert result.rc == ExitStatus.DEPLOY_FAILED
    assert "did not get healthy" in result.err and "old ones keep serving" in result.err
    assert poller.requests > 10 and poller.failures == []
    after = status(cli, web_project)["replicas"]
    assert sorted(r["name"] for r in after) == sorted(r["name"] for r in replicas)
    assert status(cli, web_project)["deployment"]["fingerprint"] == v2["fingerprint"]


def test_destroy_then_deploy_recreates_the_same(cli, web_project):
    built = build(cli, web_project)
    assert cli("-C", web_project, "deploy", "web", "--env", "dev").rc == 0
    before = status(cli, web_project)["replicas"]
    assert cli("-C", web_project, "destroy", "web", "--env", "dev").rc == 0
    assert status(cli, web_project) == {"deployment": None, "replicas": [], "health": {
        "desired": 0, "running": 0, "healthy": 0, "orphans": [], "degraded": False}, "endpoint": None}
    assert cli("-C", web_project, "deploy", "web", "--env", "dev", "--image", built["image"]).rc == 0
    after = status(cli, web_project)["replicas"]
    assert len(after) == len(before) == 2
    assert {r["fingerprint"] for r in after} == {r["fingerprint"] for r in before} == {built["fingerprint"]}


def test_gates_enforce_the_promotion_order(cli, web_project):
    built = build(cli, web_project)
    refused = cli("-C", web_project, "deploy", "web", "--env", "staging", "--image", built["image"])
    assert refused.rc == ExitStatus.GATE_REFUSED
    assert "staging needs a healthy dev deployment" in refused.err
    assert cli("-C", web_project, "deploy", "web", "--env", "dev").rc == 0
    assert cli("-C", web_project, "deploy", "web", "--env", "staging").rc == 0
    no_approval = cli("-C", web_project, "deploy", "web", "--env", "prod")
    assert no_approval.rc == ExitStatus.GATE_REFUSED and "needs approval" in no_approval.err
    assert cli("-C", web_project, "deploy", "web", "--env", "prod", "--approve").rc == 0
    assert len(status(cli, web_project, "prod")["replicas"]) == 1


def test_unverified_image_is_refused(cli, web_project):
    set_web(web_project, "unverified")
    result = cli("-C", web_project, "build", "web", "--no-verify", "--json")
    assert result.rc == 0
    refused = cli("-C", web_project, "deploy", "web", "--env", "dev", "--image", result.json()["image"])
    assert refused.rc == ExitStatus.GATE_REFUSED and "not verified" in refused.err
