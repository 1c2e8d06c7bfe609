"""Fast rebakes, measured on a copy of the example project.

  no-op:    `bakery build api-service` with a verified image of the same fingerprint
            vs `packer build` of the same template by hand (target: >= 50x faster)
  one role: rebake after editing only the api_service role (earlier role layers reused)
            vs a full bake (`--force --no-layers`) (target: >= 3x faster)

The one-role table has a third row: each full bake minus the time its own Ansible events show
for the roles the rebake reuses (from the first task to api_service's first task). That is what a
layer cache can save at best, so full / that row is about the best ratio this example allows on
this machine. A rebake can come in a little under the row: its final commit holds only the
changes of the roles it reran, a full bake's commit the changes of all of them.

    ./run python bench/rebake.py [--runs 3] [--case noop|one-role]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

from _common import BAKERY, copy_example_project, print_table, timed
from bake_overhead import packer_by_hand

from bakery.events import load_event


def build(project: Path, *args: str) -> tuple[float, dict]:
    elapsed, done = timed([BAKERY, "-C", str(project), "build", "api-service", "--json", *args])
    return elapsed, json.loads(done.stdout)


def edit_role(project: Path) -> None:
    with open(project / "roles" / "api_service" / "tasks" / "main.yml", "a") as handle:
        handle.write(f"\n# bench edit {uuid.uuid4()}\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--case", choices=("noop", "one-role"), help="measure only this case (default: both)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_example_project(Path(tmp) / "project")
        if args.case != "noop":
            build(project, "--force", "--no-verify")  # role layers of these inputs, for the one-role rebakes
        # then a fresh, verified image to be a no-op against (after the layers: the newest image of a
        # fingerprint is the one a build finds, and an unverified one would be verified, not reused)
        _, built = build(project, "--force", "--no-layers")
        if args.case in (None, "noop"):
            noop_vs_packer(project, built, args.runs)
        if args.case in (None, "one-role"):
            one_role_vs_full(project, args.runs)


def noop_vs_packer(project: Path, built: dict, runs: int) -> None:
    noop = []
    for _ in range(max(runs, 5)):
        elapsed, result = build(project)
        assert result["reused"] and result["verdict"] == "passed", result
        noop.append(elapsed)
    by_hand = []
    with tempfile.TemporaryDirectory() as work:
        for _ in range(runs):
            by_hand.append(packer_by_hand("api-service", built, Path(work), project))
    print(f"no-op rebake vs packer build by hand ({len(noop)} / {runs} runs)")
    print_table([("packer build by hand", by_hand), ("bakery build, up to date", noop)], baseline="bakery build, up to date")
    print()


def one_role_vs_full(project: Path, runs: int) -> None:
    full, floor, one_role = [], [], []
    for _ in range(runs):
        elapsed, result = build(project, "--force", "--no-layers", "--no-verify")
        full.append(elapsed)
        floor.append(elapsed - seconds_before_role(Path(result["run_dir"]), "api_service"))
        edit_role(project)
        elapsed, result = build(project, "--no-verify")
        assert result["layers_reused"] >= 3, result
        one_role.append(elapsed)
    print(f"rebake after an api_service role edit vs full bake ({runs} runs each)")
    print_table([("full bake (--force --no-layers)", full),
                 ("full bake minus the roles the rebake reuses", floor),
                 ("rebake, api_service edited", one_role)],
                baseline="rebake, api_service edited")


def seconds_before_role(run_dir: Path, role: str) -> float:
    """Seconds from the bake's first Ansible task to the first task of role (its job events)."""
    events = (load_event(path) for path in (run_dir / "ansible" / "job_events").glob("*.json"))
    starts = [(event["created"], event["event_data"].get("role"))
              for event in events if event and event.get("event") == "playbook_on_task_start"]
    first = min(created for created, _ in starts)
    first_of_role = min(created for created, name in starts if name == role)
    return (datetime.fromisoformat(first_of_role) - datetime.fromisoformat(first)).total_seconds()


if __name__ == "__main__":
    main()
