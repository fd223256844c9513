"""What the import hook costs: on every other import, on importing the hook, on `import torch`.

    .venv/bin/python benchmarks/bench_hook.py [--runs N] [--torch DIR] [--json]

1. **Import workload.** Every importable stdlib module (~200; GUI, demo and side-effect
   modules left out) imported in a fresh process, with and without the hook installed; the
   time of the import loop itself, median over `--runs` alternating processes, and the ratio.
   Both sides import `wheelmagic.hook` first, so only the finder's presence differs.
2. **Per call.** `find_spec` for a name that is not watched (timeit), in nanoseconds.
3. **Importing the hook.** `python -X importtime -c "import wheelmagic.hook"`: its cumulative
   time, and the proof that it pulls in nothing outside the standard library.
4. **`import torch` when it fits.** The real CPU torch 2.13.0 (installed with
   `uv pip install --target DIR /opt/wheels/torch-2.13.0+cpu-...whl`, appended to `sys.path`)
   when `--torch DIR` holds it, else a synthetic torch package; a no-GPU platform snapshot
   (`WHEELMAGIC_PLATFORM`) so the CPU build fits and the hook stays silent. Median time of
   `import torch` with and without the hook, and the offline doctor's own time.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TORCH = ROOT / ".cache" / "bench" / "torch-2.13.0-cpu"

SKIP = {
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "__phello__",
    "_tkinter",
    "test",
    "lib2to3",
    "ensurepip",
    "venv",
    "pydoc_data",
    "xxlimited",
    "xxlimited_35",
    "xxsubtype",
    "_xxtestfuzz",
    "_testcapi",
    "_testinternalcapi",
    "_testbuffer",
    "_testimportmultiple",
    "_testmultiphase",
    "_ctypes_test",
    "msilib",
    "winreg",
    "winsound",
    "_winapi",
    "nt",
    "_msi",
    "_overlapped",
    "msvcrt",
    "_wmi",
    "_scproxy",
    "_osx_support",
    "sre_compile",
    "sre_constants",
    "sre_parse",
    "crypt",
    "nntplib",
    "_crypt",
    "asyncio.__main__",
    "_testclinic",
    "_testsinglephase",
}

WORKLOAD = textwrap.dedent("""
    import sys, time, importlib
    import wheelmagic.hook as h
    names = {names!r}
    if {hook!r}:
        h.install()
    t = time.process_time()  # CPU time: less disturbed by other work on a shared machine
    ok = 0
    for n in names:
        try:
            importlib.import_module(n)
            ok += 1
        except Exception:
            pass
    dt = time.process_time() - t
    print(dt, ok, len(sys.modules))
    """)

TORCH = textwrap.dedent("""
    import sys, time
    sys.path.append({site!r})
    import wheelmagic.hook as h
    spent = [0.0]
    if {hook!r}:
        hook = h.install()
        check = hook._precheck
        def timed(*a):
            t0 = time.perf_counter()
            try:
                return check(*a)
            finally:
                spent[0] += time.perf_counter() - t0
        hook._precheck = timed
    t = time.perf_counter()
    import torch
    dt = time.perf_counter() - t
    print(dt, spent[0], torch.__version__)
    """)

DOCTOR = textwrap.dedent("""
    import sys, time
    sys.path.append({site!r})
    t = time.perf_counter()
    import wheelmagic.hook as h
    c = h.run_doctor()
    dt = time.perf_counter() - t
    print(dt, c.diagnosis.status)
    """)

NO_GPU = {"os": "linux", "arch": "x86_64", "cpu": {"x86_64_level": 3}}


def stdlib_names() -> list[str]:
    names = sorted(n for n in sys.stdlib_module_names if n not in SKIP and not n.startswith("_"))
    return names


def _py(code: str, env: dict[str, str]) -> str:
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600, cwd=ROOT
    )
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return r.stdout.strip().splitlines()[-1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHEELMAGIC_")}
    env["WHEELMAGIC_CACHE_DIR"] = tempfile.mkdtemp(prefix="wm-bench-")
    env["PYTHONDONTWRITEBYTECODE"] = "0"
    env.update(extra)
    return env


def paired(
    code_for: Any, runs: int, env: dict[str, str], extra: list[float] | None = None
) -> tuple[list[float], list[float]]:
    """Alternate with/without so drift on a shared machine hits both sides alike.

    `extra` collects the second number the hooked side prints (when it prints one).
    """
    base: list[float] = []
    hooked: list[float] = []
    _py(code_for(False), env)  # warm the bytecode caches
    _py(code_for(True), env)
    for _ in range(runs):
        base.append(float(_py(code_for(False), env).split()[0]))
        fields = _py(code_for(True), env).split()
        hooked.append(float(fields[0]))
        if extra is not None:
            extra.append(float(fields[1]))
    return base, hooked


def bench_workload(runs: int) -> dict[str, Any]:
    names = stdlib_names()
    env = _env()
    base, hooked = paired(lambda hook: WORKLOAD.format(names=names, hook=hook), runs, env)
    ok = _py(WORKLOAD.format(names=names, hook=True), env).split()
    b, h = statistics.median(base), statistics.median(hooked)
    return {
        "clock": "process CPU time of the import loop",
        "modules_requested": len(names),
        "imported_ok": int(ok[1]),
        "modules_loaded": int(ok[2]),
        "runs": runs,
        "without_hook_ms": round(b * 1e3, 2),
        "with_hook_ms": round(h * 1e3, 2),
        "ratio": round(h / b, 4),
        "spread_without_ms": [round(min(base) * 1e3, 2), round(max(base) * 1e3, 2)],
        "spread_with_ms": [round(min(hooked) * 1e3, 2), round(max(hooked) * 1e3, 2)],
    }


def bench_per_call() -> dict[str, Any]:
    import timeit

    from wheelmagic.hook import HookFinder

    finder = HookFinder()
    n = 2_000_000
    t_miss = min(timeit.repeat(lambda: finder.find_spec("json.decoder"), number=n, repeat=5))
    t_empty = min(timeit.repeat(lambda: None, number=n, repeat=5))
    return {
        "find_spec_other_name_ns": round((t_miss - t_empty) / n * 1e9, 1),
        "note": "per call, minus the cost of calling an empty lambda",
    }


def bench_hook_import(runs: int = 7) -> dict[str, Any]:
    """`-X importtime` of `import wheelmagic.hook`: its own time and with its parents."""
    env = _env()
    own: list[int] = []
    cumulative: list[int] = []
    for _ in range(runs):
        r = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import wheelmagic.hook"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        for line in r.stderr.splitlines():
            parts = [p.strip() for p in line.partition(":")[2].split("|")]
            if len(parts) == 3 and parts[2] == "wheelmagic.hook":
                own.append(int(parts[0]))
                cumulative.append(int(parts[1]))
    probe = _py(
        "import sys; before = set(sys.modules); import wheelmagic.hook; "
        "print(','.join(sorted(set(sys.modules) - before)))",
        env,
    )
    new = [m for m in probe.split(",") if m]
    non_stdlib = [
        m
        for m in new
        if m.partition(".")[0] not in sys.stdlib_module_names
        and m.partition(".")[0] != "wheelmagic"
    ]
    return {
        "hook_module_self_us": statistics.median(own),
        "with_wheelmagic_package_us": statistics.median(cumulative),
        "new_modules": new,
        "non_stdlib_modules": non_stdlib,
    }


def _synthetic_torch() -> Path:
    d = Path(tempfile.mkdtemp(prefix="wm-bench-torch-"))
    sys.path.insert(0, str(ROOT / "tests"))
    from support.wheels import build_wheel  # type: ignore[import-not-found]

    whl = build_wheel(d / "wheels", "torch", "2.13.0", label="null")
    import zipfile

    with zipfile.ZipFile(whl) as zf:
        zf.extractall(d / "site")
    return d / "site"


def bench_torch(runs: int, site: Path | None) -> dict[str, Any]:
    real = site is not None and (site / "torch" / "__init__.py").exists()
    target = site if real and site is not None else _synthetic_torch()
    inside: list[float] = []
    snap = Path(tempfile.mkdtemp(prefix="wm-bench-snap-")) / "no-gpu.json"
    snap.write_text(json.dumps(NO_GPU))
    env = _env(WHEELMAGIC_PLATFORM=str(snap))
    out: dict[str, Any] = {
        "torch": "real CPU torch 2.13.0" if real else "synthetic torch",
        "site": str(target),
        "platform": "no-GPU snapshot",
        "runs": runs,
    }
    try:
        doctor = [_py(DOCTOR.format(site=str(target)), env) for _ in range(max(3, runs // 2))]
        out["doctor_ms"] = round(statistics.median(float(d.split()[0]) for d in doctor) * 1e3, 1)
        out["doctor_verdict"] = doctor[0].split()[1]
    except RuntimeError as err:
        out["doctor_error"] = str(err).strip().splitlines()[-1]
    base, hooked = paired(
        lambda hook: TORCH.format(site=str(target), hook=hook), runs, env, extra=inside
    )
    b, h = statistics.median(base), statistics.median(hooked)
    out.update(
        without_hook_ms=round(b * 1e3, 1),
        with_hook_ms=round(h * 1e3, 1),
        added_ms=round((h - b) * 1e3, 1),
        ratio=round(h / b, 4),
        check_inside_import_ms=round(statistics.median(inside) * 1e3, 1),
        check_share=round(statistics.median(inside) / h, 4),
        note="check_inside_import_ms is measured in the process around the hook's "
        "check (settings + offline doctor): the direct cost; the A/B wall times "
        "are noisier on a shared machine",
    )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=11)
    p.add_argument(
        "--torch",
        type=Path,
        default=DEFAULT_TORCH,
        help="a --target dir holding the real torch (default: .cache/bench/...)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--only", choices=("workload", "call", "import", "torch"), action="append")
    args = p.parse_args(argv)
    only = set(args.only or ("workload", "call", "import", "torch"))
    results: dict[str, Any] = {"python": sys.version.split()[0]}
    if "call" in only:
        results["per_call"] = bench_per_call()
    if "import" in only:
        results["hook_import"] = bench_hook_import()
    if "workload" in only:
        results["workload"] = bench_workload(args.runs)
    if "torch" in only:
        results["import_torch"] = bench_torch(args.runs, args.torch)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
