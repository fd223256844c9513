"""A GPU machine that gets a CPU build is told so, with the reason and the next step (issue 13,
item 2): in the plan, in `%variant_install`'s output and in `preinstall`'s summary line.

Recorded platforms (tests/data/platforms) against a real static index that has a CUDA 13.0 build
for sm_75..sm_120 and a CPU (null) build: none of the four machines can use the CUDA build.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.e2e import Ran, clean_env, wheelmagic
from support.wheels import build_wheel

from wheelmagic.index.build import build_index

PLATFORMS = Path(__file__).parent.parent / "data" / "platforms"
NV = {
    "nvidia": {
        "cuda_version_lower_bound": ["13.0"],
        "sm_arch": ["75_real", "80_real", "90_real", "100_real", "120_real"],
    }
}
CASES = {
    "nvidia-t4-driver535": "needs CUDA 13.0; driver 535.104.05 supports CUDA 12.2",
    "nvidia-gtx1080ti-driver580": "has kernels for sm_75, sm_80, sm_90, sm_100, sm_120 only",
    "nvidia-rtx5090-driver570": "needs CUDA 13.0; driver 570.124.04 supports CUDA 12.8",
    "nvidia-wsl2-rtx4090-driver572": "needs CUDA 13.0; driver 572.60 supports CUDA 12.8",
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("idx")
    build_wheel(root / "w", "torch", "2.14.1", label="cuda13.0", properties=NV)
    build_wheel(root / "w", "torch", "2.14.1", label="null", properties={})
    build_index(root / "w", root / "www")
    yield (root / "www" / "simple").as_uri() + "/"


def _env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


def _cli(tmp_path: Path, *args: str) -> Ran:
    return wheelmagic(*args, env=_env(tmp_path))


def _target(platform: str, index: str) -> list[str]:
    snap = PLATFORMS / f"{platform}.snapshot.json"
    return ["--platform", str(snap), "--index-url", index, "--torch-backend", "none"]


@pytest.mark.parametrize("platform", list(CASES))
def test_plan_warns_when_the_gpu_is_left_unused(platform: str, index: str, tmp_path: Path) -> None:
    ran = _cli(tmp_path, "install", "torch", "--dry-run", *_target(platform, index))
    assert ran.returncode == 0, ran.stderr
    warning = [line for line in ran.stdout.splitlines() if line.strip().startswith("warning")]
    assert len(warning) == 1, ran.stdout
    assert "torch 2.14.1 [null] does not use the" in warning[0]
    assert CASES[platform] in warning[0] and "next: " in warning[0]
    plan = json.loads(
        _cli(tmp_path, "install", "torch", "--dry-run", "--json", *_target(platform, index)).stdout
    )
    assert CASES[platform] in plan["unused_accelerator"]


def test_preinstall_summary_line_says_so(index: str, tmp_path: Path) -> None:
    ran = _cli(tmp_path, "preinstall", "torch", "--dry-run", *_target("nvidia-t4-driver535", index))
    assert ran.returncode == 0, ran.stderr
    (line,) = [x for x in ran.stdout.splitlines() if x.startswith("wheelmagic:")]
    assert "warning: torch 2.14.1 [null] does not use the Tesla T4" in line, ran.stdout


def test_magic_output_says_so(index: str, tmp_path: Path) -> None:
    argv = " ".join(["torch", "--dry-run", *_target("nvidia-gtx1080ti-driver580", index)])
    code = (
        "ip = get_ipython(); ip.run_line_magic('load_ext', 'wheelmagic'); "
        f"ip.run_line_magic('variant_install', {argv!r})"
    )
    ran = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "-c", code],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = ran.stdout + ran.stderr
    assert "does not use the NVIDIA GeForce GTX 1080 Ti (sm_61)" in out, out


@pytest.mark.parametrize("platform", ["nvidia-h100-driver580", "cpu-x86_64-v3"])
def test_no_warning_when_the_build_fits_or_there_is_no_gpu(
    platform: str, index: str, tmp_path: Path
) -> None:
    ran = _cli(tmp_path, "install", "torch", "--dry-run", "--json", *_target(platform, index))
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["unused_accelerator"] is None
