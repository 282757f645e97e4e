"""How long ``dropsync demo`` takes end to end (process start to exit), and its own step timing.

Runs ``dropsync demo --json`` N times in fresh temporary workspaces and prints the wall time of each run
and the ``seconds`` the demo reports (stack start to summary, without interpreter start and shutdown).

    .venv/bin/python -m bench.demo_time --runs 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run() -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="dropsync-demo-bench-") as tmp:
        started = time.perf_counter()
        done = subprocess.run(
            [str(Path(sys.executable).with_name("dropsync")), "demo", "--json", "--data-dir", f"{tmp}/demo"],
            capture_output=True, text=True, check=False, cwd=tmp,
        )  # fmt: skip
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"demo failed ({done.returncode}): {done.stderr.strip().splitlines()[-1]}")
    return wall, float(json.loads(done.stdout)["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    walls, inner = [], []
    for i in range(args.runs):
        wall, reported = one_run()
        walls.append(wall)
        inner.append(reported)
        print(f"run {i + 1}: {wall:.1f} s wall, {reported:.1f} s reported by the demo")
    print(f"median: {statistics.median(walls):.1f} s wall, {statistics.median(inner):.1f} s reported")


if __name__ == "__main__":
    main()
