"""Detection driven by facts recorded on real machines, injected at the probe boundary."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from wheelmagic.platform import detect
from wheelmagic.platform.detect import X86_LEVEL_FLAGS, decode_device_ip, gfx_name, x86_64_level
from wheelmagic.platform.recorded import RecordedProbes

DATA = Path(__file__).resolve().parent.parent / "data" / "platforms"
MACHINES = sorted(p.stem for p in DATA.glob("*.json") if not p.name.endswith(".snapshot.json"))


def facts(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def run(name_or_facts: str | dict[str, Any], env: dict[str, str] | None = None):
    data = facts(name_or_facts) if isinstance(name_or_facts, str) else name_or_facts
    probes = RecordedProbes(data)
    return detect(env=env or {}, probes=probes), probes


@pytest.mark.parametrize("name", MACHINES)
def test_every_machine_detects_without_error_and_matches_its_snapshot(name: str) -> None:
    platform, _ = run(name)
    snap = DATA / f"{name}.snapshot.json"
    if name == "nogpu-x86_64":
        snap = DATA / "cpu-x86_64-v3.snapshot.json"
    if not snap.exists():
        return
    expected = json.loads(snap.read_text())
    got = platform.to_json()
    if name == "nvidia-h100-driver580":  # the shared snapshot is hand-trimmed: compare its keys
        assert got["nvidia"]["driver_version"] == expected["nvidia"]["driver_version"]
        assert got["nvidia"]["cuda_driver_version"] == expected["nvidia"]["cuda_driver_version"]
        gpu = got["nvidia"]["gpus"][0]
        assert {k: gpu[k] for k in expected["nvidia"]["gpus"][0]} == expected["nvidia"]["gpus"][0]
        assert got["cpu"]["x86_64_level"] == expected["cpu"]["x86_64_level"]
        assert (got["os"], got["arch"]) == (expected["os"], expected["arch"])
    else:
        assert got == expected


def test_h100_from_nvml() -> None:
    p, probes = run("nvidia-h100-driver580")
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert p.nvidia.driver_version == "580.159.04"
    assert p.nvidia.cuda_driver_version == "13.0"
    (gpu,) = p.nvidia.gpus
    assert (gpu.name, gpu.compute_capability, gpu.memory_bytes, gpu.mig) == (
        "NVIDIA H100 80GB HBM3",
        "9.0",
        85520809984,
        False,
    )
    assert p.cpu is not None and p.cpu.x86_64_level == 4
    assert "NVML" in p.sources["nvidia.driver_version"]
    # NVML worked: no subprocess fallback was tried
    assert not any(c[0] in ("run", "libcuda_query") for c in probes.calls)


def test_cpu_only_machine_skips_nvidia_fallbacks() -> None:
    p, probes = run("nogpu-x86_64")
    assert p.nvidia is None and p.amd is None and p.intel is None and p.apple is None
    assert p.cpu is not None and p.cpu.x86_64_level == 3
    assert "no NVIDIA driver" in p.sources["nvidia"]
    assert not any(c[0] in ("nvml", "run", "libcuda_query") for c in probes.calls)


def test_t4_535() -> None:
    p, _ = run("nvidia-t4-driver535")
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert (p.nvidia.driver_version, p.nvidia.cuda_driver_version) == ("535.104.05", "12.2")
    assert p.nvidia.gpus[0].compute_capability == "7.5"


# -- CUDA_VISIBLE_DEVICES ---------------------------------------------------------------------

MIXED = "nvidia-mixed-gtx1080ti-rtx5090-driver580"


@pytest.mark.parametrize(
    ("cvd", "names"),
    [
        (None, ["NVIDIA GeForce GTX 1080 Ti", "NVIDIA GeForce RTX 5090"]),
        ("1", ["NVIDIA GeForce RTX 5090"]),
        ("1,0", ["NVIDIA GeForce RTX 5090", "NVIDIA GeForce GTX 1080 Ti"]),
        ("", []),
        ("-1", []),
        ("0,7,1", ["NVIDIA GeForce GTX 1080 Ti"]),  # CUDA stops at the first invalid entry
        ("GPU-5a1b2c3d-0000-4000-8000-000000005090", ["NVIDIA GeForce RTX 5090"]),
        ("GPU-5a1b2c3d-0000-4000-8000-0000000050", ["NVIDIA GeForce RTX 5090"]),  # unique prefix
        ("GPU-5a1b2c3d", []),  # ambiguous prefix
        (" 0 , 0 ", ["NVIDIA GeForce GTX 1080 Ti"]),
    ],
)
def test_cuda_visible_devices(cvd: str | None, names: list[str]) -> None:
    env = {} if cvd is None else {"CUDA_VISIBLE_DEVICES": cvd}
    p, _ = run(MIXED, env)
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert [g.name for g in p.nvidia.gpus] == names
    if cvd is not None:
        assert "CUDA_VISIBLE_DEVICES" in p.sources["nvidia.gpus"]


def test_cuda_visible_devices_mig_uuid_selects_parent() -> None:
    data = facts("nvidia-h100-driver580")
    dev = data["nvml"]["devices"][0]
    dev["nvmlDeviceGetMigMode"] = [1, 1]
    dev["mig_devices"] = ["MIG-11111111-2222-3333-4444-555555555555"]
    p, _ = run(data, {"CUDA_VISIBLE_DEVICES": "MIG-11111111-2222-3333-4444-555555555555"})
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert [(g.name, g.mig) for g in p.nvidia.gpus] == [("NVIDIA H100 80GB HBM3", True)]
    p, _ = run(data, {"CUDA_VISIBLE_DEVICES": "MIG-99"})
    assert p.nvidia is not None and p.nvidia.gpus == ()


def test_cuda_visible_devices_also_filters_libcuda_results() -> None:
    data = facts(MIXED)
    del data["nvml"]
    p, _ = run(data, {"CUDA_VISIBLE_DEVICES": "GPU-5a1b2c3d-0000-4000-8000-000000001080"})
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert [g.compute_capability for g in p.nvidia.gpus] == ["6.1"]


# -- fallbacks --------------------------------------------------------------------------------


def test_container_without_nvml_uses_libcuda_and_sysfs() -> None:
    p, probes = run("nvidia-container-no-nvml-a100")
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert p.nvidia.cuda_driver_version == "12.4"
    assert p.nvidia.driver_version == "550.54.15"
    assert p.nvidia.gpus[0].compute_capability == "8.0"
    assert "LibraryNotFound" in p.sources["nvidia.nvml"]
    assert "libcuda" in p.sources["nvidia.cuda_driver_version"]
    assert p.sources["nvidia.driver_version"].endswith("/sys/module/nvidia/version")
    assert not any(c[0] == "run" for c in probes.calls)  # libcuda gave every CC


def test_rm_mismatch_keeps_every_reason() -> None:
    p, _ = run("nvidia-nvml-rm-mismatch")
    assert p.nvidia is not None
    assert p.nvidia.driver_version == "550.120"
    assert p.nvidia.cuda_driver_version is None and p.nvidia.gpus is None
    assert "LibRmVersionMismatch" in p.sources["nvidia.nvml"]
    assert "803" in p.sources["nvidia.libcuda"]
    assert "exit status 18" in p.sources["nvidia.nvidia_smi"]


def test_proc_version_when_sysfs_missing() -> None:
    data = facts("nvidia-h100-driver580")
    del data["nvml"], data["libcuda"], data["files"]["/sys/module/nvidia/version"]
    del data["nvidia_smi_query_csv"]
    p, _ = run(data)
    assert p.nvidia is not None
    assert p.nvidia.driver_version == "580.159.04"
    assert p.sources["nvidia.driver_version"].endswith("/proc/driver/nvidia/version")
    assert "not readable" in p.sources["nvidia.driver_version"]
    # libcuda (recorded version only) gave CUDA 13.0 but no devices: nvidia-smi was asked
    assert p.nvidia.cuda_driver_version == "13.0"
    assert "failed" in p.sources["nvidia.nvidia_smi"]


def test_nvidia_smi_gives_gpus_when_libcuda_fails() -> None:
    data = facts("nvidia-h100-driver580")  # its CSV has a different column set: replayed
    del data["nvml"], data["libcuda"], data["libcuda_cuDriverGetVersion"]
    p, probes = run(data)
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert p.nvidia.cuda_driver_version is None
    (gpu,) = p.nvidia.gpus
    assert (gpu.name, gpu.compute_capability, gpu.memory_bytes) == (
        "NVIDIA H100 80GB HBM3",
        "9.0",
        81559 * 1024 * 1024,
    )
    argv = next(c[1] for c in probes.calls if c[0] == "run")
    assert argv[0] == "nvidia-smi" and "--format=csv,noheader,nounits" in argv


def test_nvidia_smi_multi_line_and_timeout() -> None:
    data = facts(MIXED)
    del data["nvml"], data["libcuda"], data["files"]
    p, _ = run(data)
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert p.nvidia.driver_version == "580.65.06"
    assert [g.compute_capability for g in p.nvidia.gpus] == ["6.1", "12.0"]
    data["nvidia_smi_timeout"] = True
    p, _ = run(data)
    assert p.nvidia is None or p.nvidia.gpus is None
    assert "timed out" in p.sources["nvidia.nvidia_smi"]


def test_libcuda_timeout_is_a_reason() -> None:
    data = facts("nvidia-container-no-nvml-a100")
    data["libcuda"] = {"timeout": True}
    p, _ = run(data)
    assert "timed out" in p.sources["nvidia.libcuda"]
    assert p.nvidia is not None and p.nvidia.driver_version == "550.54.15"


def test_cuda_v2_falls_back_to_v1() -> None:
    data = facts("nvidia-t4-driver535")
    data["nvml"]["nvmlSystemGetCudaDriverVersion_v2"] = "NVMLError_FunctionNotFound"
    p, _ = run(data)
    assert p.nvidia is not None and p.nvidia.cuda_driver_version == "12.2"
    assert "FunctionNotFound" in p.sources["nvidia.cuda_driver_version"]
    assert p.sources["nvidia.cuda_driver_version"].endswith("nvmlSystemGetCudaDriverVersion")


def test_per_device_nvml_failure_is_a_reason() -> None:
    data = facts("nvidia-t4-driver535")
    data["nvml"]["devices"][0]["nvmlDeviceGetCudaComputeCapability"] = "NVMLError_GpuIsLost"
    p, _ = run(data)
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert p.nvidia.gpus[0].compute_capability is None
    assert "GpuIsLost" in p.sources["nvidia.gpus[0].compute_capability"]


def test_wsl2_retries_nvml_from_the_wsl_directory() -> None:
    p, probes = run("nvidia-wsl2-rtx4090-driver572")
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert p.nvidia.driver_version == "572.60"
    assert p.nvidia.gpus[0].compute_capability == "8.9"
    assert ("nvml", "/usr/lib/wsl/lib/libnvidia-ml.so.1") in probes.calls
    assert "DriverNotLoaded" in p.sources["nvidia.nvml"]


def test_wsl2_without_nvml_uses_wsl_nvidia_smi() -> None:
    data = facts("nvidia-wsl2-rtx4090-driver572")
    del data["nvml_libraries"], data["libcuda"]
    p, _ = run(data)
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert p.nvidia.driver_version == "572.60"
    assert "/usr/lib/wsl/lib/nvidia-smi" in p.sources["nvidia.nvidia_smi"]


@pytest.mark.parametrize("broken", ["system", "read_file", "glob", "nvml", "archspec_host"])
def test_probe_exceptions_never_escape(broken: str) -> None:
    class Exploding(RecordedProbes):
        pass

    def boom(*_a: object, **_k: object) -> Any:
        raise OSError("boom")

    probes = Exploding(
        facts("apple-m2-macos14") if broken == "archspec_host" else facts("nvidia-h100-driver580")
    )
    setattr(probes, broken, boom)
    p = detect(env={}, probes=probes)
    assert any("boom" in v for v in p.sources.values())


# -- AMD, Intel, Apple, CPU -------------------------------------------------------------------


def test_amd_mi250_from_kfd() -> None:
    p, _ = run("amd-mi250-rocm64")
    assert p.amd is not None and p.amd.gfx == ("gfx90a",) and p.amd.rocm_version == "6.4"


def test_amd_rocm_path_env() -> None:
    data = facts("amd-mi250-rocm64")
    data["files"]["/opt/rocm-7.1.0/.info/version"] = "7.1.0-20\n"
    p, _ = run(data, {"ROCM_PATH": "/opt/rocm-7.1.0"})
    assert p.amd is not None and p.amd.rocm_version == "7.1"


@pytest.mark.parametrize(
    ("n", "name"),
    [
        (90010, "gfx90a"),
        (110000, "gfx1100"),
        (90402, "gfx942"),
        (100300, "gfx1030"),
        (120001, "gfx1201"),
    ],
)
def test_gfx_name(n: int, name: str) -> None:
    assert gfx_name(n) == name


def test_intel_device_ip() -> None:
    p, _ = run("intel-arc-b580-xe")
    assert p.intel is not None and p.intel.device_ip == ("20.1.0",)
    assert decode_device_ip((12 << 22) | (55 << 14) | 8) == "12.55.8"


def test_intel_without_level_zero_is_a_reason() -> None:
    data = facts("intel-arc-b580-xe")
    del data["level_zero"]
    p, _ = run(data)
    assert p.intel is None
    assert "libze_loader" in p.sources["intel.device_ip"]


def test_apple_m2() -> None:
    p, _ = run("apple-m2-macos14")
    assert (p.os, p.arch) == ("macos", "aarch64")
    assert p.apple is not None and p.apple.macos_version == "14.5"
    assert p.cpu is not None and p.cpu.aarch64_version == "8.5a"
    assert p.nvidia is None


def test_aarch64_linux_uses_cpuinfo_features_and_archspec_generic() -> None:
    p, _ = run("nvidia-gh200-aarch64-driver570")
    assert p.cpu is not None and p.cpu.aarch64_version == "9.0a"
    assert p.cpu.features is not None and "sve2" in p.cpu.features


def test_x86_levels_match_archspec() -> None:
    import archspec.cpu

    cumulative: set[str] = set()
    for level in (2, 3, 4):
        cumulative |= X86_LEVEL_FLAGS[level]
        want = set(archspec.cpu.TARGETS[f"x86_64_v{level}"].features) - {"mmx", "sse", "sse2"}
        assert cumulative == want
    assert x86_64_level(frozenset()) == 1


def test_real_machine_detect_is_safe() -> None:
    p = detect()  # this machine, whatever it has: must not raise
    assert p.os and p.arch and p.sources


# -- overrides --------------------------------------------------------------------------------


def test_overrides() -> None:
    env = {
        "UV_CUDA_DRIVER_VERSION": "550.144.03",
        "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION": "12.8",
        "NV_VARIANT_PROVIDER_FORCE_SM_ARCH": "9.0",
        "AMD_VARIANT_PROVIDER_FORCE_GFX_ARCH": "gfx942;gfx90a gfx942",
        "AMD_VARIANT_PROVIDER_FORCE_ROCM_VERSION": "7.1.0",
        "INTEL_VARIANT_PROVIDER_FORCE_DEVICE_IP": "20.1.0",
    }
    p, _ = run("nogpu-x86_64", env)
    assert p.nvidia is not None and p.nvidia.gpus is not None
    assert (p.nvidia.driver_version, p.nvidia.cuda_driver_version) == ("550.144.03", "12.8")
    assert [g.compute_capability for g in p.nvidia.gpus] == ["9.0"]
    assert p.amd is not None and p.amd.gfx == ("gfx90a", "gfx942") and p.amd.rocm_version == "7.1"
    assert p.intel is not None and p.intel.device_ip == ("20.1.0",)
    for name in env:
        assert p.sources[f"override.{name}"] == env[name]
    assert "override" in p.sources["nvidia.driver_version"]


def test_uv_amd_override_and_bad_values_are_reasons() -> None:
    p, _ = run(
        "nogpu-x86_64",
        {
            "UV_AMD_GPU_ARCHITECTURE": "gfx1100",
            "AMD_VARIANT_PROVIDER_FORCE_ROCM_VERSION": "7.1",
            "NV_VARIANT_PROVIDER_FORCE_SM_ARCH": "sm90",
            "UV_CUDA_DRIVER_VERSION": "",
        },
    )
    assert p.amd is not None and p.amd.gfx == ("gfx1100",) and p.amd.rocm_version is None
    assert "x.y.z" in p.sources["override.AMD_VARIANT_PROVIDER_FORCE_ROCM_VERSION"]
    assert "ignored" in p.sources["override.NV_VARIANT_PROVIDER_FORCE_SM_ARCH"]
    assert p.nvidia is None  # empty override = unset


def test_override_wins_over_detected_values() -> None:
    p, _ = run("nvidia-t4-driver535", {"NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION": "12.9"})
    assert p.nvidia is not None and p.nvidia.cuda_driver_version == "12.9"
    assert p.nvidia.driver_version == "535.104.05"


def test_recorded_facts_are_not_mutated() -> None:
    data = facts(MIXED)
    before = copy.deepcopy(data)
    run(data, {"CUDA_VISIBLE_DEVICES": "1"})
    assert data == before
