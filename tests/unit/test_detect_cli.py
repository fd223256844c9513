"""`wheelmagic detect`: the human table, --json, --platform round trip, WHEELMAGIC_PLATFORM."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wheelmagic.cli import main

DATA = Path(__file__).resolve().parent.parent / "data" / "platforms"


@pytest.mark.parametrize(
    "name",
    [
        "nvidia-h100-driver580",
        "nvidia-mixed-gtx1080ti-rtx5090-driver580",
        "cpu-x86_64-v3",
        "apple-m2-macos14",
    ],
)
def test_platform_json_round_trip(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / f"{name}.snapshot.json"
    assert main(["detect", "--json", "--platform", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(path.read_text())


def test_env_platform_and_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "WHEELMAGIC_PLATFORM", str(DATA / "nvidia-mixed-gtx1080ti-rtx5090-driver580.snapshot.json")
    )
    assert main(["detect"]) == 0
    out = capsys.readouterr().out
    assert "NVIDIA driver 580.65.06" in out and "mixed GPUs" in out
    assert "nvidia :: sm_arch :: 61_virtual" in out
    assert "sources:" in out and "nvidia.driver_version" in out


def test_bad_snapshot_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"nvidia": {"cuda_version": "12.2"}}')
    assert main(["detect", "--platform", str(bad)]) == 4
    assert "nvidia.cuda_version" in capsys.readouterr().err


def test_live_detect_json_subprocess() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "wheelmagic", "detect", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data = json.loads(proc.stdout)
    assert data["os"] and data["arch"] and data["sources"]
