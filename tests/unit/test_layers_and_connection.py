"""The playbook of a layered run and the build container's SSH connection (no containers)."""

import dataclasses
import json
import os
import subprocess

import yaml

from bakery.fingerprint import Fingerprint
from bakery.layers import LayerStep, plan_layers, write_run_playbook
from bakery.playbook import resolve_playbook
from bakery.targets import container_ssh


def one_role_playbook(tmp_path, index: int, role: str):
    path = tmp_path / f"{index:02d}-{role}.yml"
    path.write_text(yaml.safe_dump([{"name": "Bake", "hosts": "all", "become": True, "roles": [role]}]))
    return LayerStep(index, role, path, f"{index}" * 64)


def test_run_playbook_commits_every_layer_but_the_last(tmp_path):
    steps = [one_role_playbook(tmp_path, i, role) for i, role in enumerate(["nginx", "api_service", "cleanup"], 2)]
    path = write_run_playbook(steps, tmp_path / "run.yml", lambda step: ["podman", "commit", "c", step.ref])
    plays = yaml.safe_load(path.read_text())
    assert [p.get("roles", ["commit"])[0] for p in plays] == ["nginx", "commit", "api_service", "commit", "cleanup"]
    commits = [p for p in plays if "tasks" in p]
    assert all(p["hosts"] == "localhost" and p["connection"] == "local" and p["become"] is False for p in commits)
    argvs = [p["tasks"][0]["ansible.builtin.command"]["argv"] for p in commits]
    assert argvs == [["podman", "commit", "c", steps[0].ref], ["podman", "commit", "c", steps[1].ref]]
    assert plays[0] == yaml.safe_load(steps[0].playbook.read_text())[0]


def test_a_layer_keyed_by_the_image_fingerprint_is_not_committed(tmp_path):
    """No other bake can reuse it (its role mentions bakery_fingerprint), so its commit would be time spent for nothing."""
    nginx, api, seal = (one_role_playbook(tmp_path, i, role) for i, role in enumerate(["nginx", "api_service", "seal"]))
    steps = [nginx, dataclasses.replace(api, shareable=False), seal]
    plays = yaml.safe_load(write_run_playbook(steps, tmp_path / "run.yml", lambda s: ["commit", s.ref]).read_text())
    assert [p.get("roles", ["commit"])[0] for p in plays] == ["nginx", "commit", "api_service", "seal"]


def test_layers_from_a_role_that_mentions_per_image_values_on_are_pinned(tmp_path):
    roles = tmp_path / "roles"
    for role, text in (("plain", "msg: hello"), ("stamped", "msg: '{{ bakery_fingerprint }}'"),
                       ("app", "src: '{{ bakery_app_src }}'")):
        (roles / role / "tasks").mkdir(parents=True)
        (roles / role / "tasks" / "main.yml").write_text(f"- ansible.builtin.debug:\n    {text}\n")
    playbook = tmp_path / "site.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "roles": ["plain", "stamped", "app", "plain"]}]))
    steps = plan_layers(resolve_playbook(playbook, roles), Fingerprint("f" * 64, ()), "base", roles, tmp_path / "out",
                        sealed=True)
    assert [(s.role, s.shareable) for s in steps] == [("plain", True), ("stamped", False), ("app", False),
                                                      ("plain", False), ("bakery_seal", False)]
    playbook.write_text(yaml.safe_dump([{"hosts": "all", "roles": ["plain", "app", "stamped"]}]))
    steps = plan_layers(resolve_playbook(playbook, roles), Fingerprint("f" * 64, ()), "base", roles, tmp_path / "out")
    assert [(s.role, s.shareable) for s in steps] == [("plain", True), ("app", True), ("stamped", False)]


def test_facts_are_gathered_once_per_run_as_in_the_services_one_play(tmp_path):
    steps = [one_role_playbook(tmp_path, i, role) for i, role in enumerate(["common", "nginx", "cleanup"])]
    plays = yaml.safe_load(write_run_playbook(steps, tmp_path / "run.yml", lambda s: ["true"]).read_text())
    role_plays = [p for p in plays if "roles" in p]
    assert "gather_facts" not in role_plays[0]  # the first play gathers, as the service's play says
    assert [p["gather_facts"] for p in role_plays[1:]] == [False, False]


def test_run_playbook_of_one_layer_has_no_commit_play(tmp_path):
    step = one_role_playbook(tmp_path, 4, "cleanup")
    plays = yaml.safe_load(write_run_playbook([step], tmp_path / "run.yml", lambda s: ["false"]).read_text())
    assert plays == yaml.safe_load(step.playbook.read_text())


def test_connection_vars_point_ansible_at_the_container_sshd(tmp_path):
    path = container_ssh.write_connection_vars("bakery-build-x1", "root", tmp_path)
    variables = json.loads(path.read_text())
    assert variables["ansible_host"] == "bakery-build-x1" and variables["ansible_user"] == "root"
    assert variables["ansible_ssh_pipelining"] is True
    assert f"ControlPath={tmp_path / container_ssh.MASTER_SOCKET}" in variables["ansible_ssh_args"]
    common = variables["ansible_ssh_common_args"]
    proxy, key = tmp_path / "proxy", tmp_path / "id_ed25519"
    assert f"ProxyCommand={proxy}" in common and f"IdentityFile={key}" in common
    assert os.access(proxy, os.X_OK) and key.stat().st_mode & 0o077 == 0
    script = proxy.read_text()
    assert "podman exec -i bakery-build-x1 " in script
    assert key.with_suffix(".pub").read_text().split()[1] in script  # the public key only
    assert "PRIVATE KEY" not in script
    # the script and the command it runs in the container are valid sh
    assert subprocess.run(["sh", "-n", str(proxy)]).returncode == 0
    assert subprocess.run(["sh", "-n", "-c", container_ssh.START_SSHD]).returncode == 0

