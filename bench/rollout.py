"""Requests during a rollout: a loop of GETs (20/s, loopback) at the balancer's endpoint while bakery
deploys a new version, deploys a failing one, and rolls back to the previous one.

    ./run python bench/rollout.py [--runs 3] [--rate 20]

Uses a copy of the fixture project's `web` service (python http.server) with an endpoint on a free
port; bakes three small images once (v1, v2, v3 whose health check fails), then per run: deploy
v2 over v1, deploy v3 (refused), deploy v1 again (rollback). Prints, per case, the
requests sent, the failed ones (non-200 or connection error) and the latency percentiles.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml
from _common import BAKERY, timed

from helpers import RequestLoop, copy_fixture_project, free_port

CASES = ("deploy new version", "failing deploy", "rollback")


def configure(project: Path, version: str, healthy: bool = True, port: int | None = None) -> None:
    config = project / "bakery.yml"
    data = yaml.safe_load(config.read_text())
    web = data["services"]["web"]
    web["variables"] = {"web_version": version, "web_healthy": healthy}
    if port is not None:
        web["deploy"]["endpoints"] = {"dev": port}
    config.write_text(yaml.safe_dump(data))


def bake(project: Path, version: str, healthy: bool = True) -> str:
    configure(project, version, healthy)
    return json.loads(timed([BAKERY, "build", "web", "--json"], cwd=project)[1].stdout)["image"]


def deploy_under_load(project: Path, url: str, image: str, rate: float, expect_ok: bool) -> RequestLoop:
    import subprocess

    with RequestLoop(url, rate=rate) as loop:
        done = subprocess.run([BAKERY, "deploy", "web", "--env", "dev", "--image", image], cwd=project,
                              capture_output=True, text=True)
    if (done.returncode == 0) != expect_ok:
        raise SystemExit(f"deploy of {image} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return loop


def print_rows(results: dict[str, list[RequestLoop]]) -> None:
    print("| case | runs | requests sent | failed | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|")
    for case, loops in results.items():
        merged = RequestLoop("")
        merged.latencies_s = [s for loop in loops for s in loop.latencies_s]
        sent = sum(loop.sent for loop in loops)
        failed = sum(len(loop.failures) for loop in loops)
        print(f"| {case} | {len(loops)} | {sent} | {failed} | {merged.percentile_ms(50):.1f} |"
              f" {merged.percentile_ms(99):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bakery-rollout-") as tmp:
        project = copy_fixture_project(Path(tmp) / "p")
        port = free_port()
        configure(project, "1", port=port)
        v1, v2, v3 = bake(project, "1"), bake(project, "2"), bake(project, "3", healthy=False)
        url = f"http://127.0.0.1:{port}/healthz"
        results: dict[str, list[RequestLoop]] = {case: [] for case in CASES}
        try:
            timed([BAKERY, "deploy", "web", "--env", "dev", "--image", v1], cwd=project)
            for _ in range(args.runs):
                results["deploy new version"].append(deploy_under_load(project, url, v2, args.rate, True))
                results["failing deploy"].append(deploy_under_load(project, url, v3, args.rate, False))
                results["rollback"].append(deploy_under_load(project, url, v1, args.rate, True))
        finally:
            timed([BAKERY, "destroy", "web", "--env", "dev"], cwd=project)
    print(f"requests at {args.rate:g}/s to the endpoint during each rollout (2 replicas, {args.runs} run(s))")
    print_rows(results)


if __name__ == "__main__":
    main()
