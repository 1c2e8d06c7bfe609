"""Verdict signing and systemd health parsing: pure functions, in-memory inputs."""

import base64
import json

import pytest

from bakery import catalog, keys, systemd
from bakery.errors import ConfigError


@pytest.fixture(autouse=True)
def own_key_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv(keys.SIGNING_KEY_ENV, raising=False)


def verdict(**changes) -> catalog.Verdict:
    fields = dict(service="tiny", image="localhost/bakery/tiny:abc", image_id="sha256:" + "a" * 64, fingerprint="f" * 64,
                  verdict="passed", key={"suite": "s", "waivers": "w", "settings": "x", "checks": "2"},
                  report_sha256="", run_id="r1", at=1.0, bakery_version="0.1.0")
    return catalog.Verdict(**{**fields, **changes})


def test_the_machine_key_is_private_and_made_once(tmp_path):
    first = keys.public_pem()
    key_file = keys.keys_dir() / keys.PRIVATE_NAME
    assert key_file.stat().st_mode & 0o777 == 0o600 and keys.keys_dir().stat().st_mode & 0o777 == 0o700
    assert keys.public_pem() == first and first.startswith("-----BEGIN PUBLIC KEY-----")


def test_a_signature_holds_only_for_the_same_payload_and_a_trusted_key(tmp_path, monkeypatch):
    payload = {"image_id": "x", "verdict": "failed"}
    signature = keys.sign(payload)
    assert keys.check(payload, signature, keys.trusted_keys()) == ""
    assert "does not match" in keys.check({**payload, "verdict": "passed"}, signature, keys.trusted_keys())
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "other-machine"))
    assert "not a trusted key" in keys.check(payload, signature, keys.trusted_keys())


def test_a_recorded_verdict_reads_back_and_goes_stale_when_the_key_changes(tmp_path):
    state = tmp_path / ".bakery"
    report = b'{"verdict": "passed"}'
    import hashlib

    v = verdict(report_sha256=hashlib.sha256(report).hexdigest())
    catalog.record_verdict(state, v, report)
    trusted = keys.trusted_keys()
    assert catalog.verdict_state(state, v.image_id, lambda _: v.key, trusted).status == "passed"
    stale = catalog.verdict_state(state, v.image_id, lambda _: {**v.key, "suite": "edited"}, trusted)
    assert stale.status == "stale" and stale.changed == ("suite",)
    other = catalog.verdict_state(state, "sha256:" + "b" * 64, None, trusted)
    assert other.status == "unverified" and other.problem == ""  # no record at all


def test_a_report_changed_after_signing_makes_the_verdict_unverified(tmp_path):
    state = tmp_path / ".bakery"
    import hashlib

    v = verdict(report_sha256=hashlib.sha256(b"{}").hexdigest())
    catalog.record_verdict(state, v, b"{}")
    catalog.report_path(state, v.image_id).write_text('{"edited": true}')
    found = catalog.verdict_state(state, v.image_id, None, keys.trusted_keys())
    assert found.status == "unverified" and "was changed after the verdict was signed" in found.problem


@pytest.mark.parametrize("signature", [{"value": 1}, {"key_id": 5}, {"value": None, "key_id": None}],
                         ids=["value-not-text", "key-id-not-text", "both-null"])
def test_a_signature_of_the_wrong_type_makes_the_verdict_unverified_naming_the_file(tmp_path, caplog, signature):
    state = tmp_path / ".bakery"
    import hashlib

    v = verdict(report_sha256=hashlib.sha256(b"{}").hexdigest())
    path = catalog.record_verdict(state, v, b"{}")
    record = json.loads(path.read_text())
    record["signature"].update(signature)
    path.write_text(json.dumps(record))
    found = catalog.verdict_state(state, v.image_id, None, keys.trusted_keys())
    assert found.status == "unverified"
    assert found.problem == f"{path}: its signature is not readable (corrupt or edited by hand)"
    assert f"ignoring the verdict record {path}: its signature is not readable" in caplog.text


@pytest.mark.parametrize("content", ['[{"kind": "role"}]', '[1, 2]', '{"kind": "role"}',
                                     '[{"kind": "role", "name": "motd", "digest": "d", "parts": ["a"]}]'],
                         ids=["input-without-name", "not-inputs", "not-a-list", "parts-not-a-dict"])
def test_an_inputs_record_that_is_not_a_list_of_inputs_counts_as_absent_naming_the_file(tmp_path, caplog, content):
    state = tmp_path / ".bakery"
    catalog.record_inputs(state, "f" * 64, [{"kind": "role", "name": "motd", "digest": "d", "parts": {"a": "1"}}])
    assert catalog.inputs_for(state, "f" * 64)[0]["name"] == "motd"
    path = state / "catalog" / "inputs" / f"{'f' * 64}.json"
    path.write_text(content)
    assert catalog.inputs_for(state, "f" * 64) is None
    assert f"ignoring the damaged inputs record {path} (ValueError: not a list of inputs)" in caplog.text


