"""Where a cold layered bake spends its time, from the run dir's Ansible job events.

Bakes api-service on a copy of the example project with role layers (`--force --no-verify`) and
without (`--force --no-layers --no-verify`), alternating, then splits each layered bake into:
the roles' own tasks, each layer's commit (the play that runs `podman commit` between roles),
the per-play gaps (play start, fact gathering when the play gathers facts), and what happens
outside Ansible (Packer starting the container and connecting; after the play, its shell step,
the final commit of the last layer and the image tag).

    ./run python bench/layer_cost.py [--runs 1] [--strategy linear|mitogen]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from _common import BAKERY, copy_example_project, timed

from bakery.events import load_event

COMMIT_PLAY = "bakery: commit layer"


def bake(project: Path, *args: str) -> tuple[float, Path]:
    elapsed, done = timed([BAKERY, "-C", str(project), "build", "api-service", "--force", "--no-verify", "--json",
                           *args])
    return elapsed, Path(json.loads(done.stdout)["run_dir"])


def events_of(run_dir: Path) -> list[dict]:
    events = [load_event(p) for p in (run_dir / "ansible" / "job_events").glob("*.json")]
    return sorted((e for e in events if e and e.get("created")), key=lambda e: e["created"])


def seconds(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def breakdown(run_dir: Path, wall_s: float) -> dict[str, float]:
    """Seconds per part of one bake: role:<name>, commit:<role>, gaps, ansible total, outside."""
    events = events_of(run_dir)
    parts: dict[str, float] = defaultdict(float)
    task_time = 0.0
    for event in events:
        data = event["event_data"]
        if event["event"] not in ("runner_on_ok", "runner_on_failed", "runner_on_skipped"):
            continue
        duration = float(data.get("duration") or 0.0)
        task_time += duration
        if str(data.get("play", "")).startswith(COMMIT_PLAY):
            parts["commit: " + data["play"].split("(")[-1].rstrip(")")] += duration
        elif data.get("task") == "Gathering Facts":
            parts["fact gathering"] += duration
        else:
            parts[f"role: {data.get('role') or '(play)'}"] += duration
    ansible = seconds(events[0]["created"], events[-1]["created"])
    parts["between tasks (play and task starts, results)"] = ansible - task_time
    parts["outside Ansible (Packer: container, connection, last commit, tag; bakery)"] = wall_s - ansible
    return dict(parts)


def print_breakdown(runs: list[dict[str, float]], walls: list[float], unlayered: list[float]) -> None:
    names = list(dict.fromkeys(name for run in runs for name in run))
    print("| part of a cold layered bake | median s |")
    print("|---|---|")
    for name in names:
        print(f"| {name} | {statistics.median(run.get(name, 0.0) for run in runs):.2f} |")
    print(f"| **layered bake, wall** | **{statistics.median(walls):.2f}** |")
    print(f"| --no-layers bake, wall | {statistics.median(unlayered):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--strategy", choices=("linear", "mitogen"), default="linear")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_example_project(Path(tmp) / "project")
        config = project / "bakery.yml"
        config.write_text(config.read_text().replace("build:\n", f"build:\n  ansible_strategy: {args.strategy}\n", 1))
        runs, walls, unlayered = [], [], []
        for _ in range(args.runs):
            wall, run_dir = bake(project)
            walls.append(wall)
            runs.append(breakdown(run_dir, wall))
            unlayered.append(bake(project, "--no-layers")[0])
    print(f"api-service, cold bake, {args.strategy}, {args.runs} run(s) each, alternating")
    print_breakdown(runs, walls, unlayered)


if __name__ == "__main__":
    main()
