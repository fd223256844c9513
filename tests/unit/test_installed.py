"""`wheelmagic.installed`: builds read from real files in a site-packages tree, never imported."""

from __future__ import annotations

import json
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.version import Version

from wheelmagic.installed import (
    InstalledBuild,
    parse_version_py,
    plan_installed,
    read_distribution,
    read_installed,
)
from wheelmagic.pytorch.backend import Backend
from wheelmagic.pytorch.companions import torch_pin_accepts

ROOT = Path(__file__).resolve().parents[2]
CPU_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
H100_FIXTURE = ROOT / "tests" / "data" / "platforms" / "nvidia-h100-driver580.json"

#: torch/version.py of PyPI torch 2.11.0 (cu130) as recorded on the H100 (fixture text).
VERSION_PY_CU130 = (
    "__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'rocm', 'xpu']\n"
    "__version__ = '2.11.0+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\n"
    "git_version = '70d99e998b4955e0049d13a98d77ae1b14db1f45'\nhip: Optional[str] = None\n"
    "rocm: Optional[str] = None\nxpu: Optional[str] = None"
)
REQUIRES_CU130 = [
    "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]"
    '==13.0.2; platform_system == "Linux"',
    'cuda-bindings<14,>=13.0.3; platform_system == "Linux"',
    'nvidia-cudnn-cu13==9.19.0.56; platform_system == "Linux"',
    'nvidia-cusparselt-cu13==0.8.0; platform_system == "Linux"',
    'nvidia-nccl-cu13==2.28.9; platform_system == "Linux"',
    'nvidia-nvshmem-cu13==3.4.5; platform_system == "Linux"',
    'triton==3.6.0; platform_system == "Linux"',
]
VERSION_PY_CPU = (
    "from typing import Optional\n\n"
    "__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'rocm', 'xpu']\n"
    "__version__ = '{version}'\ndebug = False\ncuda: Optional[str] = None\n"
    "git_version = 'cf30153c4c131c8164ee7798e5022d810682e2cb'\nhip: Optional[str] = None\n"
    "rocm: Optional[str] = None\nxpu: Optional[str] = None\n"
)
#: 2.7-era ROCm build: hip set, no `rocm` field yet.
VERSION_PY_ROCM = (
    "from typing import Optional\n\n"
    "__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'xpu']\n"
    "__version__ = '2.7.0+rocm6.3'\ndebug = False\ncuda: Optional[str] = None\n"
    "git_version = '134179474539648ba7dee1317959529fbd0e7f89'\nhip: Optional[str] = '6.3.42131'\n"
    "xpu: Optional[str] = None\n"
)
#: 2.9-era CUDA build: `__all__` ends with 'hip', 'xpu' (no rocm).
VERSION_PY_29 = (
    "from typing import Optional\n\n"
    "__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'xpu']\n"
    "__version__ = '2.9.0+cu128'\ndebug = False\ncuda: Optional[str] = '12.8'\n"
    "git_version = '0fabc3ba44823f257e70ce397d989c8de5e362c1'\nhip: Optional[str] = None\n"
    "xpu: Optional[str] = None\n"
)
#: torchvision computes `cuda` at import time; only `__version__` is a literal.
VERSION_PY_TORCHVISION = (
    "__version__ = '{version}'\ngit_version = '3ac97aa9'\n"
    "from torchvision.extension import _check_cuda_version\n"
    "if _check_cuda_version() > 0:\n    cuda = _check_cuda_version()\n"
)


def make_dist(
    site: Path,
    name: str,
    version: str,
    *,
    version_py: str | None = None,
    module: str | None = None,
    requires: Iterable[str] = (),
    files: Iterable[str] = (),
    variant: dict[str, object] | None = None,
) -> Path:
    """A dist-info (METADATA, RECORD, optional variant.json) and <module>/version.py."""
    site.mkdir(parents=True, exist_ok=True)
    dist_info = site / f"{name}-{version}.dist-info"
    dist_info.mkdir()
    meta = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    (dist_info / "METADATA").write_text("\n".join(meta) + "\n\n")
    record = [f"{f},," for f in files] + [
        f"{dist_info.name}/METADATA,,",
        f"{dist_info.name}/RECORD,,",
    ]
    module = module or name
    if version_py is not None:
        (site / module).mkdir(exist_ok=True)
        (site / module / "version.py").write_text(version_py)
        record.append(f"{module}/version.py,,")
        # An import of the package would blow up: proves nothing is ever imported.
        (site / module / "__init__.py").write_text("raise RuntimeError('imported!')\n")
    if variant is not None:
        (dist_info / "variant.json").write_text(json.dumps(variant))
        record.append(f"{dist_info.name}/variant.json,,")
    (dist_info / "RECORD").write_text("\n".join(record) + "\n")
    return dist_info


