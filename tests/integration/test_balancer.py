"""The balancer on its own: real HAProxy in front of two real http.server processes (loopback, no podman)."""

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bakery.deploy.balancer import SOCKET_PATH_MAX, Balancer
from bakery.errors import ConfigError, DeployFailed
from bakery.state import StateDir
from helpers import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def backends(tmp_path):
    """Two web servers answering /healthz with their own name: a and b."""
    servers = {}
    for name in ("a", "b"):
        root = tmp_path / f"www-{name}"
        root.mkdir()
        (root / "healthz").write_text(f'{{"version": "{name}"}}')
        port = free_port()
        servers[name] = (subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                           "--directory", str(root)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL), f"http://127.0.0.1:{port}")
    yield {name: url for name, (_, url) in servers.items()}
    for process, _ in servers.values():
        process.terminate()
        process.wait()


@pytest.fixture
def balancer(tmp_path):
    lb = Balancer(StateDir(tmp_path / ".bakery"), "web", "dev", free_port(), "/healthz")
    yield lb
    lb.stop()


def answer(url: str) -> str:
    with urllib.request.urlopen(url + "/healthz", timeout=3) as response:
        return response.read().decode()


def wait_serving(url: str) -> None:
    import time

    for _ in range(50):
        try:
            answer(url)
            return
        except OSError:
            time.sleep(0.1)


def test_add_then_drain_switches_what_the_endpoint_serves(balancer, backends):
    for url in backends.values():
        wait_serving(url)
    balancer.start()
    assert balancer.running() and balancer.serving() == []
    [slot_a] = balancer.add([backends["a"]])
    assert [(s.name, s.addr, s.status) for s in balancer.serving()] == [
        (slot_a, backends["a"].removeprefix("http://"), "UP")]
    assert '"a"' in answer(balancer.url)

    balancer.add([backends["b"]])
    assert balancer.drain_all_but([backends["b"]]) == [slot_a]
    assert {answer(balancer.url) for _ in range(6)} == {'{"version": "b"}'}

    assert balancer.stop() is True
    assert not balancer.running() and not balancer.dir.exists()
    with pytest.raises(urllib.error.URLError):
        answer(balancer.url)
    balancer.check_port_free("endpoint")  # the closed connections (TIME_WAIT) do not hold the port
    balancer.start()
    assert balancer.running()


def test_a_replica_haproxy_never_calls_up_is_taken_out_again(balancer):
    balancer.start()
    with pytest.raises(DeployFailed, match="health check did not pass"):
        balancer.add([f"http://127.0.0.1:{free_port()}"], timeout_s=2)
    assert balancer.serving() == []


def test_long_state_paths_put_the_socket_in_the_temp_dir(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    lb = Balancer(StateDir(deep / ".bakery"), "web", "dev", free_port(), "/healthz")
    assert len(str(lb.dir / "admin.sock")) > SOCKET_PATH_MAX and lb.socket_path.parent != lb.dir
    try:
        lb.start()
        assert lb.running() and lb.slots()
    finally:
        lb.stop()
    assert not lb.socket_path.exists()


def test_a_taken_port_is_a_config_error(balancer):
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", balancer.port))
        with pytest.raises(ConfigError, match=f"endpoints.dev: port {balancer.port} on 127.0.0.1 is in use"):
            balancer.check_port_free("services.web.deploy.endpoints.dev")
    assert not Path(balancer.dir).exists()


def test_a_health_path_haproxy_cannot_take_is_a_config_error(tmp_path):
    lb = Balancer(StateDir(tmp_path / ".bakery"), "web", "dev", free_port(), "/healthz now\n    bind :80")
    with pytest.raises(ConfigError, match="services.web.deploy.health_path: .* cannot be a load balancer health check") as err:
        lb.start()
    assert "\n" not in err.value.one_line()
    assert not lb.dir.exists() and not lb.running()
