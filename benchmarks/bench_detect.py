"""Warm wall time of `wheelmagic detect --json` against `python -c pass`, same process run.

    .venv/bin/python benchmarks/bench_detect.py [-n 15]

Prints the median of N runs of each (after one warm-up run each) and their ratio; the target
is a detect well under 300 ms. `--platform FILE` and `WHEELMAGIC_PLATFORM` are not used: this
measures real probing of this machine."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def measure(argv: list[str], n: int, env: dict[str, str]) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True, env=env)  # warm the page cache
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - t)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=15)
    ap.add_argument("--target-ms", type=float, default=300.0)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "WHEELMAGIC_PLATFORM"}
    py = sys.executable
    rows = [
        ("python -c pass", measure([py, "-c", "pass"], args.n, env)),
        (
            "python -c 'import wheelmagic.platform'",
            measure([py, "-c", "import wheelmagic.platform"], args.n, env),
        ),
        (
            "wheelmagic detect --json",
            measure([py, "-m", "wheelmagic", "detect", "--json"], args.n, env),
        ),
        (
            "detect() in-process",
            measure([py, "-c", "from wheelmagic.platform import detect; detect()"], args.n, env),
        ),
    ]
    base = statistics.median(rows[0][1])
    print(f"{'command':42} {'median ms':>10} {'min ms':>8} {'x pass':>7}")
    for label, times in rows:
        med = statistics.median(times)
        print(f"{label:42} {med * 1000:10.1f} {min(times) * 1000:8.1f} {med / base:7.2f}")
    detect_ms = statistics.median(rows[2][1]) * 1000
    ok = detect_ms < args.target_ms
    print(
        f"detect --json median {detect_ms:.0f} ms: {'within' if ok else 'OVER'} the "
        f"{args.target_ms:.0f} ms target (n={args.n})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
