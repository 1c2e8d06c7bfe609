"""`bakery build --all -j 2` for three services vs building them one after another.

Uses a copy of the fixture project with three services (tiny, layered, dirty); every build
is a real bake (--force --no-layers) without verification. Target: parallel <= 0.7x.

Two floors for the parallel run come from the same sequential runs:
  slots: the best packing of the three bakes into two slots, max(longest, sum of the other two)
  cpu:   the CPU time the whole machine used during them (from /proc/stat, so the containers
         and podman count too), spread over all cores
The parallel run cannot be faster than either, whatever bakery does.

    ./run python bench/parallel.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import yaml
from _common import BAKERY, REPO, print_table, timed

SERVICES = ("tiny", "layered", "dirty")
FLAGS = ["--force", "--no-layers", "--no-verify"]


def three_service_project(dest: Path) -> Path:
    shutil.copytree(REPO / "tests" / "fixtures" / "project", dest)
    config = yaml.safe_load((dest / "bakery.yml").read_text())
    config["services"] = {name: config["services"][name] for name in SERVICES}
    (dest / "bakery.yml").write_text(yaml.safe_dump(config))
    return dest


def busy_cpu_seconds() -> float:
    """CPU seconds the machine spent not idle since boot (all cores, all processes)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        project = three_service_project(Path(tmp) / "project")
        timed([BAKERY, "-C", str(project), "build", "--all", "-j", "1", "--no-verify"])  # warm: base exists
        sequential, parallel, slot_floor, cpu_floor = [], [], [], []
        for _ in range(args.runs):
            cpu_before = busy_cpu_seconds()
            each = sorted(timed([BAKERY, "-C", str(project), "build", s, *FLAGS])[0] for s in SERVICES)
            cpu_floor.append((busy_cpu_seconds() - cpu_before) / cores)
            sequential.append(sum(each))
            slot_floor.append(max(each[-1], sum(each[:-1])))
            parallel.append(timed([BAKERY, "-C", str(project), "build", "--all", "-j", "2", *FLAGS])[0])
    print(f"three services, {args.runs} runs each, {cores} cores")
    print_table([("one after another", sequential), ("build --all -j 2", parallel),
                 ("floor: two slots", slot_floor), (f"floor: machine CPU time / {cores} cores", cpu_floor)],
                baseline="one after another")


if __name__ == "__main__":
    main()
