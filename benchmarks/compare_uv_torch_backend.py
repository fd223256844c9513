"""wheelmagic beside `uv pip install --torch-backend auto`, on one per-backend tree, per machine.

For each recorded machine of tests/data/platforms (and the boundary snapshots issue 15 added),
both tools choose a torch build from the same loopback copy of PyTorch's per-backend indexes
(tests/support/torch_tree.REAL_SHAPED: several releases; cu118 stops at 2.7, cu130 starts at
2.9, ROCm lines come and go). The table prints both choices with the fit level of each on that
machine (`wheelmagic.pytorch.fit`, the same judge for both), and exits 1 if wheelmagic's is worse
anywhere.

How uv is run, for real:
1. uv's own backend choice: `uv pip install --dry-run --torch-backend auto --offline -v torch`
   with uv's overrides for the machine (`UV_CUDA_DRIVER_VERSION` = the snapshot's driver,
   `UV_AMD_GPU_ARCHITECTURE` = its gfx target; see `uv help pip install`). Offline, uv logs the
   per-backend URLs it would query, in its priority order.
2. uv's file choice: the same uv, `--dry-run`, with those indexes in that order pointed at the
   loopback tree (`--index URL` each; uv's default first-index strategy), no config.

Limits: uv has no override for Intel XPU detection, so on the Intel machine uv sees this host
(no GPU) and picks CPU; machines whose accelerator uv cannot be told about are marked so.

    .venv/bin/python benchmarks/compare_uv_torch_backend.py
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.server import serve_directory  # noqa: E402
from support.torch_tree import REAL_SHAPED, local_platform_tag, per_backend_tree  # noqa: E402

from wheelmagic.app import Session  # noqa: E402
from wheelmagic.index import IndexClient, resolve_indexes  # noqa: E402
from wheelmagic.options import Options  # noqa: E402
from wheelmagic.platform.model import Platform  # noqa: E402
from wheelmagic.pytorch.fit import fit_policy  # noqa: E402
from wheelmagic.variants.selection import Fit  # noqa: E402

PLATFORMS = ROOT / "tests" / "data" / "platforms"
MACHINES = (
    "nvidia-t4-driver535",
    "nvidia-t4-driver525-60-11",
    "nvidia-t4-driver525-60-13",
    "nvidia-t4-driver470",
    "nvidia-h100-driver580",
    "nvidia-h100-driver575",
    "nvidia-gtx1080ti-driver580",
    "nvidia-gtx1080ti-driver525-60-13",
    "nvidia-gtx970-driver535",
    "nvidia-rtx5090-driver570",
    "nvidia-wsl2-rtx4090-driver572",
    "nvidia-mixed-gtx1080ti-rtx5090-driver580",
    "amd-mi250-rocm64",
    "amd-mi300x-rocm62",
    "intel-arc-b580-xe",
    "cpu-x86_64-v3",
)
_URL = re.compile(r"https://download\.pytorch\.org/whl/([a-z0-9.]+)/torch/")


@dataclass
class Row:
    machine: str
    ours: str
    ours_fit: Fit
    uv: str
    uv_fit: Fit | None
    uv_order: list[str]


def uv_env(platform: Platform, cache: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    env["UV_CACHE_DIR"] = cache
    env["UV_NO_CONFIG"] = "1"
    if platform.nvidia is not None and platform.nvidia.driver_version:
        env["UV_CUDA_DRIVER_VERSION"] = platform.nvidia.driver_version
    if platform.amd is not None and platform.amd.gfx:
        env["UV_AMD_GPU_ARCHITECTURE"] = platform.amd.gfx[0]
    return env


def uv_backends(uv: str, python: str, env: dict[str, str]) -> list[str]:
    """The per-backend indexes uv's `auto` would query for this machine, in its order."""
    out = subprocess.run(
        [uv, "pip", "install", "--dry-run", "--torch-backend", "auto", "--offline", "-v"]
        + ["--python", python, "torch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seen: list[str] = []
    for m in _URL.finditer(out.stderr + out.stdout):
        if m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def uv_choice(uv: str, python: str, env: dict[str, str], base: str, order: list[str]) -> str:
    """The torch file uv installs from the loopback tree, given its own backend order."""
    args = [uv, "pip", "install", "--dry-run", "--python", python, "--no-config"]
    for backend in order:
        args += ["--index", f"{base}/{backend}/"]
    args += ["--default-index", f"{base}/none/", "torch"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    m = re.search(r"\+ torch==(\S+)", out.stderr + out.stdout)
    return m.group(1) if m else f"(uv failed: {(out.stderr or out.stdout).strip()[-200:]})"


def fit_of(platform: Platform, base: str, version: str) -> Fit | None:
    """Our judge of the torch file `version` (e.g. 2.9.0+cu126) on this machine, read from its
    per-backend index as wheelmagic's index client describes it."""
    backend = version.split("+")[1] if "+" in version else "cpu"
    config = resolve_indexes(
        f"{base}/{backend}/",
        torch_backend="none",
        env={"PIP_CONFIG_FILE": os.devnull},
        read_pip_files=False,
    )
    with IndexClient(config, None) as client:
        files = client.project("torch")
    judge = fit_policy(platform)
    for cand in files.candidates:
        if str(cand.wheel.version) != version:
            continue
        meta = files.variants.get(cand.wheel.version)
        props = meta.properties(cand.label) if meta is not None and cand.label else None
        return judge(cand, cand.label, props or {})
    return None


def main() -> int:
    uv = shutil.which("uv", path=str(ROOT / ".venv" / "bin")) or shutil.which("uv")
    tag = local_platform_tag()
    if uv is None or tag is None:
        print("needs uv and a Linux x86_64 CPython host")
        return 2
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        per_backend_tree(root, tag, REAL_SHAPED)
        venv = root / "venv"
        subprocess.run([uv, "venv", "-q", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        with serve_directory(root) as srv:
            base = srv.url("whl").rstrip("/")
            for machine in MACHINES:
                snapshot = PLATFORMS / f"{machine}.snapshot.json"
                platform = Platform.from_json(json.loads(snapshot.read_text()))
                env = {
                    k: v
                    for k, v in os.environ.items()
                    if not k.startswith(("PIP_", "UV_", "WHEELMAGIC_"))
                    or k == "WHEELMAGIC_CACHE_DIR"
                }
                env |= {
                    "PIP_CONFIG_FILE": os.devnull,
                    "WHEELMAGIC_PYTORCH_INDEX_BASE": base,
                    "WHEELMAGIC_PYTORCH_VARIANT_INDEX": srv.url("none/"),
                }
                options = Options(
                    platform_file=str(snapshot),
                    index_url=srv.url("none/"),
                    torch_backend="auto",
                    dry_run=True,
                )
                with Session(options, environ=env) as session:
                    plan = session.plan(["torch"])
                ours = str(plan.packages[0].version)
                ours_fit = fit_of(platform, base, ours)
                assert ours_fit is not None
                uenv = uv_env(platform, str(root / "uv-cache"))
                order = uv_backends(uv, python, uenv)
                theirs = uv_choice(uv, python, uenv, base, order)
                rows.append(
                    Row(
                        machine,
                        ours,
                        ours_fit,
                        theirs,
                        fit_of(platform, base, theirs),
                        order,
                    )
                )
    width = max(len(r.machine) for r in rows)
    print(f"{'machine':{width}}  {'wheelmagic':42}  {'uv --torch-backend auto':46}  verdict")
    worse = 0
    for r in rows:
        uv_level = r.uv_fit.level if r.uv_fit is not None else 99
        verdict = (
            "better"
            if r.ours_fit.level < uv_level
            else "same level"
            if r.ours_fit.level == uv_level
            else "WORSE"
        )
        if r.machine.startswith("intel") and verdict == "better":
            verdict = "better (uv cannot be told of an XPU)"
        worse += verdict == "WORSE"
        uv_name = r.uv_fit.name if r.uv_fit is not None else "?"
        print(
            f"{r.machine:{width}}  {r.ours + ' (' + r.ours_fit.name + ')':42}  "
            f"{r.uv + ' (' + uv_name + ')':46}  {verdict}"
        )
    print(
        "\nfit levels: uses every accelerator < serves some accelerators < CPU only < idle "
        "accelerated build < cannot use this machine's GPU; uv has no XPU override (Intel row)."
    )
    return 1 if worse else 0


if __name__ == "__main__":
    raise SystemExit(main())
