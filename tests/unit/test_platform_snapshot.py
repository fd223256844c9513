"""The snapshot contract: round trip, partial snapshots, malformed ones, current_platform()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wheelmagic.errors import PlatformError
from wheelmagic.platform import Platform, current_platform, load_platform
from wheelmagic.platform.recorded import RecordedProbes

DATA = Path(__file__).resolve().parent.parent / "data" / "platforms"
SNAPSHOTS = sorted(DATA.glob("*.snapshot.json")) + sorted((DATA.parent / "doctor").glob("*.json"))


@pytest.mark.parametrize("path", SNAPSHOTS, ids=lambda p: p.name)
def test_round_trip_exact(path: Path) -> None:
    data = json.loads(path.read_text())
    platform = load_platform(path)
    assert platform.to_json() == data
    assert Platform.from_json(platform.to_json()) == platform


def test_detected_platform_round_trips() -> None:
    from wheelmagic.platform import detect

    for name in ("nvidia-mixed-gtx1080ti-rtx5090-driver580", "apple-m2-macos14"):
        p = detect(env={}, probes=RecordedProbes.load(DATA / f"{name}.json"))
        assert Platform.from_json(json.loads(json.dumps(p.to_json()))) == p


def test_partial_snapshot_loads() -> None:
    data = {
        "nvidia": {
            "driver_version": "535.104.05",
            "cuda_driver_version": "12.2",
            "gpus": [{"compute_capability": "7.5"}],
        }
    }
    p = Platform.from_json(data)
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert p.nvidia.gpus[0].cc == (7, 5) and p.os is None and p.cpu is None
    assert p.to_json() == data
    assert Platform.from_json({}).to_json() == {}


def test_lenient_forms() -> None:
    p = Platform.from_json(
        {
            "nvidia": {"cuda_driver_version": 12040, "gpus": [{"compute_capability": [8, 9]}]},
            "amd": None,
        }
    )
    assert p.nvidia is not None and p.nvidia.cuda_driver_version == "12.4"
    assert p.nvidia.gpus is not None and p.nvidia.gpus[0].compute_capability == "8.9"
    assert p.amd is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"nvidia": {"cuda_version": "12.2"}}, "nvidia.cuda_version"),
        ({"nvidia": {"cuda_driver_version": "twelve"}}, "nvidia.cuda_driver_version"),
        ({"nvidia": {"gpus": [{"compute_capability": "9"}]}}, "nvidia.gpus[0].compute_capability"),
        ({"nvidia": {"gpus": {"name": "x"}}}, "nvidia.gpus"),
        ({"nvidia": {"gpus": [{"memory_bytes": -1}]}}, "nvidia.gpus[0].memory_bytes"),
        ({"cpu": {"x86_64_level": 5}}, "cpu.x86_64_level"),
        ({"cpu": {"x86_64_level": "3"}}, "cpu.x86_64_level"),
        ({"amd": {"gfx": "gfx90a"}}, "amd.gfx"),
        ({"amd": {"gfx": ["90a"]}}, "amd.gfx"),
        ({"intel": {"device_ip": ["20.1"]}}, "intel.device_ip"),
        ({"apple": []}, "apple"),
        ({"sources": {"a": 1}}, "sources"),
        ({"gpu": {}}, "gpu"),
        ([], "<root>"),
    ],
)
def test_malformed_names_file_and_key(data: object, key: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlatformError) as info:
        load_platform(path)
    assert str(path) in str(info.value) and repr(key) in str(info.value)


def test_unreadable_and_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="cannot read"):
        load_platform(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(PlatformError, match="not valid JSON"):
        load_platform(tmp_path / "x.json")


def test_current_platform_precedence(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"os": "linux", "arch": "x86_64"}))
    b.write_text(json.dumps({"os": "windows", "arch": "x86_64"}))
    assert current_platform(str(a), env={"WHEELMAGIC_PLATFORM": str(b)}).os == "linux"
    assert current_platform(None, env={"WHEELMAGIC_PLATFORM": str(b)}).os == "windows"
    assert current_platform(None, env={}).sources  # detect(): probed, with sources