def variant_doc(label: str, properties: dict[str, dict[str, list[str]]]) -> dict[str, object]:
    return {
        "$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.0.json",
        "default-priorities": {"namespace": sorted(properties) or ["nvidia"]},
        "variants": {label: properties},
    }


def extract_cpu_wheel(site: Path) -> None:
    """The real torch 2.13.0+cpu wheel's dist-info and torch/version.py (licences left out)."""
    with zipfile.ZipFile(CPU_WHEEL) as zf:
        for n in zf.namelist():
            if n == "torch/version.py" or (".dist-info/" in n and "/licenses/" not in n):
                zf.extract(n, site)


def test_pypi_cu130_from_version_py_and_requires(tmp_path: Path) -> None:
    make_dist(
        tmp_path,
        "torch",
        "2.11.0",
        version_py=VERSION_PY_CU130,
        requires=REQUIRES_CU130,
        files=["torch/lib/libtorch_cuda.so"],
    )
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "cuda"
    assert build.cuda == "13.0"
    assert build.version == Version("2.11.0")  # METADATA has no local label on PyPI
    assert build.local == "cu130"
    assert str(build.full_version) == "2.11.0+cu130"
    assert build.line == "cuda13.0" and str(build.backend) == "cu130"
    assert build.cuda_requirements[0].startswith("cuda-toolkit[")
    assert any(r.startswith("nvidia-cudnn-cu13") for r in build.cuda_requirements)
    assert build.native_libraries == ()  # version.py already said: RECORD (12k lines) is not read
    assert build.evidence[0] == "torch/version.py: cuda = '13.0'"


@pytest.mark.skipif(not H100_FIXTURE.exists(), reason="shared H100 fixture not present")
def test_recorded_h100_version_py_text(tmp_path: Path) -> None:
    recorded = json.loads(H100_FIXTURE.read_text())["installed_torch"]
    make_dist(
        tmp_path,
        "torch",
        "2.11.0",
        version_py=recorded["torch/version.py"],
        requires=recorded["Requires-Dist (Linux)"],
    )
    build = read_installed([tmp_path])["torch"]
    assert (build.kind, build.cuda, str(build.full_version)) == ("cuda", "13.0", "2.11.0+cu130")


@pytest.mark.skipif(not CPU_WHEEL.exists(), reason="real CPU torch wheel not on this machine")
def test_real_cpu_wheel(tmp_path: Path) -> None:
    extract_cpu_wheel(tmp_path)
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "cpu"
    assert build.version == Version("2.13.0+cpu")
    assert build.local == "cpu" and build.line == "cpu"
    assert build.cuda is None and build.cuda_requirements == ()
    assert build.native_libraries == ()  # RECORD lists libtorch_cpu.so only
    assert build.location.endswith("torch-2.13.0+cpu.dist-info")
    assert build.to_json()["kind"] == "cpu"


def test_rocm_build_without_rocm_field(tmp_path: Path) -> None:
    make_dist(
        tmp_path,
        "torch",
        "2.7.0+rocm6.3",
        version_py=VERSION_PY_ROCM,
        files=["torch/lib/libtorch_hip.so"],
    )
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "rocm"
    assert build.hip == "6.3.42131" and build.rocm == "6.3"
    assert build.line == "rocm6.3" and build.backend == Backend("rocm", (6, 3))
    assert "ROCm 6.3" in build.describe()


def test_rocm_version_from_hip_when_no_label(tmp_path: Path) -> None:
    make_dist(tmp_path, "torch", "2.7.0", version_py=VERSION_PY_ROCM.replace("+rocm6.3", ""))
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "rocm" and build.rocm == "6.3" and build.local is None


def test_29_era_file_without_rocm(tmp_path: Path) -> None:
    make_dist(
        tmp_path,
        "torch",
        "2.9.0+cu128",
        version_py=VERSION_PY_29,
        requires=["nvidia-cuda-runtime-cu12==12.8.90", "nvidia-cublas-cu12==12.8.4.1"],
    )
    build = read_installed([tmp_path])["torch"]
    assert (build.kind, build.cuda, build.rocm, build.hip) == ("cuda", "12.8", None, None)


