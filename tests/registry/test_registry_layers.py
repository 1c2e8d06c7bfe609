"""Role layers travel (build.cache: registry): a one-role edit on a fresh machine bakes one role.

Machine a bakes, verifies and publishes a two-role service; machine b (its own podman storage and
state dir, the same CI signing key) edits the last role and bakes only that role and the seal on
a's first layer, and its image passes verification (a's canary included). Layers that are not
attested by a trusted key, or whose canaries another key derives, are not used.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from bakery.events import to_task_event
from helpers import image_labels

pytestmark = pytest.mark.integration

STACK_PLAY = [{"name": "Two roles whose layers do not depend on the build", "hosts": "all", "become": True,
               "roles": ["static_file", "cleanup"]}]
STACK_SUITE = 'def test_the_static_file_is_there(host):\n    assert host.file("/etc/static-file").exists\n'
EDIT = ('- name: An edit of the last role\n  ansible.builtin.copy:\n    content: "edited\\n"\n'
        '    dest: /etc/edited\n    mode: "0644"\n')


def ok(result):
    assert result.rc == 0, result.err
    return result


def write_key(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


def add_stack_service(machine, registry_url: str, trust: list[Path] = ()) -> None:
    """The machine's project with a service `stack` (static_file, cleanup) and build.cache: registry."""
    machine.configure(registry_url, trust)
    project = machine.project
    (project / "playbooks" / "stack.yml").write_text(yaml.safe_dump(STACK_PLAY))
    (project / "tests" / "images" / "stack").mkdir(parents=True)
    (project / "tests" / "images" / "stack" / "test_stack.py").write_text(STACK_SUITE)
    config = yaml.safe_load((project / "bakery.yml").read_text())
    config["services"]["stack"] = {"playbook": "playbooks/stack.yml", "base": "debian-12"}
    config["build"] = {**config.get("build", {}), "cache": "registry"}
    (project / "bakery.yml").write_text(yaml.safe_dump(config))


def roles_run(run_dir: str) -> set[str]:
    """The roles Ansible ran tasks of in a build's run (its job events)."""
    events = [to_task_event(json.loads(p.read_text())) for p in (Path(run_dir) / "ansible" / "job_events").glob("*.json")]
    return {e.role for e in events if e is not None and e.kind == "task_start" and e.role}


def test_a_one_role_edit_on_a_fresh_machine_bakes_one_role(cli, registry, machines, tmp_path, monkeypatch):
    machine, use = machines
    url = registry.url("layers")
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(write_key(tmp_path / "ci.pem")))  # every runner of one CI
    a = machine("a", own_storage=False)  # the worktree's storage: its base is there already
    add_stack_service(a, url)
    use(a)
    built = ok(cli("-C", a.project, "build", "stack", "--json")).json()
    published = ok(cli("-C", a.project, "publish", "stack", "--json")).json()
    chain = image_labels(built["image"])["bakery.layer-chain"].split(",")
    assert published["layers"] == [f"{url}/bakery-layer/static_file:{chain[0]}", f"{url}/bakery-layer/cleanup:{chain[1]}"]
    first_layer = image_labels(f"localhost/bakery-layer/static_file:{chain[0]}")

    b = machine("b")  # no base, no layers; the last role edited
    add_stack_service(b, url)
    with open(b.project / "roles" / "cleanup" / "tasks" / "main.yml", "a") as tasks:
        tasks.write(EDIT)
    use(b)
    baked = ok(cli("-C", b.project, "build", "stack", "--json"))
    result = baked.json()
    assert f"layer 01 (static_file) from {url}" in baked.err
    assert result["layers_reused"] == 1 and result["verdict"] == "passed"
    assert result["layers_from"].startswith(f"{published['layers'][0].rsplit(':', 1)[0]}@sha256:")
    assert roles_run(result["run_dir"]) == {"cleanup", "bakery_seal"}
    labels = image_labels(result["image"])
    assert labels["bakery.run-id.00"] == first_layer["bakery.run-id.00"] != result["run_id"]  # a baked it
    report = json.loads((Path(result["run_dir"]) / "verify-report.json").read_text())
    assert next(h for h in report["hygiene"] if h["check"] == "canary-secret")["passed"]  # a's canary checked here

    a_public = tmp_path / "ci.pub"
    a_public.write_text(ok(cli("-C", a.project, "keys", "export")).out)
    untrusted_or_other_canary_key(machine, use, url, published["layers"][0], first_layer["bakery.layer-key"],
                                  a_public, tmp_path, monkeypatch)

    c = machine("c")  # the same CI key; the first layer's tag pushed over by an image with no attestation
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(tmp_path / "ci.pem"))
    add_stack_service(c, url)
    with open(c.project / "roles" / "cleanup" / "tasks" / "main.yml", "a") as tasks:  # not a's image either
        tasks.write(EDIT.replace("/etc/edited", "/etc/edited-too"))
    subprocess.run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                    f"docker://{published['base']}", f"docker://{published['layers'][0]}"], check=True,
                   capture_output=True)
    use(c)
    tampered = ok(cli("-C", c.project, "build", "stack", "--no-verify", "--json"))
    rebaked = tampered.json()
    assert rebaked["layers_reused"] == 0 and rebaked["layers_from"] == ""
    assert roles_run(rebaked["run_dir"]) >= {"static_file", "cleanup"}
    assert f"not using layer {published['layers'][0]}" in tampered.err and "has no attestation" in tampered.err


def untrusted_or_other_canary_key(machine, use, url, layer_ref, layer_key, a_public, tmp_path, monkeypatch):
    """Machine d signs with another key: a's layer is refused when a's key is not trusted, and when it is
    (its canaries derive from a's key: an image baked on it could not pass here). Checked without baking."""
    from bakery.config import load_project
    from bakery.layers import LayerStep
    from bakery.registry import registry_for
    from bakery.registry_layers import fetch_layer

    d = machine("d")
    use(d)
    monkeypatch.setenv("BAKERY_SIGNING_KEY", str(write_key(tmp_path / "d.pem")))
    step = LayerStep(0, "static_file", Path("unused.yml"), layer_key)
    add_stack_service(d, url)
    for trust, why in (([], "not a trusted key"), ([a_public], "derive from another signing key")):
        d.configure(url, trust)
        project = load_project(d.project)
        said: list[str] = []
        assert fetch_layer(project, registry_for(project), step, said.append) is None
        assert len(said) == 1 and layer_ref in said[0] and why in said[0], said
