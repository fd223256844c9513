"""What `%load_ext wheelmagic` costs, next to a trivial extension and a bare shell start.

    .venv/bin/python benchmarks/bench_load_ext.py [--runs N] [--json]

Each measurement runs in a fresh process (imports are cached per process, so only a cold
load means anything), alternating the variants, median over `--runs`:

* ``shell``: creating an in-process `InteractiveShell` (what every kernel pays anyway);
* ``storemagic``: `%load_ext storemagic` after that (IPython's own small extension, the
  baseline "trivial extension");
* ``wheelmagic``: `%load_ext wheelmagic` after that (magics + import hook; no pending
  post-restart record: after a restart a kernel defers the doctor to its first cell).

It also lists the modules the load pulled in that are not in the standard library or
IPython, to show that nothing heavy (httpx, pynvml) is imported at load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from typing import Any

PROBE = textwrap.dedent("""
    import json, os, sys, time
    t0 = time.perf_counter()
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    t1 = time.perf_counter()
    before = set(sys.modules)
    ext = {ext!r}
    if ext:
        ip.run_line_magic("load_ext", ext)
    t2 = time.perf_counter()
    new = sorted(m for m in set(sys.modules) - before if "." not in m)
    print(json.dumps({{"shell": t1 - t0, "load": t2 - t1, "new": new}}))
""")


def _one(ext: str | None, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(ext=ext)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "WHEELMAGIC_CACHE_DIR": tmp, "IPYTHONDIR": os.path.join(tmp, "ipy")}
        env.pop("WHEELMAGIC_DISABLE", None)
        results: dict[str, list[float]] = {"shell": [], "storemagic": [], "wheelmagic": []}
        new_modules: list[str] = []
        _one("wheelmagic", env)  # warm the OS file cache and the .pyc files
        for _ in range(args.runs):
            base = _one(None, env)
            results["shell"].append(base["shell"])
            results["storemagic"].append(_one("storemagic", env)["load"])
            wm = _one("wheelmagic", env)
            results["wheelmagic"].append(wm["load"])
            new_modules = wm["new"]

    med = {k: statistics.median(v) * 1000 for k, v in results.items()}
    heavy = [m for m in new_modules if m in ("httpx", "httpcore", "pynvml", "anyio", "h11")]
    report = {
        "runs": args.runs,
        "python": sys.version.split()[0],
        "median_ms": {k: round(v, 2) for k, v in med.items()},
        "wheelmagic_vs_storemagic": round(med["wheelmagic"] / med["storemagic"], 2),
        "wheelmagic_vs_shell_start": round(med["wheelmagic"] / med["shell"], 3),
        "top_level_modules_imported_by_load": new_modules,
        "heavy_modules_imported": heavy,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"%load_ext cost, median of {args.runs} fresh processes (Python {report['python']}):")
    print(f"  InteractiveShell start   {med['shell']:8.2f} ms")
    print(f"  %load_ext storemagic     {med['storemagic']:8.2f} ms")
    print(
        f"  %load_ext wheelmagic     {med['wheelmagic']:8.2f} ms   "
        f"({report['wheelmagic_vs_storemagic']}x storemagic, "
        f"{report['wheelmagic_vs_shell_start'] * 100:.1f}% of a shell start)"
    )
    print(f"  new top-level modules: {', '.join(new_modules) or '-'}")
    print(f"  heavy modules imported at load: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
