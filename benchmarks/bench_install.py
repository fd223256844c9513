"""Install timings against pip and uv: same loopback index, same machine, same venv.

    .venv/bin/python benchmarks/bench_install.py [--runs 3] [--skip-switch]

The index is built with `wheelmagic index build` from the real PyTorch wheels of this machine's
mirror, repacked as variants (torch 2.13.0 `null`, torch 2.14.1 `cuda13.0`, plus the nvidia
dependencies, symlinked) and served from a separate process. Two questions:

1. No-op: torch is installed and fits. `wheelmagic preinstall torch` vs `pip install torch` vs
   `uv pip install --python V torch` (both pointed at the same index).
2. A variant switch end to end (cpu `null` 2.13.0 <-> `cuda13.0` 2.14.1, the CUDA
   dependencies already installed): `wheelmagic install torch --platform X` vs the same wheels
   installed by hand with `pip install --force-reinstall --no-deps` and with
   `uv pip install --reinstall-package torch`.

Medians and spreads (min-max) over `--runs`; ratios are wheelmagic / other (< 1: faster).
"""

from __future__ import annotations

import argparse
import multiprocessing
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

        if not args.skip_switch:
            print("\n== variant switch: cpu null 2.13.0 <-> cuda13.0 2.14.1 (deps installed)")
            staged = sorted((tmp / "cache" / "wheelmagic" / "staged").glob("*/torch-*.whl"))
            cuda_whl = next(p for p in staged if "2.14.1" in p.name)
            cpu_whl = next(p for p in staged if "2.13.0" in p.name)

            def wm_switch(i: int, backend: str) -> float:
                plat = h100 if i % 2 == 0 else cpu
                return timed(
                    [
                        *wm,
                        "install",
                        "torch",
                        "--yes",
                        "--backend",
                        backend,
                        "--platform",
                        plat,
                        *common,
                    ],
                    env,
                )

            def pip_switch(i: int) -> float:
                whl = cuda_whl if i % 2 == 0 else cpu_whl
                return timed(
                    [
                        py,
                        "-m",
                        "pip",
                        "install",
                        "--force-reinstall",
                        "--no-deps",
                        "--no-index",
                        str(whl),
                    ],
                    env,
                )

            n = max(2, args.runs - args.runs % 2)
            out = []
            w_pip = runs(n, lambda i: wm_switch(i, "pip"))
            p = runs(n, pip_switch)
            out += [
                row("wheelmagic install torch --backend pip", w_pip, None),
                row("pip install --force-reinstall --no-deps <same wheel>", p, None)
                + f"  wheelmagic/pip = {statistics.median(w_pip) / statistics.median(p):.2f}",
            ]
            if uv:

                def uv_switch(i: int) -> float:
                    whl = cuda_whl if i % 2 == 0 else cpu_whl
                    return timed(
                        [
                            uv,
                            "pip",
                            "install",
                            "--python",
                            py,
                            "--no-index",
                            "--reinstall-package",
                            "torch",
                            str(whl),
                        ],
                        env,
                    )

                w_uv = runs(n, lambda i: wm_switch(i, "uv"))
                u = runs(n, uv_switch)
                out += [
                    row("wheelmagic install torch --backend uv", w_uv, None),
                    row("uv pip install --reinstall-package torch <same wheel>", u, None)
                    + f"  wheelmagic/uv = {statistics.median(w_uv) / statistics.median(u):.2f}",
                ]
            print("\n".join(out))
        server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
