"""Run every benchmark in benchmarks/ and print one results table (and the machine).

    .venv/bin/python benchmarks/run_all.py [--full] [--only NAME ...] [--out results.md]

Each benchmark runs as its own process (`python benchmarks/bench_*.py ...`, quick options by
default, the script's own defaults with `--full`), one after the other so they do not compete
for the CPU; its output is parsed into rows of: figure, wheelmagic median, baseline median,
ratio (wheelmagic / baseline: < 1 is faster, except where the row says otherwise), spread
(min-max of wheelmagic's samples, where the script prints them) and the exact command. The
raw output of every script goes to stderr as it runs. `--out FILE` also writes the table, the
machine and the date as markdown.

Benchmarks that need what this machine may not have (the real torch wheels for
bench_install, curl for bench_download) are reported as skipped or failed in the table, and
the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
TORCH_CPU = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
TORCH_CUDA = Path("/opt/pypi-more/files/torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl")


@dataclass
class Row:
    figure: str
    wheelmagic: str
    baseline: str = "-"
    ratio: str = "-"
    spread: str = "-"
    command: str = ""


@dataclass
class Bench:
    name: str
    quick: list[str]
    full: list[str]
    parse: Callable[[str], list[Row]]
    timeout: float = 1800
    #: None when it can run here, else why not
    unavailable: Callable[[], str | None] = lambda: None
    rows: list[Row] = field(default_factory=list)


def _f(x: float, unit: str, digits: int = 1) -> str:
    return f"{x:.{digits}f} {unit}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


# ---------------------------------------------------------------------------------------------
# parsers: one per script, reading the lines each script prints


def parse_select(out: str) -> list[Row]:
    rx = re.compile(
        r"^(?P<what>.+?)\s+median\s+(?P<med>[\d.]+) ms\s+min\s+(?P<min>[\d.]+)\s+"
        r"max\s+(?P<max>[\d.]+)",
        re.M,
    )
    found = {m["what"].strip(): m for m in rx.finditer(out)}
    ours = next(m for k, m in found.items() if k.startswith("wheelmagic"))
    base = next(m for k, m in found.items() if k.startswith("baseline"))
    med, bmed = float(ours["med"]), float(base["med"])
    return [
        Row(
            "select the best of 1,000 files (cold)",
            _f(med, "ms", 2),
            _f(bmed, "ms", 2) + " (parse_wheel_filename + tag filter)",
            _ratio(med, bmed),
            f"{float(ours['min']):.2f}-{float(ours['max']):.2f} ms",
        )
    ]


def parse_resolve(out: str) -> list[Row]:
    rx = re.compile(
        r"^\s+(?P<what>resolution|select torch)\s+median\s+(?P<med>[\d.]+) ms\s+"
        r"\(min (?P<min>[\d.]+), max (?P<max>[\d.]+)\)",
        re.M,
    )
    found = {m["what"]: m for m in rx.finditer(out)}
    ours, base = found["resolution"], found["select torch"]
    med, bmed = float(ours["med"]), float(base["med"])
    return [
        Row(
            "resolve 3 variant packages (CPU, fetches excluded; budget 200 ms)",
            _f(med, "ms", 2),
            _f(bmed, "ms", 2) + " (select torch alone)",
            _ratio(med, bmed),
            f"{float(ours['min']):.2f}-{float(ours['max']):.2f} ms",
        )
    ]


def parse_detect(out: str) -> list[Row]:
    rx = re.compile(r"^(?P<what>.+?)\s+(?P<med>[\d.]+)\s+(?P<min>[\d.]+)\s+(?P<x>[\d.]+)$", re.M)
    found = {m["what"].strip(): m for m in rx.finditer(out)}
    base = found["python -c pass"]
    rows = []
    for what in ("wheelmagic detect --json", "detect() in-process"):
        if what in found:
            m = found[what]
            rows.append(
                Row(
                    f"`{what}` (process wall time)"
                    if "--json" in what
                    else "`detect()` in a fresh process (wall time)",
                    _f(float(m["med"]), "ms"),
                    _f(float(base["med"]), "ms") + " (`python -c pass`)",
                    _ratio(float(m["med"]), float(base["med"])),
                    f"min {float(m['min']):.1f} ms",
                )
            )
    return rows


def parse_download(out: str) -> list[Row]:
    size = re.search(r"file: (\S+), (\d+) MB", out)
    rx = re.compile(
        r"^\s+(?P<what>wheelmagic|curl|pip download)\s+(?P<s>[\d.]+) s\s+"
        r"(?P<mbs>\d+) MB/s",
        re.M,
    )
    found = {m["what"]: m for m in rx.finditer(out)}
    spreads = dict(re.findall(r"(wheelmagic|curl|pip download) (\d+\.\d+-\d+\.\d+ s)", out))
    wm = float(found["wheelmagic"]["s"])
    what = (
        f"download {size.group(2)} MB over loopback (+ sha256, cache store)"
        if size
        else "download over loopback"
    )
    rows = []
    for other in ("curl", "pip download"):
        if other in found:
            b = float(found[other]["s"])
            rows.append(
                Row(
                    f"{what} vs `{other}`",
                    _f(wm, "s", 3) + f" ({found['wheelmagic']['mbs']} MB/s)",
                    _f(b, "s", 3) + f" ({found[other]['mbs']} MB/s)",
                    _ratio(wm, b),
                    spreads.get("wheelmagic", "-"),
                )
            )
    peak = re.search(
        r"peak memory: (\d+) MB file: peak RSS ([\d.]+) MiB \(a process that only imports: "
        r"([\d.]+) MiB\)",
        out,
    )
    if peak:
        rows.append(
            Row(
                f"peak RSS downloading a {peak.group(1)} MB file (fresh process)",
                f"{peak.group(2)} MiB",
                f"{peak.group(3)} MiB (the same process, imports only)",
                _ratio(float(peak.group(2)), float(peak.group(3))),
            )
        )
    return rows


def parse_install(out: str) -> list[Row]:
    rx = re.compile(r"^(?P<what>.+?)\s+(?P<med>[\d.]+)s\s+\[(?P<lo>[\d.]+)-(?P<hi>[\d.]+)\]", re.M)
    found = [(m["what"].strip(), m) for m in rx.finditer(out)]
    rows = []
    by = dict(found)
    pre = by.get("wheelmagic preinstall torch")
    if pre is not None:
        p = float(pre["med"])
        for key, label in (
            ("pip install torch  (speed-up of wheelmagic)", "pip install torch"),
            ("uv pip install torch  (speed-up of wheelmagic)", "uv pip install torch"),
        ):
            if key in by:
                b = float(by[key]["med"])
                rows.append(
                    Row(
                        f"no-op, torch installed and fitting: `wheelmagic preinstall "
                        f"torch` vs `{label}`",
                        _f(p, "s", 2),
                        _f(b, "s", 2),
                        _ratio(p, b),
                        f"{pre['lo']}-{pre['hi']} s",
                    )
                )
    pairs = (
        (
            "wheelmagic install torch --backend pip",
            "pip install --force-reinstall --no-deps <same wheel>",
            "pip",
        ),
        (
            "wheelmagic install torch --backend uv",
            "uv pip install --reinstall-package torch <same wheel>",
            "uv",
        ),
    )
    fresh = (
        "wheelmagic install torch --backend uv (fresh venv)",
        "uv pip install <same torch wheel> (fresh venv)",
    )
    if fresh[0] in by and fresh[1] in by:
        a, b = float(by[fresh[0]]["med"]), float(by[fresh[1]]["med"])
        rows.append(
            Row(
                "fresh GPU install into an empty venv (torch 2.14.1 cuda13.0 + ~3 GB nvidia "
                "wheels, uv backend, warm caches) vs `uv pip install` of the same files",
                _f(a, "s", 2),
                _f(b, "s", 2),
                _ratio(a, b),
                f"{by[fresh[0]]['lo']}-{by[fresh[0]]['hi']} s",
            )
        )
    for ours, theirs, tool in pairs:
        if ours in by and theirs in by:
            a, b = float(by[ours]["med"]), float(by[theirs]["med"])
            rows.append(
                Row(
                    f"variant switch cpu <-> cuda13.0 (real wheels), {tool}: "
                    f"`{ours}` vs `{theirs}`",
                    _f(a, "s", 2),
                    _f(b, "s", 2),
                    _ratio(a, b),
                    f"{by[ours]['lo']}-{by[ours]['hi']} s",
                )
            )
    return rows


def parse_hook(out: str) -> list[Row]:
    data = json.loads(out[out.index("{") :])
    rows = []
    if "workload" in data:
        w = data["workload"]
        rows.append(
            Row(
                f"import workload ({w['imported_ok']} stdlib modules), CPU time, hook "
                "installed vs not",
                _f(w["with_hook_ms"], "ms"),
                _f(w["without_hook_ms"], "ms"),
                f"{w['ratio']:.3f}",
                "{:.1f}-{:.1f} ms".format(*w["spread_with_ms"]),
            )
        )
    if "per_call" in data:
        rows.append(
            Row(
                "hook `find_spec` for a name it does not watch",
                _f(data["per_call"]["find_spec_other_name_ns"], "ns"),
            )
        )
    if "hook_import" in data:
        h = data["hook_import"]
        rows.append(
            Row(
                "`import wheelmagic.hook` (-X importtime, with the package)",
                _f(h["with_wheelmagic_package_us"] / 1000, "ms", 2),
                spread=f"non-stdlib modules pulled in: "
                f"{', '.join(h['non_stdlib_modules']) or 'none'}",
            )
        )
    if "import_torch" in data:
        t = data["import_torch"]
        if "with_hook_ms" in t:
            rows.append(
                Row(
                    f"`import torch` ({t['torch']}), hook vs no hook",
                    _f(t["with_hook_ms"], "ms"),
                    _f(t["without_hook_ms"], "ms"),
                    f"{t['ratio']:.3f}",
                    f"the hook's own check inside: {t['check_inside_import_ms']} ms",
                )
            )
    return rows


def parse_load_ext(out: str) -> list[Row]:
    data = json.loads(out[out.index("{") :])
    med = data["median_ms"]
    return [
        Row(
            "`%load_ext wheelmagic` vs `%load_ext storemagic`",
            _f(med["wheelmagic"], "ms", 2),
            _f(med["storemagic"], "ms", 2),
            f"{data['wheelmagic_vs_storemagic']:.2f}",
            f"shell start {med['shell']:.0f} ms; heavy modules: "
            f"{', '.join(data['heavy_modules_imported']) or 'none'}",
        )
    ]


def parse_fastpath(out: str) -> list[Row]:
    data = json.loads(out[out.index("{") :])
    p, h = data["preinstall"], data["hook_check"]

    def spread(s: dict[str, float]) -> str:
        return f"{s['min']:.1f}-{s['max']:.1f} ms"

    rows = [
        Row(
            "no-op `preinstall torch` (remembered verdict) vs `uv pip install --offline torch`",
            _f(p["remembered"]["median"], "ms"),
            _f(p["uv"]["median"], "ms"),
            _ratio(p["remembered"]["median"], p["uv"]["median"]),
            spread(p["remembered"]),
        ),
        Row(
            "no-op `preinstall torch` (remembered verdict) vs `python -c pass`",
            _f(p["remembered"]["median"], "ms"),
            _f(p["python"]["median"], "ms"),
            _ratio(p["remembered"]["median"], p["python"]["median"]),
            f"python: {spread(p['python'])}",
        ),
        Row(
            "no-op `preinstall torch`, full check (record deleted) vs `uv pip install --offline`",
            _f(p["full"]["median"], "ms"),
            _f(p["uv"]["median"], "ms"),
            _ratio(p["full"]["median"], p["uv"]["median"]),
            spread(p["full"]),
        ),
        Row(
            "the hook's check inside `import torch`: remembered verdict vs full doctor",
            _f(h["remembered"]["median"], "ms", 2),
            _f(h["full"]["median"], "ms"),
            f"{h['ratio']:.3f}",
            spread(h["remembered"]),
        ),
    ]
    for what, it in data.get("importtime", {}).items():
        if what == "python -c pass":
            continue
        base = data["importtime"]["python -c pass"]
        rows.append(
            Row(
                f"`-X importtime`: {what} (all modules, self time summed)",
                f"{it['all_modules_us'] / 1000:.1f} ms, {it['modules']} modules",
                f"{base['all_modules_us'] / 1000:.1f} ms, {base['modules']} modules "
                "(`python -c pass`)",
                _ratio(it["all_modules_us"], base["all_modules_us"]),
            )
        )
    return rows


def _need_real_wheels() -> str | None:
    if TORCH_CPU.exists() and TORCH_CUDA.exists():
        return None
    return f"needs the real torch wheels ({TORCH_CPU}, {TORCH_CUDA})"


def _need_curl() -> str | None:
    from shutil import which

    return None if which("curl") else "needs curl"


BENCHES = [
    Bench("select", ["--runs", "15"], [], parse_select, 600),
    Bench("resolve", ["--runs", "15"], [], parse_resolve, 600),
    Bench("detect", ["-n", "7"], [], parse_detect, 600),
    Bench("load_ext", ["--runs", "5", "--json"], ["--json"], parse_load_ext, 900),
    Bench("hook", ["--runs", "5", "--json"], ["--json"], parse_hook, 1800),
    Bench("fastpath", ["--runs", "7", "--json"], ["--json"], parse_fastpath, 900),
    # a real wheel: `pip download` reads the wheel's METADATA, so a random file fails there
    Bench(
        "download",
        ["--wheel", str(TORCH_CPU), "--runs", "3", "--peak-mb", "550"]
        if TORCH_CPU.exists()
        else ["--size-mb", "100", "--runs", "3", "--peak-mb", "550"],
        ["--wheel", str(TORCH_CPU), "--runs", "7", "--peak-mb", "550"]
        if TORCH_CPU.exists()
        else ["--peak-mb", "550"],
        parse_download,
        1800,
        _need_curl,
    ),
    Bench(
        "install",
        ["--runs", "3", "--skip-switch"],
        ["--runs", "2", "--fresh", "3"],
        parse_install,
        3600,
        _need_real_wheels,
    ),
]


# ---------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    try:
        mem = next(
            int(line.split()[1]) // (1024 * 1024)
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "?"
    return {
        "cpu": cpu,
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def run_bench(b: Bench, full: bool, py: str) -> tuple[list[Row], str, float]:
    argv = [py, str(BENCH / f"bench_{b.name}.py"), *(b.full if full else b.quick)]
    shown = " ".join(["python", f"benchmarks/bench_{b.name}.py", *map(shlex.quote, argv[2:])])
    why = b.unavailable()
    if why:
        return [Row(f"bench_{b.name}", f"skipped: {why}", command=shown)], "", 0.0
    print(f"\n### {shown}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=b.timeout, cwd=str(ROOT)
        )
    except subprocess.TimeoutExpired:
        return (
            [Row(f"bench_{b.name}", f"failed: over {b.timeout:.0f}s", command=shown)],
            "",
            time.perf_counter() - t0,
        )
    took = time.perf_counter() - t0
    sys.stderr.write(proc.stdout + proc.stderr[-3000:])
    try:
        rows = b.parse(proc.stdout)
    except (ValueError, KeyError, StopIteration, AttributeError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return (
            [
                Row(
                    f"bench_{b.name}",
                    f"failed (exit {proc.returncode}): {tail[:120]}",
                    command=shown,
                )
            ],
            proc.stdout,
            took,
        )
    if proc.returncode != 0:
        rows.append(
            Row(
                f"bench_{b.name} exit status",
                str(proc.returncode),
                spread="the script's own target check failed (see its output)",
                command=shown,
            )
        )
    for r in rows:
        r.command = r.command or shown
    return rows, proc.stdout, took


def markdown(rows: list[Row], info: dict[str, str], took: dict[str, float]) -> str:
    head = (
        "| figure | wheelmagic (median) | baseline (median) | ratio | spread | command |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
    )
    body = "".join(
        f"| {r.figure} | {r.wheelmagic} | {r.baseline} | {r.ratio} | {r.spread} | `{r.command}` |\n"
        for r in rows
    )
    mach = "\n".join(f"- {k}: {v}" for k, v in info.items())
    times = ", ".join(f"{k} {v:.0f}s" for k, v in took.items())
    return f"{head}{body}\nMachine:\n{mach}\n\nBenchmark wall times: {times}\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--full",
        action="store_true",
        help="each script's default (longer) settings instead of the quick ones",
    )
    ap.add_argument(
        "--only",
        action="append",
        choices=[b.name for b in BENCHES],
        help="run only these benchmarks (repeatable)",
    )
    ap.add_argument("--out", type=Path, help="also write the table as markdown to this file")
    args = ap.parse_args(argv)
    rows: list[Row] = []
    took: dict[str, float] = {}
    for b in BENCHES:
        if args.only and b.name not in args.only:
            continue
        got, _out, seconds = run_bench(b, args.full, sys.executable)
        rows += got
        took[b.name] = seconds
    info = machine()
    text = markdown(rows, info, took)
    print("\n" + text)
    if args.out:
        args.out.write_text(text)
        print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
