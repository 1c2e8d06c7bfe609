"""Checks shared by image suites and role tests. Each takes testinfra's `host` fixture only,
so it works against a podman container, an SSH host or a Molecule instance."""

from __future__ import annotations

import json
import os
import shlex
import time
from contextlib import nullcontext
from dataclasses import dataclass

# sshd -T loads a host key before it prints anything, and images are baked without host
# keys (a boot creates them), so a throwaway key stands in.
SSHD_EFFECTIVE_CONFIG = (
    'key_dir=$(mktemp -d) && ssh-keygen -q -t ed25519 -N "" -f "$key_dir/key" '
    '&& /usr/sbin/sshd -T -h "$key_dir/key"; rc=$?; rm -rf "$key_dir"; exit $rc'
)

# A tiny HTTP client run on the host: argv method, url[, JSON body]; prints the status, the
# headers and the body as JSON, for error statuses too. Connection errors fail the command.
HTTP_CLIENT = """
import json, sys, urllib.error, urllib.request
method, url, body = sys.argv[1], sys.argv[2], (sys.argv[3].encode() if len(sys.argv) > 3 else None)
headers = {"Content-Type": "application/json"} if body is not None else {}
request = urllib.request.Request(url, data=body, headers=headers, method=method)
try:
    response = urllib.request.urlopen(request, timeout=10)
except urllib.error.HTTPError as error:
    response = error
with response:
    text = response.read().decode("utf-8", "replace")
    headers = {name.lower(): value for name, value in response.headers.items()}
    print(json.dumps({"status": response.status, "headers": headers, "text": text}))
"""


def as_root(host):
    """Context for checks that need root: sudo, unless the connection already is root."""
    return nullcontext() if host.user().name == "root" else host.sudo()


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # names in lower case
    text: str


def http_request(host, method: str, url: str, body: str | None = None) -> HttpResponse:
    """Send a request from the host itself, with its python3 (every bakery image has it)."""
    argv = ["python3", "-c", HTTP_CLIENT, method, url] + ([] if body is None else [body])
    reply = json.loads(host.check_output(shlex.join(argv)))
    return HttpResponse(reply["status"], reply["headers"], reply["text"])


def http_json(host, method: str, url: str, body: str | None = None) -> tuple[int, dict]:
    """Send a request from the host; return (HTTP status, decoded JSON body)."""
    response = http_request(host, method, url, body)
    return response.status, json.loads(response.text)


def read_env_file(host, path: str) -> dict[str, str]:
    """KEY=VALUE lines of a systemd environment file (comments and blank lines skipped)."""
    with as_root(host):
        content = host.file(path).content_string
    lines = (line.strip() for line in content.splitlines())
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {key.strip(): value.strip().strip("\"'") for key, value in pairs}


def expected_app_identity(host, env_file: str | None = None) -> dict[str, str]:
    """The version and fingerprint the app must report: BAKERY_EXPECT_VERSION and
    BAKERY_EXPECT_FINGERPRINT, else APP_VERSION and IMAGE_FINGERPRINT from env_file."""
    app_env = read_env_file(host, env_file) if env_file else {}
    values = {
        "version": os.environ.get("BAKERY_EXPECT_VERSION") or app_env.get("APP_VERSION", ""),
        "fingerprint": os.environ.get("BAKERY_EXPECT_FINGERPRINT") or app_env.get("IMAGE_FINGERPRINT", ""),
    }
    where = "BAKERY_EXPECT_VERSION/BAKERY_EXPECT_FINGERPRINT" + (f" or {env_file}" if env_file else "")
    assert all(values.values()), f"no expected version/fingerprint in {where}: {values}"
    return values


def sshd_effective_config(host) -> dict[str, str]:
    """`sshd -T` as {option: value}; for repeated options the first value."""
    with as_root(host):
        output = host.check_output("sh -c %s", SSHD_EFFECTIVE_CONFIG)
    config: dict[str, str] = {}
    for line in output.splitlines():
        option, _, value = line.partition(" ")
        config.setdefault(option, value)
    return config


def assert_healthz(host, version: str, fingerprint: str, url: str = "http://127.0.0.1/healthz") -> None:
    status, body = http_json(host, "GET", url)
    assert status == 200, body
    assert body["status"] == "ok"
    assert (body["version"], body["fingerprint"]) == (version, fingerprint)


def assert_slugify(host, url: str = "http://127.0.0.1/v1/slugify") -> None:
    assert http_json(host, "POST", url, '{"text": "Hello World"}') == (200, {"slug": "hello-world"})
    status, body = http_json(host, "POST", url, "{not json")
    assert status == 400 and "error" in body


def assert_sshd_hardened(host) -> None:
    config = sshd_effective_config(host)
    assert config["permitrootlogin"] == "no"
    assert config["passwordauthentication"] == "no"
    assert config["kbdinteractiveauthentication"] == "no"


def assert_service_up(host, name: str) -> None:
    service = host.service(name)
    assert service.is_enabled, f"{name} is not enabled"
    assert service.is_running, f"{name} is not running"


def assert_file(host, path: str, mode: int, user: str, group: str) -> None:
    with as_root(host):
        file = host.file(path)
        assert file.is_file, f"{path} is missing"
        assert (oct(file.mode), file.user, file.group) == (oct(mode), user, group)


def assert_service_enabled(host, name: str) -> None:
    assert host.service(name).is_enabled, f"{name} is not enabled"


def assert_sshd_offers_publickey_only(host) -> None:
    """The running sshd (not just its files) offers no password or keyboard-interactive login."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=10", "root@127.0.0.1", "true"]
    result = host.run(shlex.join(argv))
    assert result.rc == 255, result
    assert "Permission denied (publickey)." in result.stderr, result.stderr


def assert_group_sudo_rule(host, group: str) -> None:
    """/etc/sudoers.d/<group> lets the group run anything without a password."""
    path = f"/etc/sudoers.d/{group}"
    assert_file(host, path, 0o440, "root", "root")
    with as_root(host):
        assert f"%{group} ALL=(ALL:ALL) NOPASSWD: ALL" in host.file(path).content_string


def assert_runs_as(host, command: str, user: str) -> None:
    processes = host.process.filter(comm=command)
    assert processes, f"no {command} process"
    assert {process.user for process in processes} == {user}


def assert_cannot_log_in(host, user: str) -> None:
    assert host.user(user).shell == "/usr/sbin/nologin"


def assert_listens_on_loopback_only(host, port: int) -> None:
    assert host.socket(f"tcp://127.0.0.1:{port}").is_listening, f"nothing listens on 127.0.0.1:{port}"
    assert not host.socket(f"tcp://0.0.0.0:{port}").is_listening, f"port {port} is open on every address"



def wait_until(condition, timeout_s: float, what: str) -> None:
    """Poll condition() until it is true; fail naming `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not after {timeout_s} s: {what}"
        time.sleep(0.5)
