"""`bakery plan --all` and a no-op `bakery build --all` over 1, 10, 60 and 200 services.

One copy of the fixture project whose `tiny` service is repeated as svc-0001..svc-NNNN, all
on one base. The copies have the same inputs (the service name is not one), so one real bake
and verification of svc-0001 serves them all: its image is tagged once per service, which is
what N up-to-date services look like to bakery. What is timed is the survey (fingerprints,
one image store listing, verdicts), not bakes. Target: 60 services in at most 2x one service.
The tags are removed at the end; the one image stays, like any bake.

    ./run python bench/plan_scale.py [--runs 3] [--sizes 1,10,60,200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml
from _common import BAKERY, REPO, print_table, timed

TEMPLATE = "tiny"


def write_services(project: Path, count: int) -> list[str]:
    config = yaml.safe_load((REPO / "tests" / "fixtures" / "project" / "bakery.yml").read_text())
    template = {**config["services"][TEMPLATE], "verify": {"suite": f"tests/images/{TEMPLATE}"}}
    names = [f"svc-{i:04d}" for i in range(1, count + 1)]
    config["services"] = {name: template for name in names}
    (project / "bakery.yml").write_text(yaml.safe_dump(config))
    return names


def scale_project(dest: Path) -> Path:
    shutil.copytree(REPO / "tests" / "fixtures" / "project", dest)
    shutil.copytree(REPO / "packer", dest / "packer")
    return dest


def tag_for_every_service(project: Path, image: str, names: list[str]) -> list[str]:
    """The baked image under each service's reference (one podman call)."""
    short = image.rsplit(":", 1)[1]
    refs = [f"localhost/bakery/{name}:{short}" for name in names]
    subprocess.run(["podman", "tag", image, *refs], check=True, capture_output=True)
    return refs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="1,10,60,200")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    refs: list[str] = []
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        project = scale_project(Path(tmp) / "project")
        write_services(project, 1)
        built = json.loads(timed([BAKERY, "-C", str(project), "build", "svc-0001", "--json"])[1].stdout)
        try:
            refs = tag_for_every_service(project, built["image"], write_services(project, max(sizes))[1:])
            for size in sizes:
                write_services(project, size)
                for command in (["plan", "--all"], ["build", "--all"]):
                    times = [timed([BAKERY, "-C", str(project), *command])[0] for _ in range(args.runs)]
                    rows.append((f"{' '.join(command)}, {size} service(s)", times))
        finally:
            if refs:
                subprocess.run(["podman", "untag", built["image"], *refs], check=False, capture_output=True)
    print(f"plan --all and no-op build --all, {args.runs} runs each (all services up to date)")
    for command in ("plan --all", "build --all"):
        print_table([r for r in rows if r[0].startswith(command)], baseline=f"{command}, 1 service(s)")


if __name__ == "__main__":
    main()
