"""Shared bits of the benchmark scripts: timing, medians and a plain table."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
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


EXAMPLE_PARTS = ["bakery.yml", "roles", "playbooks", "app", "packer", "tests/images", "tests/shared_checks"]


def copy_example_project(dest: Path) -> Path:
    """A copy of the repo's example project (its own .bakery state, files free to edit)."""
    import shutil

    for part in EXAMPLE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / part)
    return dest
