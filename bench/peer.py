"""Peer benchmark (issue 21): bakery against api-service baked by hand with Packer and Ansible.

Cases, alternating in one run, each on a copy of the example project:

  (a) by hand:  bench/peer/peer.pkr.hcl, a Packer template of its own (no bakery): the docker
                builder on podman and the ansible provisioner through Packer's own SSH proxy,
                the same playbook, roles, variables and base image; no seal, no verification
  (b)           `bakery build api-service --force --no-verify` (role layers, direct connection)
  (c)           `bakery build api-service --force` (the same, verified)
  (d)           (c) with build.ansible_strategy: mitogen
  (e)           one-role rebake: api_service edited, `bakery build api-service` (verified),
                the layers of the roles before it reused; linear, then with mitogen (f)

Ratios are (a)'s median over the case's median: above 1 is faster than by hand.

    ./run python bench/peer.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import uuid
from pathlib import Path

from _common import BAKERY, copy_example_project, timed

from bakery import packer, proc
from bakery.config import load_project

PEER_TEMPLATE = Path(__file__).resolve().parent / "peer"
PLUGINS = """packer {
  required_plugins {
    docker  = { source = "github.com/hashicorp/docker", version = ">= 1.0.0" }
    ansible = { source = "github.com/hashicorp/ansible", version = ">= 1.1.0" }
  }
}
"""
BY_HAND = "(a) packer + ansible by hand (SSH proxy)"
CASES = (
    BY_HAND,
    "(b) bakery build --force --no-verify",
    "(c) bakery build --force (verified)",
    "(d) bakery build --force (verified), mitogen",
    "(e) one-role rebake (verified)",
    "(f) one-role rebake (verified), mitogen",
)


def bakery_build(project: Path, *args: str) -> float:
    elapsed, done = timed([BAKERY, "-C", str(project), "build", "api-service", "--json", *args])
    result = json.loads(done.stdout)
    assert result["verdict"] == ("unverified" if "--no-verify" in args else "passed"), result
    return elapsed


def one_role_rebake(project: Path) -> float:
    with open(project / "roles" / "api_service" / "tasks" / "main.yml", "a") as handle:
        handle.write(f"\n# bench edit {uuid.uuid4()}\n")
    return bakery_build(project)


def by_hand(project: Path, base_ref: str, work: Path) -> float:
    """api-service baked with the peer template, as a team runs it: `packer build` and a var file."""
    template = work / "template"
    template.mkdir(parents=True, exist_ok=True)
    (template / "peer.pkr.hcl").write_text((PEER_TEMPLATE / "peer.pkr.hcl").read_text())
    if packer.needs_plugins_block():
        (template / "plugins.pkr.hcl").write_text(PLUGINS)
    service = load_project(project).service("api-service")
    extra = {**service.variables, "bakery_app_src": str(project / service.app), "bakery_service": "api-service",
             "bakery_fingerprint": f"by-hand-{uuid.uuid4().hex[:8]}"}
    (work / "extra.json").write_text(json.dumps(extra))
    manifest = work / "manifest.json"
    variables = {"base_image": base_ref, "playbook_file": str(project / service.playbook),
                 "roles_path": str(project / "roles"), "extra_vars_file": str(work / "extra.json"),
                 "container_name": f"bench-peer-{uuid.uuid4().hex[:8]}", "manifest": str(manifest)}
    var_file = packer.write_var_file(work / "peer.pkrvars.json", variables)
    with packer.docker_shim() as shim_env:
        env = proc.tool_env(shim_env)
        packer.init(template, env)
        elapsed, _ = timed(["packer", "build", "-color=false", f"-var-file={var_file}", str(template)], env=env)
    proc.run(["podman", "rmi", packer.read_manifest(manifest)["artifact_id"]], check=False)
    manifest.unlink()
    return elapsed


def use_mitogen(project: Path) -> Path:
    config = project / "bakery.yml"
    config.write_text(config.read_text().replace("build:\n", "build:\n  ansible_strategy: mitogen\n", 1))
    assert load_project(project).build.ansible_strategy == "mitogen"
    return project


def print_ratios(rows: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(times) for name, times in rows.items()}
    print("| case | runs | median s | min s | max s | speed-up vs (a) |")
    print("|---|---|---|---|---|---|")
    for name, times in rows.items():
        print(f"| {name} | {len(times)} | {medians[name]:.1f} | {min(times):.1f} | {max(times):.1f} |"
              f" {medians[BY_HAND] / medians[name]:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("CONTAINERS_CONF", str(proc.containers_conf()))
    with tempfile.TemporaryDirectory() as tmp:
        linear = copy_example_project(Path(tmp) / "linear")
        mitogen = use_mitogen(copy_example_project(Path(tmp) / "mitogen"))
        _, base = timed([BAKERY, "-C", str(linear), "base", "build", "debian-12", "--json"])  # cached for all
        base_ref = json.loads(base.stdout)["ref"]
        rows: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(args.runs):
            rows[CASES[0]].append(by_hand(linear, base_ref, Path(tmp) / "peer"))
            rows[CASES[1]].append(bakery_build(linear, "--force", "--no-verify"))
            rows[CASES[2]].append(bakery_build(linear, "--force"))
            rows[CASES[3]].append(bakery_build(mitogen, "--force"))
            rows[CASES[4]].append(one_role_rebake(linear))
            rows[CASES[5]].append(one_role_rebake(mitogen))
    print(f"api-service: bakery vs Packer + Ansible by hand, {args.runs} run(s) each, alternating")
    print_ratios(rows)


if __name__ == "__main__":
    main()
