"""Shared bits of the benchmark scripts: timing, medians and a plain table."""

from __future__ import annotations

import statistics
import sys
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from helpers import copy_example_project  # noqa: E402,F401  (shared with the tests)
BAKERY = str(REPO / ".venv" / "bin" / "bakery")


def timed(argv: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmark command failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-2000:]}")
    return elapsed, done


def print_table(rows: list[tuple[str, list[float]]], baseline: str | None = None) -> None:
    medians = {name: statistics.median(times) for name, times in rows}
    print(f"| case | runs | median s | min s | max s | ratio vs {baseline or '-'} |")
    print("|---|---|---|---|---|---|")
    for name, times in rows:
        ratio = f"{medians[name] / medians[baseline]:.3f}" if baseline else "-"
        print(f"| {name} | {len(times)} | {medians[name]:.2f} | {min(times):.2f} | {max(times):.2f} | {ratio} |")

