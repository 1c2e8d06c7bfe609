"""`bakery env up|status|recreate|destroy` with two small fixture services (web, front), real podman and HAProxy."""

import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from bakery.errors import ExitStatus
from helpers import free_port

pytestmark = pytest.mark.integration

SERVICES = ["web", "front"]


def make_environment(project) -> None:
    """dev and staging hold web and front; each service has a balancer endpoint in dev."""
    config = project / "bakery.yml"
    data = yaml.safe_load(config.read_text())
    for env in ("dev", "staging"):
        data["environments"][env]["services"] = SERVICES
    for service in SERVICES:
        data["services"][service]["deploy"]["endpoints"] = {"dev": free_port()}
    config.write_text(yaml.safe_dump(data))


def stop_balancer(project, service: str, env: str) -> None:
    pid_file = project / ".bakery" / "lb" / f"{service}-{env}" / "haproxy.pid"
    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, signal.SIGTERM)
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.1)


def get(url: str) -> str:
    with urllib.request.urlopen(url + "/healthz", timeout=3) as response:
        return response.read().decode()


def env_status(cli, project, env="dev") -> dict:
    result = cli("-C", project, "env", "status", env, "--json")
    assert result.rc == 0, result.err
    return result.json()["services"]


@pytest.fixture
def env_project(cli, fixture_project):
    make_environment(fixture_project)
    yield fixture_project
    for env in ("dev", "staging"):
        cli("-C", fixture_project, "env", "destroy", env)


def test_env_up_recreate_and_destroy(cli, env_project):
    built = {}
    for service in SERVICES:
        result = cli("-C", env_project, "build", service, "--json")
        assert result.rc == 0, result.err
        built[service] = result.json()
    not_yet = cli("-C", env_project, "env", "up", "staging")
    assert not_yet.rc == ExitStatus.GATE_REFUSED and "nothing is deployed to dev yet" in not_yet.err

    up = cli("-C", env_project, "env", "up", "dev", "--json")
    assert up.rc == 0, up.err
    assert [(s["service"], s["action"]) for s in up.json()["services"]] == [("web", "deployed"), ("front", "deployed")]
    dev = env_status(cli, env_project)
    for service in SERVICES:
        assert dev[service]["image_id"] == built[service]["image_id"]
        assert dev[service]["all_healthy"] and dev[service]["replicas"] == 2
        assert dev[service]["endpoint"].startswith("http://127.0.0.1:")
    again = cli("-C", env_project, "env", "up", "dev", "--json")
    assert [s["action"] for s in again.json()["services"]] == ["unchanged", "unchanged"]

    stop_balancer(env_project, "web", "dev")  # as after a reboot: the replicas run, the balancer does not
    assert env_status(cli, env_project)["web"]["balancer_running"] is False
    healed = cli("-C", env_project, "env", "up", "dev", "--json")
    assert [s["action"] for s in healed.json()["services"]] == ["deployed", "unchanged"]
    assert "front" in get(dev["front"]["endpoint"]) and '"version": "1"' in get(dev["web"]["endpoint"])

    assert cli("-C", env_project, "env", "up", "staging").rc == 0
    staging = env_status(cli, env_project, "staging")
    assert {s: staging[s]["image_id"] for s in SERVICES} == {s: dev[s]["image_id"] for s in SERVICES}

    recreated = cli("-C", env_project, "env", "recreate", "dev", "--json")
    assert recreated.rc == 0, recreated.err
    assert recreated.json()["same"] is True and recreated.json()["differences"] == []
    after = env_status(cli, env_project)
    assert {s: after[s]["replicas"] for s in SERVICES} == {"web": 2, "front": 2}
    assert all(after[s]["all_healthy"] for s in SERVICES)

    tfvars = env_project / "terraform" / "envs" / "dev" / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text().replace("desired_capacity = 2", "desired_capacity = 1"))
    differs = cli("-C", env_project, "env", "recreate", "dev")
    assert differs.rc == ExitStatus.ENV_DIFFERS
    assert "DIFFERS: web: replicas was 2, is 1" in differs.out and "DIFFERS: front: replicas was 2, is 1" in differs.out

    assert cli("-C", env_project, "env", "destroy", "dev").rc == 0
    gone = env_status(cli, env_project)
    assert all(gone[s]["image"] is None and gone[s]["replicas"] == 0 for s in SERVICES)


def test_unknown_environment_and_service_list(cli, env_project):
    unknown = cli("-C", env_project, "env", "up", "qa")
    assert unknown.rc == ExitStatus.CONFIG and "unknown environment 'qa'" in unknown.err
    config = env_project / "bakery.yml"
    config.write_text(config.read_text().replace("- front", "- frnot"))
    bad = cli("-C", env_project, "env", "status", "dev")
    assert bad.rc == ExitStatus.CONFIG and "environments.dev.services: unknown service 'frnot'" in bad.err
