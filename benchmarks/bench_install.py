"""Install timings against pip and uv: same loopback index, same machine, same venv.

    .venv/bin/python benchmarks/bench_install.py [--runs 3] [--skip-switch] [--fresh N]

The index is built with `wheelmagic index build` from the real PyTorch wheels of this machine's
mirror, repacked as variants (torch 2.13.0 `null`, torch 2.14.1 `cuda13.0`, plus the nvidia
dependencies, symlinked) and served from a separate process. The questions:

1. No-op: torch is installed and fits. `wheelmagic preinstall torch` vs `pip install torch` vs
   `uv pip install --python V torch` (both pointed at the same index).
2. A variant switch end to end (cpu `null` 2.13.0 <-> `cuda13.0` 2.14.1, the CUDA
   dependencies already installed): `wheelmagic install torch --platform X` vs the same wheels
   installed by hand with `pip install --force-reinstall --no-deps` and with
   `uv pip install --reinstall-package torch`. Interleaved: wheelmagic -> cuda, the other
   tool -> cpu, the other -> cuda, wheelmagic -> cpu, so each switches both ways alike.
3. With `--fresh N`: a fresh GPU install into an empty venv (torch 2.14.1 `cuda13.0` and its
   ~3 GB of nvidia wheels from the same index, uv backend) vs `uv pip install` of the same
   staged torch wheel with its dependencies from the same index, alternating; both with warm
   caches (wheelmagic's download cache, uv's wheel cache), the venvs made outside the timing.

Medians and spreads (min-max) over `--runs`; ratios are wheelmagic / other (< 1: faster).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from support.e2e import (  # noqa: E402
    clean_env,
    index_build,
    make_venv,
    real_wheel_dir,
    snapshot,
)
from support.server import serve_directory  # noqa: E402

from wheelmagic.install.backends import find_uv  # noqa: E402


def _serve(root: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with serve_directory(root) as srv:
        queue.put(srv.base_url)
        time.sleep(24 * 3600)


def timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return dt


def runs(n: int, fn: Callable[[int], float]) -> list[float]:
    return [fn(i) for i in range(n)]


def row(name: str, xs: list[float], _ref: list[float] | None) -> str:
    """`name  median  [min-max]`."""
    med = statistics.median(xs)
    return f"{name:58s} {med:8.2f}s  [{min(xs):.2f}-{max(xs):.2f}]"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-switch", action="store_true")
    ap.add_argument(
        "--fresh",
        type=int,
        default=0,
        help="also time N fresh GPU installs into empty venvs (uv backend) against uv",
    )
    args = ap.parse_args()
    uv = find_uv()
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp_s:
        tmp = Path(tmp_s)
        env = clean_env(tmp / "cache")
        wheels = real_wheel_dir(tmp / "wheels", cuda=True)
        www = index_build(wheels, tmp / "www", env)
        queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
        server = multiprocessing.Process(target=_serve, args=(str(www), queue), daemon=True)
        server.start()
        url = queue.get(timeout=30) + "simple/"
        py = make_venv(tmp / "venv")
        wm = [sys.executable, "-m", "wheelmagic"]
        common = ["--index-url", url, "--python", py]
        cpu, h100 = str(snapshot("cpu")), str(snapshot("h100"))
        print(f"index {url}; venv {py}; uv {uv}")
        # set up: the CUDA build with all its dependencies, then the CPU build
        timed([*wm, "install", "torch", "--yes", "--platform", h100, *common], env)
        timed([*wm, "install", "torch", "--yes", "--platform", cpu, *common], env)

        results: list[str] = []
        print("\n== no-op (torch installed and fitting)")
        pre = runs(
            args.runs,
            lambda _i: timed([*wm, "preinstall", "torch", "--platform", cpu, *common], env),
        )
        pip_noop = runs(
            args.runs,
            lambda _i: timed([py, "-m", "pip", "install", "--index-url", url, "torch"], env),
        )
        results += [
            row("wheelmagic preinstall torch", pre, None),
            row("pip install torch  (speed-up of wheelmagic)", pip_noop, None)
            + f"  x{statistics.median(pip_noop) / statistics.median(pre):.1f}",
        ]
        if uv:
            uv_noop = runs(
                args.runs,
                lambda _i: timed(
                    [uv, "pip", "install", "--python", py, "--index-url", url, "torch"], env
                ),
            )
            results.append(
                row("uv pip install torch  (speed-up of wheelmagic)", uv_noop, None)
                + f"  x{statistics.median(uv_noop) / statistics.median(pre):.1f}"
            )
        print("\n".join(results))

        if not args.skip_switch or args.fresh:
            # the wheels wheelmagic handed the installer (staged under their non-variant names)
            found = sorted((tmp / "cache" / "wheelmagic").rglob("torch-*.whl"))
            staged = [p for p in found if "staged" in p.parts] or found
            try:
                cuda_whl = next(p for p in staged if "2.14.1" in p.name)
                cpu_whl = next(p for p in staged if "2.13.0" in p.name)
            except StopIteration:
                listing = "\n  ".join(str(p) for p in (tmp / "cache").rglob("*.whl"))
                raise SystemExit(f"no staged torch wheels; the cache holds:\n  {listing}") from None

        if not args.skip_switch:
            print("\n== variant switch: cpu null 2.13.0 <-> cuda13.0 2.14.1 (deps installed)")

            def wm_switch(i: int, backend: str) -> float:
                plat = h100 if i % 2 == 0 else cpu
                return timed(
                    [*wm, "install", "torch", "--yes", "--backend", backend, "--platform", plat]
                    + common,
                    env,
                )

            def pip_switch(i: int) -> float:
                whl = cuda_whl if i % 2 == 0 else cpu_whl
                return timed(
                    [py, "-m", "pip", "install", "--force-reinstall", "--no-deps", "--no-index"]
                    + [str(whl)],
                    env,
                )

            def uv_switch(i: int) -> float:
                whl = cuda_whl if i % 2 == 0 else cpu_whl
                return timed(
                    [uv or "uv", "pip", "install", "--python", py, "--no-index"]
                    + ["--reinstall-package", "torch", str(whl)],
                    env,
                )

            n = max(2, args.runs - args.runs % 2)
            out = []
            # interleaved, and each tool switches both ways equally often:
            # wheelmagic -> cuda, other -> cpu, other -> cuda, wheelmagic -> cpu, ...
            pairs = [("pip", pip_switch)] + ([("uv", uv_switch)] if uv else [])
            for backend, other in pairs:
                ours: list[float] = []
                theirs: list[float] = []
                for _ in range(n // 2):
                    ours.append(wm_switch(0, backend))
                    theirs.append(other(1))
                    theirs.append(other(0))
                    ours.append(wm_switch(1, backend))
                what = (
                    "pip install --force-reinstall --no-deps <same wheel>"
                    if backend == "pip"
                    else "uv pip install --reinstall-package torch <same wheel>"
                )
                out += [
                    row(f"wheelmagic install torch --backend {backend}", ours, None),
                    row(what, theirs, None) + f"  wheelmagic/{backend} = "
                    f"{statistics.median(ours) / statistics.median(theirs):.2f}",
                ]
            print("\n".join(out))

        if args.fresh and uv:
            print(
                "\n== fresh GPU install into an empty venv: torch 2.14.1 cuda13.0 + its nvidia "
                "wheels from the same index, uv backend (warm caches: wheelmagic's and uv's)"
            )

            def fresh(i: int, ours: bool) -> float:
                target = tmp / f"fresh-{'wm' if ours else 'uv'}-{i}"
                v = make_venv(target, with_pip=False)
                if ours:
                    argv = [*wm, "install", "torch", "--yes", "--backend", "uv"]
                    argv += ["--platform", h100, "--index-url", url, "--python", v]
                else:  # the same files: the staged torch wheel, its dependencies from the index
                    argv = [uv, "pip", "install", "--python", v, "--index-url", url, str(cuda_whl)]
                took = timed(argv, env)
                shutil.rmtree(target)
                return took

            ours_f: list[float] = []
            theirs_f: list[float] = []
            for i in range(args.fresh):
                ours_f.append(fresh(i, True))
                theirs_f.append(fresh(i, False))
            print(row("wheelmagic install torch --backend uv (fresh venv)", ours_f, None))
            print(
                row("uv pip install <same torch wheel> (fresh venv)", theirs_f, None)
                + f"  wheelmagic/uv = {statistics.median(ours_f) / statistics.median(theirs_f):.2f}"
            )
        server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
