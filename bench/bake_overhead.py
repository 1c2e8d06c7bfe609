"""Bake overhead: `bakery build api-service` vs the same Packer template run by hand.

Both bake from the cached base image with no other cache (bakery gets --force --no-layers), with the
same variables; runs alternate so both see the same machine state. Verification is left
out of the bakery runs (--no-verify) so both sides do the same work.

    ./run python bench/bake_overhead.py [--runs 3] [--service api-service]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from _common import BAKERY, REPO, print_table, timed

from bakery import packer, proc
from bakery.config import load_project


def bakery_build(service: str) -> tuple[float, dict]:
    elapsed, done = timed([BAKERY, "build", service, "--force", "--no-layers", "--no-verify", "--json"], cwd=REPO)
    return elapsed, json.loads(done.stdout)


def packer_by_hand(service: str, result: dict, work: Path, project_root: Path = REPO) -> float:
    """Run the Packer template with the same variables, directly, as a user would by hand."""
    run_dir = Path(result["run_dir"])
    staged = run_dir / "packer"
    if not (staged / "bakery.pkrvars.json").exists():  # a layered bake: the first layer starts from the base
        staged = sorted(p for p in staged.iterdir() if p.is_dir())[0]
    variables = json.loads((staged / "bakery.pkrvars.json").read_text())
    variables["playbook_file"] = str(project_root / "playbooks" / f"{service}.yml")  # the whole playbook
    extra = dict(load_project(project_root).service(service).variables)
    extra.update(bakery_app_src=str(project_root / "app" / "api_service"), bakery_service=service,
                 bakery_fingerprint=result["fingerprint"], bakery_run_id="by-hand", bakery_canary="by-hand")
    (work / "extra.json").write_text(json.dumps(extra))
    variables.update(extra_vars_file=str(work / "extra.json"), run_dir=str(work), run_id="by-hand")
    var_file = packer.write_var_file(work / "vars.pkrvars.json", variables)
    with packer.docker_shim() as shim_env:
        env = proc.tool_env(shim_env)
        elapsed, _ = timed(packer.build_argv(staged, var_file, "bakery.docker.local"), env=env)
    artifact = packer.read_manifest(work / "manifest.json")["artifact_id"]
    proc.run(["podman", "rmi", artifact], check=False)
    (work / "manifest.json").unlink()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--service", default="api-service")
    args = parser.parse_args()
    os.environ.setdefault("CONTAINERS_CONF", str(proc.containers_conf()))
    timed([BAKERY, "base", "build", "debian-12"], cwd=REPO)  # the base is cached for both sides
    bakery_times, packer_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            elapsed, result = bakery_build(args.service)
            bakery_times.append(elapsed)
            packer_times.append(packer_by_hand(args.service, result, Path(tmp)))
    print(f"bake overhead, {args.service}, {args.runs} runs each, alternating")
    print_table([("packer build by hand", packer_times), ("bakery build --force --no-verify", bakery_times)],
                baseline="packer build by hand")


if __name__ == "__main__":
    main()
