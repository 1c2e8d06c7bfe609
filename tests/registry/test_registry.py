"""Images leave the machine: publish to a real registry, deploy by digest on another machine, refusals.

Each "machine" has its own podman storage root, state dir ($XDG_STATE_HOME: its signing key) and project copy.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bakery.errors import ExitStatus

pytestmark = pytest.mark.integration


def ok(result):
    assert result.rc == 0, result.err
    return result


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", *args], check=True, capture_output=True)


def test_publish_then_deploy_by_digest_elsewhere_and_refusals(cli, registry, machines, tmp_path):
    machine, use = machines
    url = registry.url("team")
    m1 = machine("m1", own_storage=False)  # the worktree's storage: its base is there already
    m1.configure(url)
    use(m1)
    unverified = ok(cli("-C", m1.project, "build", "web", "--no-verify", "--json")).json()
    refused = cli("-C", m1.project, "publish", "web", "--image", unverified["image"])
    assert refused.rc == ExitStatus.GATE_REFUSED and "only a verified image" in refused.err
    built = ok(cli("-C", m1.project, "build", "web", "--json")).json()
    published = ok(cli("-C", m1.project, "publish", "web", "--json")).json()
    assert published["image"] == f"{url}/web@{published['digest']}"
    assert published["attestation"] == f"{url}/web:{published['digest'].replace(':', '-')}.att"
    m1_key = tmp_path / "m1.pub"
    m1_key.write_text(ok(cli("-C", m1.project, "keys", "export")).out)

    m2 = machine("m2")  # no base, no image: the base comes by its input fingerprint, the image by its fingerprint
    use(m2)
    m2.configure(url, trust=[m1_key])
    referenced = ok(cli("-C", m2.project, "build", "web", "--no-pull", "--json")).json()
    assert referenced["image"] == published["image"] and referenced["verdict"] == "passed"
    assert not ok(cli("-C", m2.project, "images", "web", "--json")).json()  # nothing pulled
    reused = ok(cli("-C", m2.project, "build", "web", "--json"))
    result = reused.json()
    assert result["fingerprint"] == built["fingerprint"] and result["reused"] and result["verdict"] == "passed"
    assert result["source"] == published["image"]
    assert not (Path(result["run_dir"]) / "packer").exists()  # Packer never ran
    assert f"up to date (from {url}/web)" in reused.err

    m3 = machine("m3")
    use(m3)
    m3.configure(url)  # trusts only its own key
    untrusted = cli("-C", m3.project, "deploy", "web", "--env", "dev", "--image", published["image"])
    assert untrusted.rc == ExitStatus.GATE_REFUSED and "not a trusted key" in untrusted.err

    m3.configure(url, trust=[m1_key])
    other = f"{url}/web:pushed-over"  # an image pushed under a tag by hand, with no attestation
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"docker://{published['base']}",
           f"docker://{other}")
    other_digest = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{other}"],
                                             check=True, capture_output=True, text=True).stdout)["Digest"]
    assert other_digest != published["digest"]
    bare = cli("-C", m3.project, "deploy", "web", "--env", "dev", "--image", f"{url}/web@{other_digest}")
    assert bare.rc == ExitStatus.GATE_REFUSED and "has no attestation" in bare.err
    skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"docker://{published['attestation']}",
           f"docker://{url}/web:{other_digest.replace(':', '-')}.att")
    borrowed = cli("-C", m3.project, "deploy", "web", "--env", "dev", "--image", f"{url}/web@{other_digest}")
    assert borrowed.rc == ExitStatus.GATE_REFUSED and "names another digest" in borrowed.err

    wrong_service = cli("-C", m3.project, "deploy", "tiny", "--env", "dev", "--image", published["image"])
    assert wrong_service.rc == ExitStatus.GATE_REFUSED and "an image of 'web', not of 'tiny'" in wrong_service.err

    try:
        deployed = ok(cli("-C", m3.project, "deploy", "web", "--env", "dev", "--image", published["image"], "--json"))
        status = ok(cli("-C", m3.project, "status", "web", "--env", "dev", "--json")).json()
        assert status["deployment"]["fingerprint"] == built["fingerprint"], deployed.out
    finally:
        cli("-C", m3.project, "destroy", "web", "--env", "dev")


def test_tls_registry_with_a_ca_the_test_made(tmp_path):
    from registry_server import running_registry

    from bakery.errors import BakeryError
    from bakery.registry import Registry

    with running_registry(tmp_path / "tls", tls=True) as server:
        certs = tmp_path / "certs"
        certs.mkdir()
        (certs / "ca.crt").write_bytes(server.ca_file.read_bytes())
        trusting = Registry(server.url("team"), tls_verify=True, cert_dir=certs)
        ref = f"{server.url('team')}/web:sha256-{'0' * 64}.att"
        trusting.push_artifact(ref, b'{"payload": ""}', "application/vnd.dsse.envelope.v1+json")
        assert trusting.fetch_artifact(ref) == b'{"payload": ""}'
        with pytest.raises(BakeryError, match="certificate"):
            Registry(server.url("team"), tls_verify=True).manifest(ref)
