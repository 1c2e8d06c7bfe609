"""The api-service image, checked on a running instance through testinfra's `host` only.

Run: pytest tests/images/api-service --hosts=podman://NAME (or ssh://..., or from Molecule).
The expected version and fingerprint come from BAKERY_EXPECT_VERSION and
BAKERY_EXPECT_FINGERPRINT; when unset, from the image's own /etc/api-service/env.
"""

import pytest
from shared_checks import checks

APP_ENV_FILE = "/etc/api-service/env"


@pytest.fixture(scope="module")
def expected(host) -> dict[str, str]:
    return checks.expected_app_identity(host, APP_ENV_FILE)


@pytest.mark.parametrize("package", ["nginx", "python3", "python3-venv", "openssh-server", "sudo"])
def test_package_is_installed(host, package):
    assert host.package(package).is_installed


@pytest.mark.parametrize("service", ["api-service", "nginx", "ssh"])
def test_service_is_enabled_and_running(host, service):
    checks.assert_service_up(host, service)


def test_ssh_host_keys_are_regenerated_at_boot(host):
    checks.assert_service_enabled(host, "bakery-ssh-host-keys")  # bakery's seal


def test_app_runs_as_its_own_user(host):
    checks.assert_runs_as(host, "api-service", "api-service")


def test_service_user_cannot_log_in(host):
    checks.assert_cannot_log_in(host, "api-service")


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8080", "tcp://0.0.0.0:80"])
def test_socket_is_listening(host, address):
    assert host.socket(address).is_listening


def test_app_is_not_exposed_directly(host):
    checks.assert_listens_on_loopback_only(host, 8080)


def test_healthz_through_nginx(host, expected):
    checks.assert_healthz(host, expected["version"], expected["fingerprint"])


def test_slugify_through_nginx(host):
    checks.assert_slugify(host)


def test_sshd_refuses_root_and_passwords(host):
    checks.assert_sshd_hardened(host)


def test_app_env_file_is_readable_by_the_app_only(host):
    checks.assert_file(host, APP_ENV_FILE, 0o640, "root", "api-service")


def test_admins_sudo_without_password(host):
    checks.assert_group_sudo_rule(host, "admins")
