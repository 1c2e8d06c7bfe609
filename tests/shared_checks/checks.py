"""Checks shared by image suites and role tests. Each takes testinfra's `host` fixture only,
so it works against a podman container, an SSH host or a Molecule instance."""

from __future__ import annotations

import json
import shlex
from contextlib import nullcontext

# sshd -T loads a host key before it prints anything, and images are baked without host
# keys (a boot creates them), so a throwaway key stands in.
SSHD_EFFECTIVE_CONFIG = (
    'key_dir=$(mktemp -d) && ssh-keygen -q -t ed25519 -N "" -f "$key_dir/key" '
    '&& /usr/sbin/sshd -T -h "$key_dir/key"; rc=$?; rm -rf "$key_dir"; exit $rc'
)


def as_root(host):
    """Context for checks that need root: sudo, unless the connection already is root."""
    return nullcontext() if host.user().name == "root" else host.sudo()


def http_json(host, method: str, url: str, body: str | None = None) -> tuple[int, dict]:
    """Send a request with curl on the host; return (HTTP status, decoded JSON body)."""
    argv = ["curl", "--silent", "--show-error", "--max-time", "10", "--request", method]
    if body is not None:
        argv += ["--header", "Content-Type: application/json", "--data-binary", body]
    argv += ["--write-out", r"\n%{http_code}", url]
    text, status = host.check_output(shlex.join(argv)).rsplit("\n", 1)
    return int(status), json.loads(text)


def read_env_file(host, path: str) -> dict[str, str]:
    """KEY=VALUE lines of a systemd environment file (comments and blank lines skipped)."""
    with as_root(host):
        content = host.file(path).content_string
    lines = (line.strip() for line in content.splitlines())
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {key.strip(): value.strip().strip("\"'") for key, value in pairs}


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
