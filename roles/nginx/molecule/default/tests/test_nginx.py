"""Role nginx on a Molecule instance: port 80 proxies to the upstream on app_port (a stub
started by prepare.yml that serves /healthz like the app)."""

import pytest
from shared_checks import checks


@pytest.fixture(scope="module")
def expected(host) -> dict[str, str]:
    return checks.expected_app_identity(host)


def test_nginx_is_enabled_and_running(host):
    checks.assert_service_up(host, "nginx")


def test_nginx_listens_on_every_address(host):
    assert host.socket("tcp://0.0.0.0:80").is_listening


def test_healthz_is_proxied_to_the_upstream(host, expected):
    checks.assert_healthz(host, expected["version"], expected["fingerprint"])


def test_nginx_hides_its_version(host):
    assert checks.http_request(host, "GET", "http://127.0.0.1/healthz").headers["server"] == "nginx"


def test_requests_fail_with_502_while_the_upstream_is_down(host, expected):
    host.check_output("systemctl stop stub-upstream.service")
    try:
        assert checks.http_request(host, "GET", "http://127.0.0.1/healthz").status == 502
    finally:
        host.check_output("systemctl start stub-upstream.service")
    checks.wait_until(lambda: host.socket("tcp://127.0.0.1:8080").is_listening, 10, "the upstream listens again")
    checks.assert_healthz(host, expected["version"], expected["fingerprint"])
