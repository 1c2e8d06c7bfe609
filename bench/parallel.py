"""`bakery build --all -j 2` for three services vs building them one after another.

Uses a copy of the fixture project with three services (tiny, layered, dirty); every build
is a real bake (--force --no-layers) without verification. Target: parallel <= 0.7x.

    ./run python bench/parallel.py [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import yaml
from _common import BAKERY, REPO, print_table, timed

SERVICES = ("tiny", "layered", "dirty")
FLAGS = ["--force", "--no-layers", "--no-verify"]


def three_service_project(dest: Path) -> Path:
    shutil.copytree(REPO / "tests" / "fixtures" / "project", dest)
    shutil.copytree(REPO / "packer", dest / "packer")
    config = yaml.safe_load((dest / "bakery.yml").read_text())
    config["services"] = {name: config["services"][name] for name in SERVICES}
    (dest / "bakery.yml").write_text(yaml.safe_dump(config))
    return dest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = three_service_project(Path(tmp) / "project")
        timed([BAKERY, "-C", str(project), "build", "--all", "-j", "1", "--no-verify"])  # warm: base exists
        sequential, parallel = [], []
        for _ in range(args.runs):
            sequential.append(sum(timed([BAKERY, "-C", str(project), "build", s, *FLAGS])[0] for s in SERVICES))
            parallel.append(timed([BAKERY, "-C", str(project), "build", "--all", "-j", "2", *FLAGS])[0])
    print(f"three services, {args.runs} runs each")
    print_table([("one after another", sequential), ("build --all -j 2", parallel)], baseline="one after another")


if __name__ == "__main__":
    main()
