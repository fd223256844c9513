"""The start-up paths, side by side: the `preinstall` no-op and the import hook's check.

    .venv/bin/python benchmarks/bench_fastpath.py [--runs 15] [--json]

A throwaway venv (``uv venv``) holds a torch 2.13.0 (a small stand-in wheel, unpacked; what
is installed matters, not its size) that fits this machine. Interleaved in every round, so
drift on a shared machine hits every side alike:

1. ``wheelmagic preinstall --python V torch`` answered from the remembered verdict;
2. the same with the record deleted first (the full offline check: interpreter, doctor);
3. ``uv pip install --offline --python V torch`` (uv's no-op);
4. ``python -c pass`` with wheelmagic's own interpreter (the floor of any Python command).

Then the hook's check inside ``import torch`` (the time spent in the finder's check, measured
in the process), remembered vs full, and `python -X importtime` of the three entry points.
Prints medians and spreads (min-max), in ms; ratios are median / median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.wheels import build_wheel  # noqa: E402

PY = sys.executable
WHEELMAGIC = [PY, "-m", "wheelmagic"]

HOOK = textwrap.dedent("""
    import sys, time
    import wheelmagic.hook as h
    hook = h.install()
    check = hook._precheck
    spent = [0.0]
    def timed(*a):
        t0 = time.perf_counter()
        try:
            return check(*a)
        finally:
            spent[0] += time.perf_counter() - t0
    hook._precheck = timed
    import torch
    print(spent[0] * 1e3, "wheelmagic.app" in sys.modules)
    """)


def _uv() -> str:
    uv = shutil.which("uv", path=str(Path(PY).parent)) or shutil.which("uv")
    if uv is None:
        raise SystemExit("needs uv (pip install uv)")
    return uv


def make_target(tmp: Path) -> tuple[str, Path]:
    """A venv with torch 2.13.0 unpacked in its site-packages: (python, site)."""
    subprocess.run([_uv(), "venv", "-q", str(tmp / "venv")], check=True)
    python = str(tmp / "venv" / "bin" / "python")
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    whl = build_wheel(tmp / "wheels", "torch", "2.13.0", label="null")
    with zipfile.ZipFile(whl) as zf:
        zf.extractall(site)
    return python, site


def timed(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    took = (time.perf_counter() - t) * 1e3
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr[-1500:]}")
    return took


def stats(xs: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(xs), 2),
        "min": round(min(xs), 2),
        "max": round(max(xs), 2),
    }


def clear_records(cache: Path) -> None:
    shutil.rmtree(cache / "verdicts", ignore_errors=True)


def bench_preinstall(runs: int, python: str, env: dict[str, str], cache: Path) -> dict[str, object]:
    pre = [*WHEELMAGIC, "preinstall", "--python", python, "torch"]
    uv = [_uv(), "pip", "install", "--offline", "--python", python, "torch"]
    floor = [PY, "-c", "pass"]
    sides: dict[str, list[float]] = {"remembered": [], "full": [], "uv": [], "python": []}
    timed(pre, env)  # warm bytecode caches and write the record
    timed(uv, env)
    for _ in range(runs):
        sides["remembered"].append(timed(pre, env))
        clear_records(cache)
        sides["full"].append(timed(pre, env))  # (writes the record again)
        sides["uv"].append(timed(uv, env))
        sides["python"].append(timed(floor, env))
    out: dict[str, object] = {k: stats(v) for k, v in sides.items()}
    med = {k: statistics.median(v) for k, v in sides.items()}
    out["remembered_vs_uv"] = round(med["remembered"] / med["uv"], 2)
    out["remembered_vs_python"] = round(med["remembered"] / med["python"], 2)
    out["full_vs_uv"] = round(med["full"] / med["uv"], 2)
    return out


def bench_hook(runs: int, site: Path, env: dict[str, str], cache: Path) -> dict[str, object]:
    hook_env = {**env, "PYTHONPATH": str(site)}
    remembered: list[float] = []
    full: list[float] = []

    def one() -> tuple[float, bool]:
        r = subprocess.run([PY, "-c", HOOK], env=hook_env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr[-1500:])
        ms, app = r.stdout.split()
        return float(ms), app == "True"

    one()
    for _ in range(runs):
        ms, app = one()
        assert not app, "the remembered verdict was not used"
        remembered.append(ms)
        clear_records(cache)
        ms, app = one()
        assert app, "the full check did not run"
        full.append(ms)
    return {
        "remembered": stats(remembered),
        "full": stats(full),
        "ratio": round(statistics.median(remembered) / statistics.median(full), 3),
    }


def importtime(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    """Cumulative import time of wheelmagic's top-level imports, and the module count."""
    r = subprocess.run([PY, "-X", "importtime", *argv], env=env, capture_output=True, text=True)
    total = 0
    count = 0
    ours: dict[str, int] = {}
    for line in r.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            self_us, cum_us = int(parts[0].split(":")[1]), int(parts[1])
        except ValueError:
            continue
        name = parts[2].rstrip()
        total += self_us
        count += 1
        if name.strip().startswith("wheelmagic") and not name.startswith("  "):
            ours[name.strip()] = cum_us
    return {"all_modules_us": total, "modules": count, "wheelmagic_top_level_us": ours}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="wm-bench-fast-"))
    cache = tmp / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHEELMAGIC_", "UV_"))}
    env.update(WHEELMAGIC_CACHE_DIR=str(cache), UV_CACHE_DIR=str(tmp / "uv-cache"))
    try:
        python, site = make_target(tmp)
        out: dict[str, object] = {"runs": args.runs}
        out["preinstall"] = bench_preinstall(args.runs, python, env, cache)
        out["hook_check"] = bench_hook(args.runs, site, env, cache)
        hook_env = {**env, "PYTHONPATH": str(site)}
        # (the hook benchmark cleared the records: remember both answers again first)
        timed([*WHEELMAGIC, "preinstall", "--python", python, "torch"], env)
        timed([PY, "-c", "import wheelmagic.hook as h; h.install(); import torch"], hook_env)
        out["importtime"] = {
            "python -c pass": importtime(["-c", "pass"], env),
            "wheelmagic preinstall (remembered)": importtime(
                ["-m", "wheelmagic", "preinstall", "--python", python, "torch"], env
            ),
            "import wheelmagic.hook; import torch (remembered)": importtime(
                ["-c", "import wheelmagic.hook as h; h.install(); import torch"], hook_env
            ),
            "wheelmagic detect --json": importtime(["-m", "wheelmagic", "detect", "--json"], env),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    p = out["preinstall"]
    assert isinstance(p, dict)
    for k in ("remembered", "full", "uv", "python"):
        s = p[k]
        print(
            f"preinstall {k:<11} median {s['median']:8.2f} ms  min {s['min']:.2f}  max {s['max']:.2f}"
        )
    print(
        f"remembered / uv {p['remembered_vs_uv']}  remembered / python {p['remembered_vs_python']}"
    )
    h = out["hook_check"]
    assert isinstance(h, dict)
    for k in ("remembered", "full"):
        s = h[k]
        print(
            f"hook check {k:<11} median {s['median']:8.2f} ms  min {s['min']:.2f}  max {s['max']:.2f}"
        )
    print(json.dumps(out["importtime"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
