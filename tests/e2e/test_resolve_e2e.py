"""Issue 16 end to end: `wheelmagic install flash-attn vllm` from a loopback index of small
real variant wheels (built by `wheelmagic index build`) into a throwaway venv, through pip and
uv; then `pip check` is clean and `wheelmagic doctor` says the installed torch fits."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.e2e import PLATFORMS, clean_env, make_venv, pip_check, py, wheelmagic
from support.server import serve_directory
from support.variant_sets import build_set

from wheelmagic.install.backends import find_uv

pytestmark = pytest.mark.e2e

BACKENDS = ["pip"] + (["uv"] if find_uv() else [])
#: driver 580: CUDA 13 builds would fit, so only the consistency rules pick CUDA 12
H100 = PLATFORMS / "nvidia-h100-driver580.snapshot.json"


@pytest.mark.parametrize("backend", BACKENDS)
def test_install_a_consistent_set_then_pip_check_and_doctor(tmp_path: Path, backend: str) -> None:
    index = build_set(tmp_path / "set")
    python = make_venv(tmp_path / "venv")
    env = clean_env(tmp_path / "cache")
    h100 = str(H100)
    with serve_directory(index) as srv:
        ran = wheelmagic(
            "install", "flash-attn", "vllm", "--yes", "--backend", backend,
            "--index-url", srv.url("simple/"), "--torch-backend", "none",
            "--platform", h100, "--python", python, env=env,
        )  # fmt: skip
        assert ran.returncode == 0, ran.output
    builds = py(
        python,
        "import torch, flash_attn, vllm; "
        "print(torch.__build__, torch.__version__, flash_attn.__build__, vllm.__build__)",
        env,
    )
    assert builds.stdout.split() == ["cuda12.8", "2.8.0+cu128", "torch28_cu12", "torch28_cu12"], (
        builds.output
    )
    check = pip_check(python, env)
    assert check.returncode == 0, check.output
    doctor = wheelmagic("doctor", "--platform", h100, "--python", python, env=env)
    assert doctor.returncode == 0, doctor.output
    assert "fits" in doctor.output, doctor.output


def test_an_installed_torch_is_kept_and_decides_the_build(tmp_path: Path) -> None:
    index = build_set(tmp_path / "set")
    python = make_venv(tmp_path / "venv")
    env = clean_env(tmp_path / "cache")
    h100 = str(H100)

    def install(*args: str):  # type: ignore[no-untyped-def]
        return wheelmagic(
            "install", *args, "--yes", "--backend", "pip", "--index-url", srv.url("simple/"),
            "--torch-backend", "none", "--platform", h100, "--python", python, env=env,
        )  # fmt: skip

    def builds_of(module: str) -> str:
        return py(python, f"import {module}; print({module}.__version__)").stdout.strip()

    def builds() -> str:
        return py(
            python, "import torch, flash_attn; print(torch.__version__, flash_attn.__build__)"
        ).stdout

    with serve_directory(index) as srv:
        first = install("torch==2.9.0")
        assert first.returncode == 0, first.output
        torch = builds_of("torch")
        ran = install("flash-attn")
        assert ran.returncode == 0, ran.output
        cuda = "12" if torch.endswith("+cu128") else "13"
        assert builds().split() == [torch, f"torch29_cu{cuda}"]  # torch kept, its build chosen
        refused = install("vllm")  # vllm exists only for torch 2.8
        assert refused.returncode != 0, refused.output
        assert "installed torch 2.9.0" in refused.output, refused.output
        assert "wheelmagic install vllm 'torch==2.8.0'" in refused.output, refused.output
    assert builds().split() == [torch, f"torch29_cu{cuda}"]  # nothing changed
    check = pip_check(python, env)
    assert check.returncode == 0, check.output
