"""Download a large file from a loopback server: wheelmagic vs `curl -o` vs `pip download`.

    .venv/bin/python benchmarks/bench_download.py [--size-mb 300] [--runs 3] [--wheel PATH]

By default a random file named like a wheel is generated in a temp dir (or give `--wheel`,
e.g. /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl). pip downloads it
through a one-project index (`--no-deps --no-cache-dir --index-url`). Each tool runs `--runs`
times; the medians are reported, and wheelmagic's as ratios to the others (< 1 is faster).
wheelmagic runs with an empty cache each time (a real download plus hash check and store).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.server import random_file, serve_directory  # noqa: E402

from wheelmagic.install.cache import WheelCache  # noqa: E402
from wheelmagic.install.download import Fetcher  # noqa: E402


def _serve(root: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """The server runs in its own process, so it does not share a GIL with the client."""
    with serve_directory(root) as srv:
        queue.put(srv.base_url)
        time.sleep(3600)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


PEAK = """
import resource, sys
from pathlib import Path
from wheelmagic.install.cache import WheelCache
from wheelmagic.install.download import Fetcher
url, sha, size, cache = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sha != "-":
    with Fetcher(WheelCache(cache)) as f:
        f.fetch(url, sha256=sha, size=size)
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_memory(base: str, tmp: Path, size_mb: int) -> tuple[int, int, int]:
    """(file bytes, peak RSS KiB of a process that downloads it, of one that only imports)"""
    (tmp / "www" / "files" / "peak").mkdir(parents=True, exist_ok=True)
    path = random_file(tmp / "www" / "files" / "peak" / "peak-1.0-py3-none-any.whl", size_mb << 20)
    sha, size = _sha256(path), path.stat().st_size
    url = f"{base}files/peak/{path.name}"
    got = []
    for s in (sha, "-"):
        out = subprocess.run(
            [sys.executable, "-c", PEAK, url, s, str(size), str(tmp / "peak-cache")],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
        got.append(int(out[1]))
    path.unlink()
    shutil.rmtree(tmp / "peak-cache", ignore_errors=True)
    return size, got[0], got[1]


def _time(fn) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--wheel", type=Path)
    ap.add_argument("--parallel", type=int, default=0, help="also time N parallel ranges")
    ap.add_argument(
        "--peak-mb",
        type=int,
        default=0,
        help="also download a file of this many MiB in a fresh process and report its peak RSS",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        www = tmp / "www"
        (www / "files").mkdir(parents=True)
        if args.wheel:
            name = args.wheel.name
            shutil.copyfile(args.wheel, www / "files" / name)
        else:
            name = "bench-1.0-py3-none-any.whl"
            random_file(www / "files" / name, args.size_mb << 20)
        path = www / "files" / name
        size = path.stat().st_size
        sha = _sha256(path)
        project = name.split("-")[0].lower().replace("_", "-")
        page = www / "simple" / project
        page.mkdir(parents=True)
        (page / "index.html").write_text(f'<a href="../../files/{name}#sha256={sha}">{name}</a>\n')
        results: dict[str, list[float]] = {"wheelmagic": [], "curl": [], "pip download": []}
        if args.parallel > 1:
            results[f"wheelmagic parallel={args.parallel}"] = []
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        proc = multiprocessing.Process(target=_serve, args=(str(www), queue), daemon=True)
        proc.start()
        base = queue.get(timeout=30)
        try:
            url = f"{base}files/{name}"
            for run in range(args.runs):

                def wm(parallel: int = 1, run: int = run) -> None:
                    cache = WheelCache(tmp / f"cache-{parallel}-{run}")
                    with Fetcher(cache, parallel=parallel) as f:
                        f.fetch(url, filename=name, sha256=sha, size=size)

                # (deleting the cached file is not part of the download: curl's is not timed)
                results["wheelmagic"].append(_time(wm))
                shutil.rmtree(tmp / f"cache-1-{run}")
                if args.parallel > 1:
                    results[f"wheelmagic parallel={args.parallel}"].append(
                        _time(lambda: wm(args.parallel))
                    )
                    shutil.rmtree(tmp / f"cache-{args.parallel}-{run}")
                out = tmp / "curl.out"
                results["curl"].append(
                    _time(
                        lambda out=out: subprocess.run(
                            ["curl", "-sS", "-o", str(out), url], check=True
                        )
                    )
                )
                out.unlink()
                dest = tmp / f"pip-{run}"
                results["pip download"].append(
                    _time(
                        lambda dest=dest: subprocess.run(
                            [
                                sys.executable,
                                "-m",
                                "pip",
                                "download",
                                "-q",
                                "--no-deps",
                                "--no-cache-dir",
                                "--isolated",
                                "--index-url",
                                f"{base}simple/",
                                "--only-binary",
                                ":all:",
                                "--python-version",
                                "3.11",
                                "--platform",
                                "manylinux_2_28_x86_64",
                                "--platform",
                                "any",
                                "-d",
                                str(dest),
                                project,
                            ],
                            check=True,
                        )
                    )
                )
                shutil.rmtree(dest)
            peak = peak_memory(base, tmp, args.peak_mb) if args.peak_mb else None
        finally:
            proc.terminate()
            proc.join()
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"file: {name}, {size / 1e6:.0f} MB, {args.runs} runs (median seconds)")
        for k, v in med.items():
            print(f"  {k:28s} {v:7.3f} s  {size / v / 1e6:8.0f} MB/s")
        for other in ("curl", "pip download"):
            print(f"  wheelmagic / {other}: {med['wheelmagic'] / med[other]:.2f}")
        spread = {k: f"{min(v):.3f}-{max(v):.3f} s" for k, v in results.items()}
        print("  spreads (min-max): " + "; ".join(f"{k} {v}" for k, v in spread.items()))
        if args.parallel > 1:
            key = f"wheelmagic parallel={args.parallel}"
            print(f"  {key} / wheelmagic: {med[key] / med['wheelmagic']:.2f}")
        if peak is not None:
            size_b, with_kib, without_kib = peak
            print(
                f"peak memory: {size_b / 1e6:.0f} MB file: peak RSS {with_kib / 1024:.1f} MiB "
                f"(a process that only imports: {without_kib / 1024:.1f} MiB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
