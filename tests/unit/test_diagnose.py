"""`wheelmagic.pytorch.diagnose`: every verdict, the predicted PyTorch message and the fix command.

Machines are the recorded platform snapshots in tests/data/platforms; installed builds are
`InstalledBuild` values, plus a few read from real files to check the two modules together.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from wheelmagic.installed import InstalledBuild, read_installed
from wheelmagic.platform.model import Platform
from wheelmagic.pytorch.diagnose import (
    EXIT_CODES,
    Diagnosis,
    Fix,
    diagnose,
    driver_allows,
)

DATA = Path(__file__).resolve().parents[1] / "data"
CPU_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")


def snapshot(name: str) -> Platform:
    """A recorded snapshot from tests/data/platforms."""
    path = DATA / "platforms" / f"{name}.snapshot.json"
    return Platform.from_json(json.loads(path.read_text()), str(path))


def command(d: Diagnosis) -> str | None:
    return d.fix.command() if d.fix else None


def magic(d: Diagnosis) -> str | None:
    return d.fix.magic() if d.fix else None


def variant(d: Diagnosis) -> str | None:
    return d.fix.variant if d.fix else None


H100 = "nvidia-h100-driver580"
T4 = "nvidia-t4-driver535"
GTX1080TI = "nvidia-gtx1080ti-driver580"
RTX5090 = "nvidia-rtx5090-driver570"
MIXED = "nvidia-mixed-gtx1080ti-rtx5090-driver580"
WSL4090 = "nvidia-wsl2-rtx4090-driver572"
NOGPU = "cpu-x86_64-v3"
AMD = "amd-mi250-rocm64"
INTEL = "intel-arc-b580-xe"
APPLE = "apple-m2-macos14"


def torch_build(version: str, kind: str = "cuda", **kw: Any) -> InstalledBuild:
    v = Version(version)
    local = kw.pop("local", v.local)
    if kind == "cuda" and "cuda" not in kw and local and local.startswith("cu"):
        kw["cuda"] = f"{int(local[2:-1])}.{local[-1]}"
    if kind == "rocm" and "rocm" not in kw and local:
        kw["rocm"] = local.removeprefix("rocm")
    return InstalledBuild(
        name=kw.pop("name", "torch"),
        version=v,
        local=local,  # type: ignore[arg-type]
        kind=kind,
        **kw,
    )  # type: ignore[arg-type]


def run(machine: str, *builds: InstalledBuild, supported: Any = None) -> Diagnosis:
    installed = {b.name: b for b in builds}
    return diagnose(installed, snapshot(machine), supported or {})


# -- fits ---------------------------------------------------------------------------------


def test_fits_h100_pypi_cu130() -> None:
    torch = torch_build("2.11.0", local="cu130", cuda="13.0")
    d = run(H100, torch)
    assert d.status == "fits" and d.exit_code == 0
    assert d.fix is None and d.predicted == []
    assert "torch 2.11.0+cu130 (CUDA 13.0) fits this machine" in d.reasons[0]
    assert "NVIDIA H100 80GB HBM3 (compute capability 9.0)" in d.reasons[0]


def test_fits_t4_cu126_through_minor_version_compatibility() -> None:
    d = run(T4, torch_build("2.14.1+cu126"))
    assert d.status == "fits"
    assert any("minor-version compatibility" in n for n in d.notes)


def test_fits_with_companions_on_the_same_line() -> None:
    torch = torch_build("2.14.1+cu130")
    tv = torch_build("0.29.1+cu130", name="torchvision", requires_torch="==2.14.1")
    ta = torch_build("2.14.1+cu130", name="torchaudio", requires_torch="==2.14.1")
    assert run(H100, torch, tv, ta).status == "fits"


def test_unknown_arch_coverage_is_a_note() -> None:
    d = run(H100, torch_build("2.15.0+cu130"))
    assert d.status == "fits"
    assert any(n.startswith("unknown arch coverage") for n in d.notes)


def test_ptx_jit_on_a_newer_gpu_fits() -> None:
    platform = Platform.from_json(
        {
            "os": "linux",
            "arch": "x86_64",
            "nvidia": {
                "driver_version": "580.95.05",
                "cuda_driver_version": "13.0",
                "gpus": [{"name": "Future GPU", "compute_capability": "13.0"}],
            },
        }
    )
    d = diagnose({"torch": torch_build("2.14.1+cu130")}, platform, {})
    assert d.status == "fits"
    assert any("runs the PTX" in n for n in d.notes)


# -- suboptimal ---------------------------------------------------------------------------


def test_cpu_build_on_h100() -> None:
    d = run(H100, torch_build("2.14.1+cpu", kind="cpu"))
    assert d.status == "suboptimal" and d.exit_code == 1
    assert "torch 2.14.1+cpu (CPU only) is a CPU-only build" in d.reasons[0]
    assert "AssertionError: Torch not compiled with CUDA enabled" in d.predicted[0]
    assert command(d) == "wheelmagic install torch==2.14.1 --variant cu130"
    assert magic(d) == "%variant_install torch==2.14.1 --variant cu130"
    assert d.fix is not None and d.fix.requirements == ("torch==2.14.1",) and variant(d) == "cu130"


def test_cpu_build_on_t4_driver535_gets_cu126() -> None:
    d = run(T4, torch_build("2.14.1+cpu", kind="cpu"))
    assert d.status == "suboptimal"
    assert command(d) == "wheelmagic install torch==2.14.1 --variant cu126"


def test_cpu_build_with_companions_pins_the_same_release() -> None:
    torch = torch_build("2.14.1+cpu", kind="cpu")
    tv = torch_build("0.29.1+cpu", kind="cpu", name="torchvision", requires_torch="==2.14.1")
    ta = torch_build("2.14.1+cpu", kind="cpu", name="torchaudio")
    d = run(H100, torch, tv, ta)
    assert d.status == "suboptimal"
    assert command(d) == (
        "wheelmagic install torch==2.14.1 torchvision==0.29.1 torchaudio==2.14.1 --variant cu130"
    )


def test_older_cuda_line_than_the_best() -> None:
    d = run(H100, torch_build("2.14.1+cu126"))
    assert d.status == "suboptimal"
    assert "uses CUDA 12.6; torch 2.14 also publishes a CUDA 13.0 build" in d.reasons[0]
    assert command(d) == "wheelmagic install torch==2.14.1 --variant cu130"


def test_29_era_cu128_on_h100_could_be_cu130() -> None:
    d = run(H100, torch_build("2.9.0+cu128"))
    assert d.status == "suboptimal" and variant(d) == "cu130"


def test_cpu_build_on_amd() -> None:
    d = run(AMD, torch_build("2.13.0+cpu", kind="cpu"))
    assert d.status == "suboptimal"
    assert "AMD GPU (gfx90a)" in d.reasons[0]
    assert command(d) == "wheelmagic install torch==2.13.0 --variant rocm7.2"


def test_cpu_build_with_intel_xpu() -> None:
    d = run(INTEL, torch_build("2.13.0+cpu", kind="cpu"))
    assert d.status == "suboptimal" and variant(d) == "xpu"
    assert command(d) == "wheelmagic install torch==2.13.0 --variant xpu"


def test_xpu_build_fits_intel_arc() -> None:
    assert run(INTEL, torch_build("2.13.0+xpu", kind="xpu", xpu="20250101")).status == "fits"


def test_cpu_build_fits_apple_silicon() -> None:
    d = run(APPLE, torch_build("2.14.1", kind="cpu", local=None))
    assert d.status == "fits" and d.fix is None


def test_cpu_build_with_no_gpu_fits() -> None:
    assert run(NOGPU, torch_build("2.14.1+cpu", kind="cpu")).status == "fits"


def test_wsl2_rtx4090_cu126_could_be_cu128() -> None:
    d = run(WSL4090, torch_build("2.11.0+cu126"))
    assert d.status == "suboptimal"
    assert command(d) == "wheelmagic install torch==2.11.0 --variant cu128"


def test_mixed_pascal_and_blackwell_have_no_common_build() -> None:
    d = run(MIXED, torch_build("2.14.1+cu130"))
    assert d.status == "broken"
    assert "GPU0 NVIDIA GeForce GTX 1080 Ti" in d.reasons[0]
    assert any("no published PyTorch CUDA build covers" in r for r in d.reasons)
    assert variant(d) == "cpu"


@pytest.mark.skipif(not CPU_WHEEL.exists(), reason="real CPU torch wheel not on this machine")
def test_real_cpu_wheel_on_h100(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(CPU_WHEEL) as zf:
        for n in zf.namelist():
            if n == "torch/version.py" or (".dist-info/" in n and "/licenses/" not in n):
                zf.extract(n, tmp_path)
    d = diagnose(read_installed([tmp_path]), snapshot(H100), {})
    assert d.status == "suboptimal"
    assert command(d) == "wheelmagic install torch==2.13.0 --variant cu130"


# -- broken: driver -----------------------------------------------------------------------


def test_cu130_on_driver_535() -> None:
    d = run(T4, torch_build("2.14.1+cu130"))
    assert d.status == "broken" and d.exit_code == 2
    assert d.reasons[0] == (
        "torch 2.14.1+cu130 (CUDA 13.0) needs an NVIDIA driver that supports CUDA 13.0 "
        "(>= 580); this machine has driver 535.104.05 (CUDA 12.2)"
    )
    assert "The NVIDIA driver on your system is too old (found version 12020)" in d.predicted[0]
    assert command(d) == "wheelmagic install torch==2.14.1 --variant cu126"


def test_cu130_pypi_metadata_on_driver_535_keeps_release() -> None:
    """2.11 publishes cu128 too; a 535 driver runs it through minor-version compatibility."""
    d = run(T4, torch_build("2.11.0", local="cu130", cuda="13.0"))
    assert d.status == "broken"
    assert command(d) == "wheelmagic install torch==2.11.0 --variant cu128"


def test_rtx5090_driver570_with_cu130_moves_release() -> None:
    """2.14 has no build for sm_120 that a 12.8 driver runs: the newest release that has one."""
    d = run(RTX5090, torch_build("2.14.1+cu130"))
    assert d.status == "broken"
    assert "found version 12080" in d.predicted[0]
    assert command(d) == "wheelmagic install torch==2.11.* --variant cu128"


def test_cuda_build_without_a_driver() -> None:
    d = run(NOGPU, torch_build("2.14.1+cu130"))
    assert d.status == "broken"
    assert "needs an NVIDIA GPU and driver; this machine has none" in d.reasons[0]
    assert "Found no NVIDIA driver on your system" in d.predicted[0]
    assert command(d) == "wheelmagic install torch==2.14.1 --variant cpu"


def test_driver_rules() -> None:
    from wheelmagic.pytorch.diagnose import _machine

    t4 = _machine(snapshot(T4), {})
    assert driver_allows(Version("12.6"), t4) == (True, True)  # MVC: 535 >= 525.60.13
    assert driver_allows(Version("12.2"), t4) == (True, False)
    assert driver_allows(Version("13.0"), t4) == (False, False)
    assert driver_allows(Version("11.8"), t4) == (True, False)  # older major: backward compat
    old = _machine(Platform.from_json({"nvidia": {"driver_version": "520.61.05", "gpus": []}}), {})
    assert old.driver_cuda == Version("11.8") and old.driver_cuda_estimated
    assert driver_allows(Version("12.0"), old) == (False, False)
    win = _machine(
        Platform.from_json(
            {"os": "windows", "nvidia": {"driver_version": "527.41", "cuda_driver_version": "12.0"}}
        ),
        {},
    )
    assert driver_allows(Version("12.6"), win) == (False, False)  # Windows floor 528.33


# -- broken: kernels ----------------------------------------------------------------------


def test_gtx1080ti_with_cu130_213_old_message() -> None:
    d = run(GTX1080TI, torch_build("2.13.0+cu130"))
    assert d.status == "broken"
    assert (
        "has no kernels for GPU0 NVIDIA GeForce GTX 1080 Ti (compute capability 6.1)"
        in d.reasons[0]
    )
    assert (
        "Found GPU0 NVIDIA GeForce GTX 1080 Ti which is of cuda capability 6.1.\n"
        "    PyTorch no longer supports this GPU because it is too old.\n"
        "    The minimum cuda capability supported by this library is 7.5."
    ) in d.predicted[0]
    assert "no kernel image is available for execution on the device" in d.predicted[1]
    assert command(d) == "wheelmagic install torch==2.13.0 --variant cu126"


def test_gtx1080ti_with_cu130_214_new_message() -> None:
    d = run(GTX1080TI, torch_build("2.14.1+cu130"))
    assert d.status == "broken"
    msg = d.predicted[0]
    assert "Found GPU0 NVIDIA GeForce GTX 1080 Ti which is of compute capability (CC) 6.1." in msg
    assert "Your installed torch==2.14.1+cu130 does not include kernels for this GPU." in msg
    assert (
        "For CUDA 12.6 use pip install torch==2.14.1 --index-url "
        "https://download.pytorch.org/whl/cu126"
    ) in msg


def test_rtx5090_with_cu126_gpu_too_new() -> None:
    d = run(RTX5090, torch_build("2.8.0+cu126"))
    assert d.status == "broken"
    assert (
        "NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the "
        "current PyTorch installation.\nThe current PyTorch install supports CUDA "
        "capabilities sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90."
    ) in d.predicted[0]
    assert d.predicted[1].endswith(
        "RuntimeError: CUDA error: no kernel image is available for execution on the device"
    )
    assert command(d) == "wheelmagic install torch==2.8.0 --variant cu128"


def test_ptx_needs_a_driver_as_new_as_the_build() -> None:
    platform = Platform.from_json(
        {
            "os": "linux",
            "arch": "x86_64",
            "nvidia": {
                "driver_version": "580.95.05",
                "cuda_driver_version": "13.0",
                "gpus": [{"name": "Future GPU", "compute_capability": "13.0"}],
            },
        }
    )
    d = diagnose({"torch": torch_build("2.14.1+cu132")}, platform, {})
    assert d.status == "broken"
    assert "the provided PTX was compiled with an unsupported toolchain" in d.predicted[0]


def test_no_build_at_all_falls_back_to_cpu() -> None:
    platform = Platform.from_json(
        {
            "nvidia": {
                "driver_version": "580.95.05",
                "cuda_driver_version": "13.0",
                "gpus": [{"name": "Old", "compute_capability": "3.0"}],
            }
        }
    )
    d = diagnose({"torch": torch_build("2.14.1+cu130")}, platform, {})
    assert d.status == "broken"
    assert variant(d) == "cpu"
    assert any("a CPU build is the working choice" in r for r in d.reasons)


# -- ROCm / XPU ---------------------------------------------------------------------------


def test_rocm_fits_gfx90a() -> None:
    assert run(AMD, torch_build("2.7.0+rocm6.3", kind="rocm", hip="6.3.42131")).status == "fits"


def test_rocm_without_amd_gpu() -> None:
    d = run(NOGPU, torch_build("2.7.0+rocm6.3", kind="rocm"))
    assert d.status == "broken"
    assert "needs an AMD GPU with ROCm; this machine has none" in d.reasons[0]
    assert command(d) == "wheelmagic install torch==2.7.0 --variant cpu"


def test_rocm_on_nvidia_machine_moves_to_cuda() -> None:
    d = run(H100, torch_build("2.13.0+rocm7.2", kind="rocm"))
    assert d.status == "broken" and variant(d) == "cu130"


def test_rocm_gfx_not_covered() -> None:
    platform = Platform.from_json({"os": "linux", "arch": "x86_64", "amd": {"gfx": ["gfx1151"]}})
    d = diagnose({"torch": torch_build("2.10.0+rocm7.1", kind="rocm")}, platform, {})
    assert d.status == "broken"
    assert "has no code objects for gfx1151" in d.reasons[0]
    assert (
        "hipErrorNoBinaryForGpu: Unable to find code object for all current devices!"
        in d.predicted[0]
    )
    assert variant(d) == "rocm7.2"


def test_xpu_without_intel_gpu() -> None:
    d = run(NOGPU, torch_build("2.13.0+xpu", kind="xpu", xpu="20250101"))
    assert d.status == "broken" and variant(d) == "cpu"


# -- companions ---------------------------------------------------------------------------


def test_torchvision_for_another_torch() -> None:
    torch = torch_build("2.14.1+cu130")
    tv = torch_build("0.28.0+cu130", name="torchvision", requires_torch="==2.13.0")
    d = run(H100, torch, tv)
    assert d.status == "broken"
    assert d.reasons[0] == (
        "torchvision 0.28.0+cu130 (CUDA 13.0) is built for torch==2.13.0, but torch "
        "2.14.1+cu130 (CUDA 13.0) is installed"
    )
    assert "RuntimeError: operator torchvision::nms does not exist" in d.predicted[0]
    assert command(d) == "wheelmagic install torch==2.14.1 torchvision==0.29.1 --variant cu130"
    assert magic(d) == "%variant_install torch==2.14.1 torchvision==0.29.1 --variant cu130"


def test_torchvision_without_pin_uses_release_table() -> None:
    torch = torch_build("2.14.1+cu130")
    tv = torch_build("0.28.0+cu130", name="torchvision")
    d = run(H100, torch, tv)
    assert d.status == "broken" and "built for torch 2.13" in d.reasons[0]


def test_torchvision_on_another_cuda_line() -> None:
    torch = torch_build("2.14.1+cu130")
    tv = torch_build("0.29.1+cu126", name="torchvision", requires_torch="==2.14.1")
    d = run(H100, torch, tv)
    assert d.status == "broken"
    assert (
        "torchvision 0.29.1+cu126 (CUDA 12.6) and torch 2.14.1+cu130 (CUDA 13.0) are different builds"
        in d.reasons[0]
    )
    assert "operator torchvision::nms does not exist" in d.predicted[0]
    assert command(d) == "wheelmagic install torch==2.14.1 torchvision==0.29.1 --variant cu130"


def test_cpu_torchvision_with_cuda_torch() -> None:
    torch = torch_build("2.14.1+cu130")
    tv = torch_build("0.29.1+cpu", kind="cpu", name="torchvision")
    assert run(H100, torch, tv).status == "broken"


def test_torchaudio_mismatch() -> None:
    torch = torch_build("2.14.1+cu130")
    ta = torch_build("2.13.0+cu130", name="torchaudio", requires_torch="==2.13.0")
    d = run(H100, torch, ta)
    assert d.status == "broken"
    assert "torchaudio fails to load its compiled extension" in d.predicted[0]
    assert command(d) == "wheelmagic install torch==2.14.1 torchaudio==2.14.1 --variant cu130"


def test_torch_fix_wins_over_companion_fix() -> None:
    torch = torch_build("2.14.1+cu130")
    tv = torch_build("0.28.0+cu130", name="torchvision", requires_torch="==2.13.0")
    d = run(T4, torch, tv)
    assert d.status == "broken" and len(d.reasons) == 2
    assert command(d) == "wheelmagic install torch==2.14.1 torchvision==0.29.1 --variant cu126"


# -- not installed ------------------------------------------------------------------------


def test_not_installed() -> None:
    d = diagnose({}, snapshot(H100), {}, where="/venv/bin/python")
    assert d.status == "not-installed" and d.exit_code == 3
    assert d.reasons == ["torch is not installed in /venv/bin/python"]
    assert command(d) == "wheelmagic install torch"


def test_only_companion_installed() -> None:
    tv = torch_build("0.29.1+cu130", name="torchvision")
    d = run(H100, tv)
    assert d.status == "not-installed"
    assert d.fix is not None and d.fix.requirements == ("torch", "torchvision")


# -- variant-installed builds -------------------------------------------------------------


VARIANT_PROPS = {
    "nvidia": {
        "cuda_version_lower_bound": ("13.0",),
        "sm_arch": ("100_real", "120_real", "75_real", "80_real", "90_real"),
    }
}


def test_variant_build_compatible() -> None:
    torch = torch_build(
        "2.14.1", local=None, cuda="13.0", variant_label="cu130", variant_properties=VARIANT_PROPS
    )
    supported = {
        "nvidia": {
            "cuda_version_lower_bound": ["13.0", "12.9", "12.8"],
            "sm_arch": ["90_real", "80_real", "75_real"],
        }
    }
    d = run(H100, torch, supported=supported)
    assert d.status == "fits"


def test_variant_build_incompatible() -> None:
    torch = torch_build(
        "2.14.1", local=None, cuda="13.0", variant_label="cu130", variant_properties=VARIANT_PROPS
    )
    supported = {"nvidia": {"cuda_version_lower_bound": ["12.2", "12.0"], "sm_arch": ["75_real"]}}
    d = run(T4, torch, supported=supported)
    assert d.status == "broken"
    assert any(
        "was installed from variant 'cu130', which needs `nvidia :: cuda_version_lower_bound`" in r
        for r in d.reasons
    )
    assert command(d) == "wheelmagic install torch==2.14.1 --variant cu126"


# -- JSON, summaries ----------------------------------------------------------------------


def test_to_json_round_trips() -> None:
    d = run(T4, torch_build("2.14.1+cu130"))
    doc = json.loads(json.dumps(d.to_json()))
    assert doc["status"] == "broken"
    assert set(doc) >= {
        "status",
        "reasons",
        "predicted",
        "fix_command",
        "fix_magic",
        "fix_requirements",
        "notes",
    }
    assert EXIT_CODES == {"fits": 0, "suboptimal": 1, "broken": 2, "not-installed": 3}
    assert doc["fix_command"] == "wheelmagic install torch==2.14.1 --variant cu126"
    assert doc["fix_magic"] == "%variant_install torch==2.14.1 --variant cu126"
    assert doc["fix_requirements"] == ["torch==2.14.1"] and doc["fix_variant"] == "cu126"
    fits = run(H100, torch_build("2.14.1+cu130")).to_json()
    assert (fits["fix_command"], fits["fix_requirements"], fits["fix_variant"]) == (None, [], None)


def test_fix_renders_commands() -> None:
    fix = Fix(("torch==2.14.1", "torchvision==0.29.1"), "cu130")
    assert fix.command() == "wheelmagic install torch==2.14.1 torchvision==0.29.1 --variant cu130"
    assert fix.magic() == "%variant_install torch==2.14.1 torchvision==0.29.1 --variant cu130"
    again = Fix(("torch",), reinstall=True)
    assert again.command() == "wheelmagic install torch --reinstall"
    assert again.magic() == "%variant_install torch --reinstall"


def test_major_only_cuda_is_not_ranked() -> None:
    d = run(H100, torch_build("2.14.1", local=None, cuda="12"))
    assert d.status == "fits"
    assert any(n.startswith("unknown arch coverage") for n in d.notes)


def test_aarch64_gh200_cpu_build() -> None:
    platform = Platform.from_json(
        {
            "os": "linux",
            "arch": "aarch64",
            "nvidia": {
                "driver_version": "580.95.05",
                "cuda_driver_version": "13.0",
                "gpus": [{"name": "NVIDIA GH200 480GB", "compute_capability": "9.0"}],
            },
        }
    )
    d = diagnose({"torch": torch_build("2.14.1+cpu", kind="cpu")}, platform, {})
    assert d.status == "suboptimal" and variant(d) == "cu130"


def test_installed_wheel_cannot_claim_a_hardware_namespace() -> None:
    """An installed CUDA variant whose own variant.json answers `nvidia` statically (issue 11,
    item 4) is judged by our nvidia provider: broken on a machine with no GPU."""
    from wheelmagic.providers import supported_properties
    from wheelmagic.variants.metadata import parse_variants_json

    meta = parse_variants_json(
        {
            "$schema": "https://variants-schema.wheelnext.dev/v0.0.3.json",
            "default-priorities": {"namespace": ["nvidia"]},
            "providers": {"nvidia": {"install-time": False, "requires": []}},
            "static-properties": {"nvidia": {"cuda_version_lower_bound": ["12.8"]}},
            "variants": {"cu128": {"nvidia": {"cuda_version_lower_bound": ["12.8"]}}},
        }
    )
    # kind "cpu": only the variant judgement can find the mismatch
    build = torch_build(
        "2.8.0",
        kind="cpu",
        variant_label="cu128",
        variant_properties={"nvidia": {"cuda_version_lower_bound": ("12.8",)}},
        variant_metadata=meta,
    )
    platform = snapshot(NOGPU)
    d = diagnose({"torch": build}, platform, supported_properties(platform))
    assert d.status == "broken", d
