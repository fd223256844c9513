"""`wheelmagic doctor`: a real throwaway venv with fake dists, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_installed import (  # type: ignore[import-not-found]
    CPU_WHEEL,
    REQUIRES_CU130,
    VERSION_PY_CU130,
    extract_cpu_wheel,
    make_dist,
)

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = ROOT / "tests" / "data" / "platforms"


def doctor(*args: str) -> tuple[int, str, str]:
    """`python -m wheelmagic doctor ...`: the real CLI, whatever else it registers."""
    proc = subprocess.run(
        [sys.executable, "-m", "wheelmagic", "doctor", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("doctor") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    return root


@pytest.fixture
def site(venv: Path) -> Any:
    """The venv's site-packages, emptied of our fake dists after each test."""
    sp = next((venv / "lib").glob("python*/site-packages"))
    yield sp
    for child in sp.iterdir():
        if child.name.startswith(("torch", "torchvision", "torchaudio")):
            subprocess.run(["rm", "-rf", str(child)], check=True)


def python_of(venv: Path) -> str:
    return str(venv / "bin" / "python")


@pytest.mark.skipif(not CPU_WHEEL.exists(), reason="real CPU torch wheel not on this machine")
def test_cpu_wheel_on_h100_is_suboptimal(venv: Path, site: Path) -> None:
    extract_cpu_wheel(site)
    code, out, err = doctor(
        "--python",
        python_of(venv),
        "--platform",
        str(SNAPSHOTS / "nvidia-h100-driver580.snapshot.json"),
        "--json",
    )
    assert code == 1, err
    doc = json.loads(out)
    assert doc["status"] == "suboptimal"
    assert doc["installed"]["torch"]["kind"] == "cpu"
    assert doc["installed"]["torch"]["version"] == "2.13.0+cpu"
    assert doc["fix_command"] == "wheelmagic install torch==2.13.0 --variant cu130"
    assert "Torch not compiled with CUDA enabled" in doc["predicted"][0]
    assert doc["python"]["executable"] == python_of(venv)
    assert doc["python"]["is_venv"] is True
    assert isinstance(doc["platform"], dict)


def test_cu130_fits_h100(venv: Path, site: Path) -> None:
    make_dist(site, "torch", "2.11.0", version_py=VERSION_PY_CU130, requires=REQUIRES_CU130)
    code, out, err = doctor(
        "--python",
        python_of(venv),
        "--platform",
        str(SNAPSHOTS / "nvidia-h100-driver580.snapshot.json"),
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "fits" and doc["fix_command"] is None
    assert doc["installed"]["torch"]["full_version"] == "2.11.0+cu130"


def test_cu130_on_t4_driver535_is_broken(venv: Path, site: Path) -> None:
    make_dist(
        site,
        "torch",
        "2.14.1",
        version_py=VERSION_PY_CU130.replace("2.11.0", "2.14.1"),
        requires=REQUIRES_CU130,
    )
    make_dist(site, "torchvision", "0.29.1+cu130", requires=["torch==2.14.1"])
    code, out, err = doctor(
        "--python",
        python_of(venv),
        "--platform",
        str(SNAPSHOTS / "nvidia-t4-driver535.snapshot.json"),
        "--json",
    )
    assert code == 2, err
    doc = json.loads(out)
    assert doc["status"] == "broken"
    assert "driver 535.104.05 (CUDA 12.2)" in doc["reasons"][0]
    assert "found version 12020" in doc["predicted"][0]
    assert doc["fix_command"] == (
        "wheelmagic install torch==2.14.1 torchvision==0.29.1 --variant cu126"
    )


def test_not_installed(venv: Path, site: Path) -> None:
    code, out, err = doctor(
        "--python",
        python_of(venv),
        "--platform",
        str(SNAPSHOTS / "cpu-x86_64-v3.snapshot.json"),
        "--json",
    )
    assert code == 3, err
    doc = json.loads(out)
    assert doc["status"] == "not-installed"
    assert doc["reasons"] == [f"torch is not installed in {python_of(venv)}"]
    assert doc["installed"] == {}


def test_human_table(venv: Path, site: Path) -> None:
    make_dist(site, "torch", "2.14.1+cu130")
    make_dist(site, "torchvision", "0.28.0+cu130", requires=["torch==2.13.0"])
    code, out, err = doctor(
        "--python",
        python_of(venv),
        "--platform",
        str(SNAPSHOTS / "nvidia-h100-driver580.snapshot.json"),
    )
    assert code == 2, err
    assert "  verdict    broken" in out
    assert "torch 2.14.1+cu130 (CUDA 13.0)" in out
    assert "torchaudio: not installed" in out
    assert "operator torchvision::nms does not exist" in out
    assert "wheelmagic install torch==2.14.1 torchvision==0.29.1 --variant cu130" in out
    assert "in a notebook: %variant_install torch==2.14.1 torchvision==0.29.1" in out
    assert "NVIDIA H100 80GB HBM3" in out


def test_bad_python_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-python"
    code, out, err = doctor(
        "--python", str(missing), "--platform", str(SNAPSHOTS / "cpu-x86_64-v3.snapshot.json")
    )
    assert code == 4
    assert str(missing) in err


def test_the_cli_parser_has_doctor_with_its_options() -> None:
    from wheelmagic.cli import build_parser
    from wheelmagic.commands import doctor as cmd

    args = build_parser().parse_args(
        ["doctor", "--json", "--python", "/x", "--platform", "f", "torch"]
    )
    assert (args.json, args.python, args.platform, args.packages) == (True, "/x", "f", ["torch"])
    assert args.func is cmd.run


def test_doctor_text_of_a_missing_torch() -> None:
    from wheelmagic.interpreter import inspect_interpreter
    from wheelmagic.platform import load_platform
    from wheelmagic.providers import supported_properties
    from wheelmagic.pytorch.diagnose import diagnose
    from wheelmagic.ui.reports import doctor_text

    platform = load_platform(SNAPSHOTS / "cpu-x86_64-v3.snapshot.json")
    d = diagnose({}, platform, supported_properties(platform), where="/v/bin/python")
    text = doctor_text(d, {}, platform, inspect_interpreter(), ["torch"])
    assert "  verdict    not-installed" in text
    assert "  platform   no GPU found [linux x86_64 x86-64-v3]" in text
    assert "  fix        wheelmagic install torch" in text
