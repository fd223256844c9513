"""The PyTorch build facts and their reading as virtual variants."""

from __future__ import annotations

from packaging.version import Version

from wheelmagic.index import legacy_torch as lt
from wheelmagic.pytorch import facts as tb
from wheelmagic.pytorch.backend import Backend
from wheelmagic.variants.ordering import check_compatible


def b(text: str) -> Backend:
    backend = Backend.parse(text)
    assert backend is not None
    return backend


def test_cuda_archs() -> None:
    assert tb.cuda_archs("2.8.0", b("cu128")) == ("7.0", "7.5", "8.0", "8.6", "9.0", "10.0", "12.0")
    assert tb.cuda_archs("2.8.0+cu129", b("cuda12.9"))[-1] == "12.0+PTX"  # type: ignore[index]
    assert tb.cuda_archs("2.11.0", b("cu128"))[0] == "7.5"  # type: ignore[index]  # sm_70 dropped
    assert tb.cuda_archs("2.13.0", b("cu130"), "aarch64") == (
        "8.0",
        "9.0",
        "10.0",
        "11.0",
        "12.0+PTX",
    )
    assert tb.cuda_archs("2.8.0", b("cu130")) is None
    assert tb.cuda_archs("not a version", b("cu128")) is None
    assert "torch" in tb.PYTORCH_PACKAGES and "numpy" not in tb.PYTORCH_PACKAGES


def test_sm_archs_of_arch_list_and_properties() -> None:
    assert tb.sm_archs_of_arch_list(("7.5", "12.0+PTX")) == ("75_real", "120_real", "120_virtual")
    props = tb.backend_properties(b("cu128"), "torch", "2.8.0")
    assert props is not None
    assert props["nvidia"]["cuda_version_lower_bound"] == ("12.8",)
    assert "120_real" in props["nvidia"]["sm_arch"] and "70_real" in props["nvidia"]["sm_arch"]
    # torchvision 0.23 maps to torch 2.8's arch list
    assert tb.backend_properties(b("cu128"), "torchvision", "0.23.0") == props
    assert tb.backend_properties(b("cpu")) == {}
    # PyTorch's ROCm wheels bundle ROCm's user-space libraries: the host's ROCm does not gate them
    assert "rocm_version" not in tb.backend_properties(b("rocm6.4"))["amd"]
    assert "gfx942" in tb.backend_properties(b("rocm6.4"))["amd"]["gfx_arch"]  # type: ignore[index]
    assert "30.0.4" in tb.backend_properties(b("xpu"))["intel"]["device_ip"]  # type: ignore[index]
    assert tb.backend_properties(b("cu92")) == {"nvidia": {"cuda_version_lower_bound": ("9.2",)}}
    assert tb.cuda_archs("2.8.0", b("rocm6.4")) is None


def test_cuda_lines_newest_first() -> None:
    assert [x.index_name for x in tb.cuda_lines("2.8")] == ["cu129", "cu128", "cu126"]
    assert [x.index_name for x in tb.cuda_lines("2.14", "aarch64")] == ["cu132", "cu130", "cu126"]
    assert tb.cuda_lines("2.7", "aarch64") == []


def test_recognising_backends() -> None:
    assert lt.backend_of_index("https://download.pytorch.org/whl/cu128") == "cu128"
    assert lt.backend_of_index("https://download.pytorch.org/whl/rocm6.4/") == "rocm6.4"
    assert lt.backend_of_index("https://pypi.org/simple/") is None
    assert (
        lt.backend_of_filename("torch-2.8.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl") == "cu128"
    )
    assert lt.backend_of_filename("torch-2.8.0+cpu-cp311-cp311-linux_x86_64.whl") == "cpu"
    assert lt.backend_of_filename("torch-2.8.0-cp311-cp311-linux_x86_64.whl") is None
    # only the per-backend index spelling names an index
    assert lt.backend_of_index("https://example.org/whl/null/") is None
    assert lt.backend_of_filename("torch-2.8.0+cuda12.8-cp311-cp311-linux_x86_64.whl") is None


def test_synthesize_metadata() -> None:
    meta, labels = lt.synthesize(
        "torch",
        Version("2.8.0+cu128"),
        {"cu128": ["torch-2.8.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl"]},
    )
    assert labels == {"cu128": "cu128"}
    assert meta.namespace_priorities == ("nvidia", "intel", "amd")
    assert meta.variants["cu128"]["nvidia"]["cuda_version_lower_bound"] == ("12.8",)
    cpu, labels = lt.synthesize(
        "torch", Version("2.8.0"), {"cpu": ["torch-2.8.0-cp311-none-any.whl"]}
    )
    assert labels == {"cpu": "null"} and cpu.variants["null"] == {}


def test_backends_for_supported() -> None:
    supported = {
        "nvidia": {
            "cuda_version_lower_bound": ["12.9", "12.8", "12.6", "12.0"],
            "sm_arch": ["90_real"],
        }
    }
    chosen = lt.backends_for(supported)
    # the ones this driver runs first, then the other CUDA lines (to say why they lost)
    assert chosen[:3] == ["cu129", "cu128", "cu126"] and chosen[-1] == "cpu"
    assert set(chosen[3:-1]) == {"cu132", "cu130", "cu118"}
    assert lt.backends_for(None) == ["cpu"]
    # every ROCm index with kernels for the GPU, whatever ROCm the host has installed
    amd = {"amd": {"rocm_version": ["6.2"], "gfx_arch": ["gfx1100"]}}
    fits = [r for r in tb.ROCM_GFX if "gfx1100" in tb.ROCM_GFX[r]]
    assert lt.backends_for(amd)[: len(fits)] == fits
    mi250 = {"amd": {"gfx_arch": ["gfx90a"]}}
    assert "rocm6.4" in lt.backends_for(mi250)
    props = tb.backend_properties(b("cu128"), "torch", "2.8.0")
    assert props is not None and check_compatible(props, supported) is None
