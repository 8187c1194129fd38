"""Wall time and peak memory of the main job, as a whole process (data generation included).

    python scripts/bench/main.py --runs 3 [--json] [-- extra overrides]

Prints each run and the median. Peak memory is the child's maximum resident set size.
``--json`` adds one JSON line at the end (``scripts/bench/all.py`` reads it).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_once(overrides: list[str]) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as logs:
        env = {**os.environ, "GRAPHREC_LOG_DIR": logs}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *overrides],
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"main job failed:\n{proc.stderr[-3000:]}")
    # ru_maxrss of children is the largest single child so far, in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    return wall, peak


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print one JSON line")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    walls = []
    for i in range(args.runs):
        wall, peak = run_once(args.overrides)
        walls.append(wall)
        print(f"run {i}: wall {wall:.1f} s, peak RSS so far {peak:.2f} GiB", flush=True)
    print(f"median wall {statistics.median(walls):.1f} s over {args.runs} runs "
          f"(min {min(walls):.1f}, max {max(walls):.1f}); peak RSS {peak:.2f} GiB; "
          f"{os.cpu_count()} CPUs")
    if args.json:
        print(json.dumps({"bench": "main", "runs": args.runs,
                          "wall_s": round(statistics.median(walls), 2),
                          "wall_min_s": round(min(walls), 2), "wall_max_s": round(max(walls), 2),
                          "peak_gib": round(peak, 3), "cpus": os.cpu_count()}))
