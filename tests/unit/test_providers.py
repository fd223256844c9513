"""Built-in providers: each fixture machine's snapshot -> expected supported properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wheelmagic.platform import Platform, load_platform
from wheelmagic.platform.detect import AARCH64_FEATURES, X86_FEATURES
from wheelmagic.providers import (
    AARCH64_VERSIONS,
    cuda_lower_bounds,
    cuda_upper_bounds,
    explain,
    sm_archs_runnable_on,
    supported_properties,
)
from wheelmagic.variants.ordering import check_compatible

DATA = Path(__file__).resolve().parent.parent / "data" / "platforms"
VARIANTS = Path(__file__).resolve().parent.parent / "data" / "variants" / "pytorch-published"


def snap(name: str) -> Platform:
    return load_platform(DATA / f"{name}.snapshot.json")


def nv(driver: str | None, cuda: str | None, *ccs: str, os_name: str = "linux") -> Platform:
    gpus = [{"compute_capability": c} for c in ccs]
    data: dict = {"os": os_name, "nvidia": {"gpus": gpus}}
    if driver:
        data["nvidia"]["driver_version"] = driver
    if cuda:
        data["nvidia"]["cuda_driver_version"] = cuda
    return Platform.from_json(data)


def minors(major: int, hi: int, lo: int) -> list[str]:
    return [f"{major}.{n}" for n in range(hi, lo - 1, -1)]


def test_h100_reference_order() -> None:
    sup = supported_properties(snap("nvidia-h100-driver580"))
    lb = sup["nvidia"]["cuda_version_lower_bound"]
    # exact 13.0, bare 13, then 13.x through MVC (driver 580 >= 580), then 12.20..12.0, 12, 11...
    assert lb[:2] == ["13.0", "13"]
    assert lb[2:22] == [f"13.{n}" for n in range(1, 21)]
    assert lb[22:44] == minors(12, 20, 0) + ["12"]
    assert lb[-1] == "11"
    assert sup["nvidia"]["sm_arch"][:2] == ["90_real", "90_virtual"]
    assert "100_real" not in sup["nvidia"]["sm_arch"]
    assert sup["x86_64"] == {"level": ["v4", "v3", "v2", "v1"]}
    ub = sup["nvidia"]["cuda_version_upper_bound"]
    assert ub[:22] == minors(15, 20, 0) + ["15"]
    assert ub[-20:] == minors(13, 20, 1) and "13" not in ub and "13.0" not in ub


def test_t4_535_mvc_order_prefers_exact() -> None:
    lb = supported_properties(snap("nvidia-t4-driver535"))["nvidia"]["cuda_version_lower_bound"]
    assert lb[:4] == ["12.2", "12.1", "12.0", "12"]
    assert lb[4:22] == [f"12.{n}" for n in range(3, 21)]  # MVC-only, nearest first
    assert lb[22:] == minors(11, 20, 0) + ["11"]
    assert "13.0" not in lb and "13" not in lb


def test_mvc_needs_the_floor() -> None:
    # CUDA 12.2 UMD but a KMD below 525.60.13 (impossible in practice): no MVC values
    assert cuda_lower_bounds(nv("525.60.12", "12.2").nvidia)[:4] == ["12.2", "12.1", "12.0", "12"]  # type: ignore[arg-type]
    assert "12.3" not in cuda_lower_bounds(nv("525.60.12", "12.2").nvidia)  # type: ignore[arg-type]
    assert "12.3" in cuda_lower_bounds(nv("528.33", "12.2").nvidia, "windows")  # type: ignore[arg-type]
    assert "12.3" not in cuda_lower_bounds(nv("528.32", "12.2").nvidia, "windows")  # type: ignore[arg-type]
    assert "12.3" in cuda_lower_bounds(nv("528.32", "12.2").nvidia, "linux")  # type: ignore[arg-type]
    # no KMD known: no MVC either
    assert "12.3" not in cuda_lower_bounds(nv(None, "12.2").nvidia)  # type: ignore[arg-type]


def test_kmd_only_infers_the_major() -> None:
    lb = cuda_lower_bounds(nv("550.144.03", None).nvidia)  # type: ignore[arg-type]
    assert lb[:3] == ["12.0", "12", "12.1"] and "12.20" in lb and "13.0" not in lb
    assert cuda_lower_bounds(nv("580.65.06", None).nvidia)[:2] == ["13.0", "13"]  # type: ignore[arg-type]
    assert cuda_lower_bounds(nv("440.33", None).nvidia) == []  # type: ignore[arg-type]
    assert cuda_upper_bounds(nv("550.144.03", None).nvidia) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cc", "head"),
    [
        (
            "8.9",
            [
                "89_real",
                "88_real",
                "86_real",
                "85_real",
                "84_real",
                "83_real",
                "82_real",
                "81_real",
                "80_real",
                "89_virtual",
            ],
        ),
        ("12.0", ["120_real", "120_virtual", "110_virtual", "103_virtual"]),
        ("10.3", ["103_real", "102_real", "100_real", "103_virtual"]),
        ("8.7", ["87_real", "87_virtual", "86_virtual"]),  # Orin: its own SASS only
        ("5.0", ["50_real", "50_virtual"]),
    ],
)
def test_sm_archs_runnable_on(cc: str, head: list[str]) -> None:
    major, minor = (int(x) for x in cc.split("."))
    values = sm_archs_runnable_on((major, minor))
    assert values[: len(head)] == head
    assert all(
        v.endswith("_virtual") for v in values[len([v for v in values if v.endswith("_real")]) :]
    )
    assert sm_archs_runnable_on((3, 7)) == []


def test_sm_arch_never_crosses_majors_for_sass() -> None:
    assert "90_real" not in sm_archs_runnable_on((10, 0))
    assert "90_virtual" in sm_archs_runnable_on((10, 0))  # PTX JIT does (beyond the reference)


def test_gtx1080ti_and_rtx5090() -> None:
    old = supported_properties(snap("nvidia-gtx1080ti-driver580"))["nvidia"]["sm_arch"]
    assert old[:4] == ["61_real", "60_real", "61_virtual", "60_virtual"]
    new = supported_properties(snap("nvidia-rtx5090-driver570"))["nvidia"]
    assert new["sm_arch"][:2] == ["120_real", "120_virtual"]
    assert new["cuda_version_lower_bound"][:2] == ["12.8", "12.7"]


def test_mixed_gpus_intersection_is_conservative() -> None:
    p = snap("nvidia-mixed-gtx1080ti-rtx5090-driver580")
    sm = supported_properties(p)["nvidia"]["sm_arch"]
    assert sm == ["61_virtual", "60_virtual", "53_virtual", "52_virtual", "50_virtual"]
    text = "\n".join(explain(p))
    assert "mixed GPUs" in text and "GTX 1080 Ti (6.1)" in text and "RTX 5090 (12.0)" in text
    assert "CUDA_VISIBLE_DEVICES" in text
    # an sm 5.0 + sm 3.7 box: nothing in common at all
    p2 = nv("470.82.01", "11.4", "5.0", "3.7")
    assert "sm_arch" not in supported_properties(p2)["nvidia"]
    assert "no common CUDA architecture" in "\n".join(explain(p2))


def test_no_visible_gpu_means_no_nvidia_namespace() -> None:
    p = Platform.from_json(
        {"nvidia": {"driver_version": "580.65.06", "cuda_driver_version": "13.0", "gpus": []}}
    )
    assert "nvidia" not in supported_properties(p)
    assert any("no visible GPU" in line for line in explain(p))


def test_unknown_gpus_omit_sm_arch() -> None:
    p = Platform.from_json({"nvidia": {"driver_version": "550.120"}})
    sup = supported_properties(p)
    assert "sm_arch" not in sup["nvidia"] and sup["nvidia"]["cuda_version_lower_bound"][0] == "12.0"


def test_cpu_namespaces() -> None:
    cpu = supported_properties(snap("cpu-x86_64-v3"))
    assert list(cpu) == ["x86_64"]
    assert cpu["x86_64"]["level"] == ["v3", "v2", "v1"]
    flags = [f for f in cpu["x86_64"] if f != "level"]
    assert flags == [f for f in X86_FEATURES if f in flags] and "avx2" in flags
    assert all(cpu["x86_64"][f] == ["on"] for f in flags)
    m2 = supported_properties(snap("apple-m2-macos14"))
    assert list(m2) == ["aarch64"]
    assert m2["aarch64"]["version"] == ["8.5a", "8.4a", "8.3a", "8.2a", "8.1a", "8a"]
    assert [f for f in m2["aarch64"] if f != "version"] == [
        f for f in AARCH64_FEATURES if f in m2["aarch64"]
    ]
    capped = Platform.from_json({"arch": "aarch64", "cpu": {"aarch64_version": "9.2a"}})
    assert supported_properties(capped)["aarch64"]["version"][0] == "9.0a"


def test_aarch64_chain_matches_archspec() -> None:
    import archspec.cpu

    chain = ["armv9.0a"] + [t.name for t in archspec.cpu.TARGETS["armv9.0a"].ancestors]
    assert [c.removeprefix("armv") if c != "aarch64" else "8a" for c in chain] == list(
        AARCH64_VERSIONS
    )


def test_amd_and_intel() -> None:
    amd = supported_properties(snap("amd-mi250-rocm64"))["amd"]
    assert amd == {"gfx_arch": ["gfx90a"], "rocm_version": ["6.4"]}
    intel = supported_properties(snap("intel-arc-b580-xe"))["intel"]
    assert intel == {"device_ip": ["20.1.0"]}
    ptl = Platform.from_json({"intel": {"device_ip": ["30.1.0"]}})
    assert supported_properties(ptl)["intel"]["device_ip"] == ["30.1.0", "30.0.4"]


def test_pure_and_no_namespace_without_facts() -> None:
    assert supported_properties(Platform()) == {}
    assert supported_properties(snap("apple-m2-macos14")).keys() == {"aarch64"}


# -- against PyTorch's published variant metadata ----------------------------------------------


def labels_ok(version: str, platform: Platform) -> set[str]:
    data = json.loads((VARIANTS / f"torch-{version}-variants.json").read_text())
    sup = supported_properties(platform)
    ok = set()
    for label, props in data["variants"].items():
        # `priority` is the file's own static provider, not ours
        ours = {ns: feats for ns, feats in props.items() if ns != "priority"}
        if check_compatible(ours, sup) is None:
            ok.add(label)
    return ok


def test_torch_28_on_t4_535_allows_cu128_via_mvc() -> None:
    ok = labels_ok("2.8.0", snap("nvidia-t4-driver535"))
    assert {"cu126", "cu128"} <= ok


def test_torch_210_on_gtx1080ti_only_cu126() -> None:
    ok = labels_ok("2.10.0", snap("nvidia-gtx1080ti-driver580"))
    assert "cuda12.6" in ok and "cuda12.8" not in ok and "cuda13.0" not in ok


def test_torch_210_on_mixed_has_no_cuda_build() -> None:
    ok = labels_ok("2.10.0", snap("nvidia-mixed-gtx1080ti-rtx5090-driver580"))
    assert not any(label.startswith("cuda") for label in ok)


def test_torch_210_on_mi250() -> None:
    ok = labels_ok(
        "2.10.0", Platform.from_json({"amd": {"gfx": ["gfx90a"], "rocm_version": "7.1"}})
    )
    assert "rocm7.1" in ok and "rocm7.0" not in ok


def test_nvidia_driver_facts() -> None:
    from wheelmagic.providers.nvidia import cuda_of_driver, mvc_floor

    assert mvc_floor(12, "linux") == "525.60.13" and mvc_floor(12, "windows") == "528.33"
    assert mvc_floor(13, None) == "580" and mvc_floor(10, "linux") is None
    assert cuda_of_driver("535.104.05") == "12.2" and cuda_of_driver("580") == "13.0"
    assert cuda_of_driver("440.33") is None and cuda_of_driver(None) is None
