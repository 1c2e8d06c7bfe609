"""Role api_service on a Molecule instance (no nginx here: requests go to the app's port)."""

import pytest
from shared_checks import checks

APP_ENV_FILE = "/etc/api-service/env"
APP_URL = "http://127.0.0.1:8080"
UNIT = "api-service.service"


@pytest.fixture(scope="module")
def expected(host) -> dict[str, str]:
    return checks.expected_app_identity(host, APP_ENV_FILE)


def test_service_is_enabled_and_running(host):
    checks.assert_service_up(host, "api-service")


def test_healthz_reports_version_and_fingerprint(host, expected):
    checks.assert_healthz(host, expected["version"], expected["fingerprint"], url=f"{APP_URL}/healthz")


def test_slugify(host):
    checks.assert_slugify(host, url=f"{APP_URL}/v1/slugify")


def test_app_listens_on_loopback_only(host):
    checks.assert_listens_on_loopback_only(host, 8080)


def test_app_runs_as_its_own_user(host):
    checks.assert_runs_as(host, "api-service", "api-service")


def test_service_user_cannot_log_in(host):
    checks.assert_cannot_log_in(host, "api-service")


def test_app_env_file_is_readable_by_the_app_only(host):
    checks.assert_file(host, APP_ENV_FILE, 0o640, "root", "api-service")


def test_app_comes_back_after_a_crash(host, expected):
    crashed_pid = main_pid(host)
    host.check_output(f"systemctl kill --signal=SIGKILL {UNIT}")
    checks.wait_until(lambda: main_pid(host) not in ("0", crashed_pid), 30, f"{UNIT} restarted")
    checks.wait_until(lambda: host.socket("tcp://127.0.0.1:8080").is_listening, 30, "the app listens again")
    checks.assert_healthz(host, expected["version"], expected["fingerprint"], url=f"{APP_URL}/healthz")


def main_pid(host) -> str:
    return host.check_output(f"systemctl show --property=MainPID --value {UNIT}")
