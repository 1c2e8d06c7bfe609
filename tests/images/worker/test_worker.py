"""The worker image, checked on a running instance through testinfra's `host` only.

Run: pytest tests/images/worker --hosts=podman://NAME. The expected version and fingerprint come
from BAKERY_EXPECT_VERSION and BAKERY_EXPECT_FINGERPRINT; when unset, from /etc/worker/env.
"""

import pytest
from shared_checks import checks

APP_ENV_FILE = "/etc/worker/env"


@pytest.fixture(scope="module")
def expected(host) -> dict[str, str]:
    return checks.expected_app_identity(host, APP_ENV_FILE)


@pytest.mark.parametrize("service", ["worker", "ssh"])
def test_service_is_enabled_and_running(host, service):
    checks.assert_service_up(host, service)


def test_worker_runs_as_its_own_user(host):
    processes = [p for p in host.process.filter(comm="python3") if "worker.py" in p.args]
    assert processes and {p.user for p in processes} == {"worker"}


def test_worker_user_cannot_log_in(host):
    checks.assert_cannot_log_in(host, "worker")


def test_healthz(host, expected):
    checks.assert_healthz(host, expected["version"], expected["fingerprint"], url="http://127.0.0.1:8090/healthz")


def test_a_job_in_the_inbox_gets_done(host):
    with checks.as_root(host):
        host.check_output("install -o worker -g worker -m 0640 /dev/null /var/lib/worker/inbox/probe.job")
        checks.wait_until(lambda: host.file("/var/lib/worker/done/probe.job").exists, 10, "the job moved to done")
        host.check_output("rm -f /var/lib/worker/done/probe.job")


def test_no_web_server(host):
    assert not host.package("nginx").is_installed


def test_sshd_refuses_root_and_passwords(host):
    checks.assert_sshd_hardened(host)
