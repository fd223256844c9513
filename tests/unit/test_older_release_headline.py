"""When fit levels put an older release first, the plan says why in one readable sentence,
also when the winner is a CPU build (the sentence once read "has no build that cPU build")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.e2e import clean_env
from support.wheels import build_wheel

from wheelmagic.app import Session
from wheelmagic.index.build import build_index
from wheelmagic.options import Options

PLATFORMS = Path(__file__).parent.parent / "data" / "platforms"
CU130 = {"nvidia": {"cuda_version_lower_bound": ["13.0"], "sm_arch": ["75_real", "90_real"]}}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """torch 2.13.0 CPU only; torch 2.14.1 CUDA 13.0 only (as the demo index)."""
    root = tmp_path_factory.mktemp("idx")
    build_wheel(root / "w", "torch", "2.13.0", label="null", properties={})
    build_wheel(root / "w", "torch", "2.14.1", label="cuda13.0", properties=CU130)
    build_index(root / "w", root / "www")
    yield (root / "www" / "simple").as_uri() + "/"


def why(index: str, machine: str, tmp_path: Path) -> str:
    env = clean_env(tmp_path)
    options = Options(index_url=index, platform_file=str(PLATFORMS / f"{machine}.snapshot.json"))
    with Session(options, environ=env) as s:
        (torch,) = s.plan(["torch"]).packages
    assert str(torch.version) == "2.13.0"
    return torch.why


def test_gpu_machine_left_with_an_older_cpu_build(index: str, tmp_path: Path) -> None:
    text = why(index, "nvidia-t4-driver535", tmp_path)
    assert text.startswith(
        "torch 2.14.1 has no build that fits this machine as well (its CUDA 13.0"
    )
    assert (
        "installing 2.13.0 [null], the newest at its fit (CPU build: leaves your Tesla T4 idle)"
        in text
    )
    assert text.endswith("update the NVIDIA driver to >= 580 for torch 2.14.1")
    assert "cPU" not in text


def test_machine_without_gpu_gets_the_older_cpu_release(index: str, tmp_path: Path) -> None:
    text = why(index, "cpu-x86_64-v3", tmp_path)
    assert text == (
        "torch 2.14.1 has no build that fits this machine as well (a CUDA build, and this "
        "machine has no NVIDIA GPU); installing 2.13.0 [null], the newest at its fit (CPU build)"
    )
