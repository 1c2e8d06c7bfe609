"""Verification speed: `bakery verify api-service` (hygiene, boot, wait, tests, teardown).

    ./run python bench/verify_speed.py [--runs 5] [--service api-service]
"""

from __future__ import annotations

import argparse
import json

from _common import BAKERY, REPO, print_table, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--service", default="api-service")
    args = parser.parse_args()
    timed([BAKERY, "build", args.service, "--no-verify"], cwd=REPO)  # make sure an image exists
    wall, reported = [], []
    for _ in range(args.runs):
        elapsed, done = timed([BAKERY, "verify", args.service, "--json"], cwd=REPO)
        wall.append(elapsed)
        reported.append(json.loads(done.stdout)["duration_s"])
    print(f"verification of {args.service}, {args.runs} runs (wall: whole command; report: boot+tests+teardown)")
    print_table([("bakery verify (wall)", wall), ("verify report duration_s", reported)])


if __name__ == "__main__":
    main()
