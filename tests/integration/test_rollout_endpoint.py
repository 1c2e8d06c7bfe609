"""One stable address per environment: real HAProxy in front of real podman replicas, no request dropped."""

import urllib.error
import urllib.request

import pytest
import yaml

from bakery.errors import ExitStatus
from helpers import RequestLoop, free_port

pytestmark = pytest.mark.integration


def configure_web(project, version: str, healthy: bool = True, endpoint: int | None = None) -> None:
    config = project / "bakery.yml"
    data = yaml.safe_load(config.read_text())
    web = data["services"]["web"]
    web["variables"] = {"web_version": version, "web_healthy": healthy}
    if endpoint is not None:
        web["deploy"]["endpoints"] = {"dev": endpoint}
    config.write_text(yaml.safe_dump(data))


def build(cli, project) -> dict:
    result = cli("-C", project, "build", "web", "--json")
    assert result.rc == 0, result.err
    return result.json()


def status(cli, project) -> dict:
    result = cli("-C", project, "status", "web", "--env", "dev", "--json")
    assert result.rc == 0, result.err
    return result.json()


def slots_of(status_json: dict) -> list[tuple[str, str, str]]:
    return sorted((s["name"], s["addr"], s["status"]) for s in status_json["endpoint"]["servers"])


def deploy_under_load(cli, project, url: str, *args: str):
    with RequestLoop(url + "/healthz", rate=20) as loop:
        result = cli("-C", project, "deploy", "web", "--env", "dev", *args)
    return result, loop


@pytest.fixture
def web_project(cli, fixture_project):
    yield fixture_project
    cli("-C", fixture_project, "destroy", "web", "--env", "dev")


def test_rollouts_through_the_balancer_drop_no_request(cli, web_project):
    port = free_port()
    configure_web(web_project, "1", endpoint=port)
    v1 = build(cli, web_project)
    assert cli("-C", web_project, "deploy", "web", "--env", "dev").rc == 0
    endpoint = status(cli, web_project)["endpoint"]
    assert endpoint["url"] == f"http://127.0.0.1:{port}" and endpoint["running"]
    assert len(endpoint["servers"]) == 2 and {s["status"] for s in endpoint["servers"]} == {"UP"}

    configure_web(web_project, "2")
    v2 = build(cli, web_project)
    deployed, loop = deploy_under_load(cli, web_project, endpoint["url"])
    assert deployed.rc == 0, deployed.err
    assert loop.sent > 10 and loop.failures == []
    assert loop.versions[0] == "1" and loop.versions[-1] == "2"
    serving = status(cli, web_project)
    assert {r["fingerprint"] for r in serving["replicas"]} == {v2["fingerprint"]}
    assert sorted(s["addr"] for s in serving["endpoint"]["servers"]) == \
        sorted(r["url"].removeprefix("http://") for r in serving["replicas"])

    configure_web(web_project, "3", healthy=False)
    build(cli, web_project)
    failed, loop = deploy_under_load(cli, web_project, endpoint["url"])
    assert failed.rc == ExitStatus.DEPLOY_FAILED, failed.err
    assert loop.sent > 10 and loop.failures == [] and set(loop.versions) == {"2"}
    assert slots_of(status(cli, web_project)) == slots_of(serving)  # the balancer was never touched

    rolled_back, loop = deploy_under_load(cli, web_project, endpoint["url"], "--image", v1["image"])
    assert rolled_back.rc == 0, rolled_back.err
    assert loop.sent > 10 and loop.failures == []
    assert loop.versions[-1] == "1"
    assert {r["fingerprint"] for r in status(cli, web_project)["replicas"]} == {v1["fingerprint"]}

    assert cli("-C", web_project, "destroy", "web", "--env", "dev").rc == 0
    assert status(cli, web_project)["endpoint"] == {"url": endpoint["url"], "running": False, "servers": []}
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(endpoint["url"] + "/healthz", timeout=3)


def test_endpoint_port_in_use_is_refused_before_any_replica_starts(cli, web_project):
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        configure_web(web_project, "1", endpoint=squatter.getsockname()[1])
        build(cli, web_project)
        refused = cli("-C", web_project, "deploy", "web", "--env", "dev")
    assert refused.rc == ExitStatus.CONFIG
    assert "services.web.deploy.endpoints.dev" in refused.err and "in use" in refused.err
    assert status(cli, web_project)["replicas"] == []