def test_cu12_requires_dist_alone(tmp_path: Path) -> None:
    """No version.py, no label: the runtime wheel's pin says CUDA 12.8."""
    make_dist(
        tmp_path,
        "torch",
        "2.8.0",
        requires=[
            "nvidia-cuda-runtime-cu12==12.8.90; platform_system == 'Linux'",
            "nvidia-cudnn-cu12==9.10.2.21",
        ],
    )
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "cuda" and build.cuda == "12.8"
    assert build.evidence[0].startswith("Requires-Dist: nvidia-cuda-runtime-cu12")


def test_cu12_major_only(tmp_path: Path) -> None:
    make_dist(tmp_path, "torch", "2.8.0", requires=["nvidia-cublas-cu12==12.8.4.1"])
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "cuda" and build.cuda == "12"
    assert build.line is None and build.backend is None


def test_cu13_toolkit_pin_alone(tmp_path: Path) -> None:
    make_dist(tmp_path, "torch", "2.14.1", requires=REQUIRES_CU130)
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "cuda" and build.cuda == "13.0"


@pytest.mark.parametrize(
    ("lib", "kind"),
    [
        ("torch/lib/libtorch_cuda.so", "cuda"),
        ("torch/lib/libtorch_hip.so", "rocm"),
        ("torch/lib/libtorch_xpu.so", "xpu"),
    ],
)
def test_record_fallback(tmp_path: Path, lib: str, kind: str) -> None:
    make_dist(tmp_path, "torch", "2.8.0", files=[lib])
    build = read_installed([tmp_path])["torch"]
    assert build.kind == kind
    assert build.evidence == (f"RECORD lists {lib.rsplit('/', 1)[1]}",)


def test_nothing_known_is_unknown(tmp_path: Path) -> None:
    make_dist(tmp_path, "torch", "2.8.0")
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "unknown" and build.line is None
    assert "build unknown" in build.describe()


@pytest.mark.parametrize(
    ("local", "kind", "line"),
    [
        ("cu128", "cuda", "cuda12.8"),
        ("cpu", "cpu", "cpu"),
        ("rocm6.4", "rocm", "rocm6.4"),
        ("xpu", "xpu", "xpu"),
        ("cu92", "cuda", "cuda9.2"),
        ("rocm6.2.4", "rocm", "rocm6.2.4"),
        ("cuda12.8", "unknown", None),  # a variant label, not a torch local version
    ],
)
def test_metadata_local_label(tmp_path: Path, local: str, kind: str, line: str | None) -> None:
    make_dist(tmp_path, "torch", f"2.8.0+{local}")
    build = read_installed([tmp_path])["torch"]
    assert (build.kind, build.line) == (kind, line)


def test_variant_json(tmp_path: Path) -> None:
    props = {"nvidia": {"cuda_version_lower_bound": ["12.9"], "sm_arch": ["90_real", "120_real"]}}
    make_dist(tmp_path, "torch", "2.9.0", variant=variant_doc("cu129", props))
    build = read_installed([tmp_path])["torch"]
    assert build.variant_label == "cu129"
    assert build.variant_properties == {
        "nvidia": {"cuda_version_lower_bound": ("12.9",), "sm_arch": ("120_real", "90_real")}
    }
    assert build.kind == "cuda" and build.cuda == "12.9"
    assert build.to_json()["variant_properties"]["nvidia"]["sm_arch"] == ["120_real", "90_real"]


def test_null_variant_is_cpu(tmp_path: Path) -> None:
    make_dist(tmp_path, "torch", "2.9.0", variant=variant_doc("null", {}))
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "cpu" and build.variant_label == "null"


def test_bad_variant_json_is_evidence_not_crash(tmp_path: Path) -> None:
    make_dist(tmp_path, "torch", "2.9.0+cu128", variant={"variants": "nope"})
    build = read_installed([tmp_path])["torch"]
    assert build.kind == "cuda" and build.variant_label is None
    assert any("variant.json cannot be read" in e for e in build.evidence)


def test_torchvision_cuda_from_version_label(tmp_path: Path) -> None:
    make_dist(
        tmp_path,
        "torchvision",
        "0.29.1",
        version_py=VERSION_PY_TORCHVISION.format(version="0.29.1+cu130"),
        requires=["numpy", "torch==2.14.1", "pillow!=8.3.*,>=5.3.0"],
    )
    build = read_installed([tmp_path])["torchvision"]
    assert build.kind == "cuda" and build.cuda == "13.0" and build.local == "cu130"
    assert build.requires_torch == "==2.14.1"