def test_boot_is_not_done_while_a_job_is_queued_even_when_systemd_says_running():
    """The false pass of issue 14: `running` 0.7 s after boot while ssh.service still had a restart job queued."""
    answers = ["running\n@@bakery@@ jobs\n7 ssh.service restart waiting\n"] * 3 + ["running\n@@bakery@@ jobs\n"]
    script_answers = {"units": "", "restarts": ""}

    def shell(script: str) -> str:
        if "@@bakery@@ state" in script:  # the full health read, once boot is done
            return "@@bakery@@ state\nrunning\n" + "".join(f"@@bakery@@ {k}\n{v}" for k, v in script_answers.items())
        return answers.pop(0) if len(answers) > 1 else answers[0]

    import time

    booted = systemd.wait_for_boot(shell, timeout_s=60, started=time.monotonic(), poll_s=0)
    assert booted.state == "running" and booted.ok and answers == ["running\n@@bakery@@ jobs\n"]  # polled past the job

    queued = ["running\n@@bakery@@ jobs\n7 ssh.service restart waiting\n"]
    stuck = systemd.wait_for_boot(lambda script: queued[0], timeout_s=0.2, started=time.monotonic(), poll_s=0.05)
    assert stuck.state == "timeout" and stuck.pending_units == ("ssh.service",) and not stuck.ok
    assert "still starting: ssh.service" in stuck.describe()


def test_restart_counts_are_read_per_block_whatever_the_property_order():
    shown = ["NRestarts=0", "Id=ok.service", "", "NRestarts=4", "Id=loop.service", "", "Id=none.service"]
    assert systemd._restart_counts(shown) == {"ok.service": 0, "loop.service": 4}


def test_health_of_a_script_answer():
    out = "\n".join(["@@bakery@@ state", "running", "@@bakery@@ jobs", "@@bakery@@ units",
                     "crash.service loaded activating auto-restart Crashes", "@@bakery@@ restarts",
                     "NRestarts=2", "Id=crash.service", "", "NRestarts=1", "Id=flaky.service", ""])
    health = systemd.read_health(lambda script: out if "@@bakery@@ state" in script else "last line\n")
    assert not health.ok and health.state == "running"
    assert [(f.unit, f.problem) for f in health.findings] == [("crash.service", "waiting to restart"),
                                                             ("flaky.service", "restarted 1 time(s) since boot")]
    assert health.findings[0].journal == ("last line",)
    assert systemd.Health("running").ok


def test_keys_export_prints_the_key_that_signs(cli, tmp_path):
    result = cli("keys", "export", "--json")
    assert result.rc == 0, result.err
    exported = result.json()
    assert exported["public_key"] == keys.public_pem()
    payload = {"image_id": "x"}
    (tmp_path / "trusted.pem").write_text(exported["public_key"])
    assert keys.check(payload, keys.sign(payload), keys.load_public(tmp_path / "trusted.pem", "test")) == ""
    assert cli("keys", "export").out == exported["public_key"]


def test_a_project_signing_key_is_exported_beside_the_verdict_key_and_trusted_by_its_own_project(cli, tmp_path,
                                                                                                fixture_project):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from bakery import verify
    from bakery.config import load_project

    config = fixture_project / "bakery.yml"
    config.write_text(config.read_text() + "\nsigning:\n  key: ci/signing.pem\n")
    project = load_project(fixture_project)
    assert len(verify.trusted_keys(project)) == 1  # the key file is only on CI runners: this machine's key alone
    private = Ed25519PrivateKey.generate()
    (fixture_project / "ci").mkdir()
    (fixture_project / "ci" / "signing.pem").write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    result = cli("-C", fixture_project, "keys", "export", "--json")
    assert result.rc == 0, result.err
    exported = result.json()
    assert [k["signs"] for k in exported["keys"]] == ["verdicts", "attestations and canaries"]
    assert exported["keys"][1]["key_id"] == keys.key_id(private.public_key())
    assert exported["public_key"] == keys.public_pem() + keys.public_pem(private.public_key())
    human = cli("-C", fixture_project, "keys", "export")
    assert human.out == exported["public_key"] and "trust both elsewhere" in human.err

    # another machine trusts both from the one file; this project trusts its own signing key
    (tmp_path / "from-ci.pem").write_text(exported["public_key"])
    trusted = keys.load_public(tmp_path / "from-ci.pem", "trust.keys")
    attestation = {"digest": "sha256:" + "b" * 64}
    signed = keys.Signature(base64.b64encode(private.sign(keys.canonical(attestation))).decode(),
                            keys.key_id(private.public_key()))
    assert len(trusted) == 2 and keys.check(attestation, signed, trusted) == ""
    assert keys.check(attestation, signed, verify.trusted_keys(load_project(fixture_project))) == ""
    assert "not a trusted key" in keys.check(attestation, signed, keys.trusted_keys())


def test_a_trusted_key_file_without_a_public_key_names_the_file(tmp_path):
    (tmp_path / "bad.pem").write_text("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ConfigError, match=r"trust.keys: cannot read the public key .*bad.pem"):
        keys.load_public(tmp_path / "bad.pem", "trust.keys")
    (tmp_path / "empty.pem").write_text("")
    with pytest.raises(ConfigError, match="empty.pem"):
        keys.load_public(tmp_path / "empty.pem", "trust.keys")
