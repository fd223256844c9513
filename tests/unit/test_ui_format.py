"""The one byte format, the ETA, and the one platform description (line and rows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelmagic.platform import Platform, load_platform
from wheelmagic.platform.model import AmdInfo, AppleInfo, GpuInfo, IntelInfo, NvidiaInfo
from wheelmagic.ui.format import human_bytes, human_eta, platform_rows, platform_summary

DATA = Path(__file__).resolve().parent.parent / "data" / "platforms"


def snapshot(name: str) -> Platform:
    return load_platform(DATA / f"{name}.snapshot.json")


def test_bytes_are_binary_units() -> None:
    assert human_bytes(None) == "?"
    assert human_bytes(512) == "512 B"
    assert human_bytes(1023) == "1023 B"
    assert human_bytes(1024) == "1.0 KiB"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 2**20) == "3.0 MiB"
    assert human_bytes(41_000_000.0) == "39.1 MiB"  # a rate: floats too
    assert human_bytes(3 * 2**30) == "3.0 GiB"
    assert human_bytes(5 * 2**40) == "5120.0 GiB"  # GiB is the largest unit


def test_eta() -> None:
    assert human_eta(None) == "--:--"
    assert human_eta(-1) == "--:--"
    assert human_eta(float("nan")) == "--:--"
    assert human_eta(65) == "01:05"
    assert human_eta(3725) == "1:02:05"


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "nvidia-h100-driver580",
            "NVIDIA driver 580.159.04 (CUDA 13.0): NVIDIA H100 80GB HBM3 (CC 9.0) "
            "[linux x86_64 x86-64-v4]",
        ),
        ("cpu-x86_64-v3", "no GPU found [linux x86_64 x86-64-v3]"),
    ],
)
def test_summary_of_snapshots(name: str, line: str) -> None:
    assert platform_summary(snapshot(name)) == line


def test_summary_of_mixed_gpus_and_other_vendors() -> None:
    mixed = platform_summary(snapshot("nvidia-mixed-gtx1080ti-rtx5090-driver580"))
    assert "580.65.06" in mixed and "GTX 1080 Ti (CC 6.1), " in mixed
    assert platform_summary(Platform()) == "no GPU found"
    hidden = Platform(nvidia=NvidiaInfo(driver_version="580.65", gpus=()))
    assert platform_summary(hidden) == "NVIDIA driver 580.65: no visible GPU"
    others = Platform(
        amd=AmdInfo(gfx=("gfx90a",), rocm_version="6.4"),
        intel=IntelInfo(device_ip=("20.1.0",)),
        apple=AppleInfo(macos_version="14.5"),
    )
    assert platform_summary(others) == (
        "AMD gfx90a (ROCm 6.4); Intel GPU (device IP 20.1.0); Apple silicon macOS 14.5 (MPS)"
    )


def test_rows_of_a_snapshot() -> None:
    rows = dict(platform_rows(snapshot("nvidia-h100-driver580")))
    assert rows == {
        "machine": "linux x86_64, x86-64-v4",
        "NVIDIA driver": "580.159.04 (supports CUDA 13.0)",
        "GPU 0": "NVIDIA H100 80GB HBM3, compute capability 9.0, 79.6 GiB",
    }
    # where each fact came from is `wheelmagic detect`'s business, not the table's
    assert dict(platform_rows(snapshot("cpu-x86_64-v3"))) == {
        "machine": "linux x86_64, x86-64-v3",
        "GPU": "none found",
    }


def test_rows_name_every_accelerator() -> None:
    platform = Platform(
        os="linux",
        nvidia=NvidiaInfo(gpus=(GpuInfo(name="A100", index=3, mig=True),)),
        amd=AmdInfo(),
        intel=IntelInfo(device_ip=("12.55.8",)),
        description="a hand-written snapshot",
    )
    assert platform_rows(platform) == [
        ("machine", "linux"),
        ("NVIDIA driver", "?"),
        ("GPU 3", "A100, MIG"),
        ("AMD GPU", "?"),
        ("Intel GPU", "device IP 12.55.8"),
        ("snapshot", "a hand-written snapshot"),
    ]
    hidden = Platform(nvidia=NvidiaInfo(driver_version="580.65", gpus=()))
    assert ("GPU", "none visible") in platform_rows(hidden)


def test_cache_info_prints_the_same_units(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from wheelmagic.commands import cache as cache_cmd
    from wheelmagic.install.cache import WheelCache, sha256_of

    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path / "cache"))
    wheel = tmp_path / "a-1.0-py3-none-any.whl"
    wheel.write_bytes(b"x" * 1536)
    WheelCache().put(wheel, sha256_of(wheel), wheel.name)
    parser = argparse.ArgumentParser()
    cache_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["cache", "info"])
    assert args.func(args) == 0
    (downloads,) = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("  downloads")
    ]
    assert downloads.split()[1:4] == ["1.5", "KiB", "1"], downloads