def test_torchaudio_version_py(tmp_path: Path) -> None:
    make_dist(
        tmp_path,
        "torchaudio",
        "2.14.1",
        version_py="__version__ = '2.14.1+cu126'\ngit_version = 'abc'\n",
        requires=["torch==2.14.1"],
    )
    build = read_installed([tmp_path])["torchaudio"]
    assert (build.kind, build.cuda) == ("cuda", "12.6")


def test_other_companion_from_label(tmp_path: Path) -> None:
    make_dist(tmp_path, "xformers", "0.0.30+cu128")
    build = read_installed([tmp_path], ["xformers"])["xformers"]
    assert (build.kind, build.cuda) == ("cuda", "12.8")


def test_first_on_path_wins_and_names_normalise(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    make_dist(first, "torch", "2.14.1+cu130")
    make_dist(second, "torch", "2.13.0+cpu")
    make_dist(second, "TorchVision", "0.29.1+cu130")
    found = read_installed([first, second], ["torch", "torchvision", "torchaudio"])
    assert list(found) == ["torch", "torchvision"]
    assert str(found["torch"].version) == "2.14.1+cu130"
    assert "torchaudio" not in found


def test_reads_an_interpreter_search_path(tmp_path: Path) -> None:
    class FakeInterp:
        search_path = (str(tmp_path / "missing"), str(tmp_path))

    make_dist(tmp_path, "torch", "2.13.0+cpu")
    assert read_installed(FakeInterp())["torch"].kind == "cpu"  # type: ignore[arg-type]


def test_nothing_is_imported(tmp_path: Path) -> None:
    before = set(sys.modules)
    make_dist(tmp_path, "torch", "2.11.0", version_py=VERSION_PY_CU130)
    read_installed([tmp_path])
    assert not {m for m in set(sys.modules) - before if m.split(".")[0] in ("torch", "torchvision")}


def test_parse_version_py() -> None:
    fields = parse_version_py(VERSION_PY_CU130)
    assert fields["cuda"] == "13.0" and fields["hip"] is None and fields["rocm"] is None
    assert fields["__version__"] == "2.11.0+cu130"
    assert "cuda" not in parse_version_py(VERSION_PY_TORCHVISION.format(version="0.1"))
    assert parse_version_py("this is (not python") == {}


def _build(name: str, version: str, **kw: object) -> InstalledBuild:
    return InstalledBuild(
        name=name,
        version=Version(version),
        local=Version(version).local,  # type: ignore[arg-type]
        kind="cuda",
        **kw,
    )  # type: ignore[arg-type]


def test_torch_pin_accepts() -> None:
    torch = _build("torch", "2.14.1+cu130", cuda="13.0")
    assert torch_pin_accepts(_build("torchvision", "0.29.1", requires_torch="==2.14.1"), torch)
    assert (
        torch_pin_accepts(_build("torchvision", "0.28.0", requires_torch="==2.13.0"), torch)
        is False
    )
    assert (
        torch_pin_accepts(_build("torchvision", "0.29.1", requires_torch="==2.14.1+cu126"), torch)
        is False
    )
    assert torch_pin_accepts(_build("torchvision", "0.29.1"), torch) is None
    pypi_torch = InstalledBuild(
        name="torch",
        version=Version("2.14.1"),
        local=None,  # type: ignore[arg-type]
        kind="unknown",
    )
    assert torch_pin_accepts(
        _build("torchvision", "0.29.1", requires_torch="==2.14.1+cu130"), pypi_torch
    )


def test_plan_installed(tmp_path: Path) -> None:
    make_dist(tmp_path, "torch", "2.11.0", version_py=VERSION_PY_CU130)
    assert plan_installed(read_installed([tmp_path])) == {
        "torch": (Version("2.11.0+cu130"), "cuda13.0")
    }


def test_record_fallback_whatever_metadata_library_found_the_dist(tmp_path: Path) -> None:
    """`import distributed` (the Dask plugin, its tests) makes `importlib.metadata` hand out
    the `importlib_metadata` backport's distributions, whose `.files` drops every RECORD row
    that is not on disk: the RECORD is read as text, the same for both."""
    backport = pytest.importorskip("importlib_metadata")
    dist_info = make_dist(tmp_path, "torch", "2.8.0", files=["torch/lib/libtorch_cuda.so"])
    build = read_distribution(backport.PathDistribution(dist_info))
    assert build is not None and build.kind == "cuda", build
    assert build.evidence == ("RECORD lists libtorch_cuda.so",)
