"""The web front image, checked on a running instance through testinfra's `host` only.

Run: pytest tests/images/web --hosts=podman://NAME. The expected version and fingerprint come
from BAKERY_EXPECT_VERSION and BAKERY_EXPECT_FINGERPRINT; when unset, from /etc/web-front/env.
"""

import pytest
from shared_checks import checks

APP_ENV_FILE = "/etc/web-front/env"


@pytest.fixture(scope="module")
def expected(host) -> dict[str, str]:
    return checks.expected_app_identity(host, APP_ENV_FILE)


@pytest.mark.parametrize("service", ["web-front", "nginx", "ssh"])
def test_service_is_enabled_and_running(host, service):
    checks.assert_service_up(host, service)


def test_app_runs_as_its_own_user(host):
    processes = [p for p in host.process.filter(comm="python3") if "web_front.py" in p.args]
    assert processes and {p.user for p in processes} == {"web-front"}


def test_app_is_not_exposed_directly(host):
    checks.assert_listens_on_loopback_only(host, 8080)


def test_healthz_through_nginx(host, expected):
    checks.assert_healthz(host, expected["version"], expected["fingerprint"])


def test_page_through_nginx(host, expected):
    response = checks.http_request(host, "GET", "http://127.0.0.1/")
    assert response.status == 200 and f"web front {expected['version']}" in response.text


def test_sshd_refuses_root_and_passwords(host):
    checks.assert_sshd_hardened(host)
