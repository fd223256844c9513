"""Facts about official PyTorch builds, as data with their sources.

Why a table and not detection: a legacy per-backend index (`/whl/cu128`) says only "CUDA 12.8";
which GPUs a build runs on is the release's `TORCH_CUDA_ARCH_LIST`, fixed at build time. These
tables let the index layer describe such wheels as (virtual) variants and let `doctor` tell
whether an installed build has kernels for this GPU.

Sources (see shared/research/detection.md):
* ``P-bc``: pytorch/pytorch@00c7a38 ``.ci/manywheel/build_cuda.sh`` (2.8 era);
* ``P-ti``: pytorch/test-infra@43ec95c ``tools/pkg-helpers/pytorch_pkg_helpers/cuda.py``;
* ``P-rel``: pytorch ``RELEASE.md`` support matrices (<= 2.14);
* ``D``: recorded ``torch.cuda.get_arch_list()`` of PyPI torch 2.11 on an H100;
* ``uv``: astral-sh/uv@26a9dd4 ``crates/uv-torch/src/backend.rs`` (gfx tables, package list);
* ``conda``: moi90/pytorch_compute_capabilities (2.7 cu126);
* ``M``: read from the PyPI wheel in the local mirror (``torch/version.py``, ``Requires-Dist``);
* ``I15``: the CUDA line of PyPI's default torch per release as stated in issue 15 (PyTorch's
  release announcements: 2.7 -> CUDA 12.6, 2.8 and 2.9 -> CUDA 12.8 on Linux x86_64);
* ``U``: recalled, not verified.

A release x backend (or release x platform) row that is missing is never "fits everything":
it inherits the nearest known release of the same line, and says so ("inferred").
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from wheelmagic.pytorch.backend import Backend

#: Where PyTorch publishes its per-backend indexes, and its variant-enabled index.
DEFAULT_PYTORCH_INDEX_BASE = "https://download.pytorch.org/whl"
DEFAULT_PYTORCH_VARIANT_INDEX = "https://wheelnext.github.io/variants-index/v0.0.3/"
ENV_PYTORCH_INDEX_BASE = "WHEELMAGIC_PYTORCH_INDEX_BASE"
ENV_PYTORCH_VARIANT_INDEX = "WHEELMAGIC_PYTORCH_VARIANT_INDEX"

#: Packages PyTorch's per-backend choice applies to (uv's `applies_to`, PyTorch source, §1.5).
PYTORCH_PACKAGES: frozenset[str] = frozenset(
    {
        "fbgemm-gpu",
        "fbgemm-gpu-genai",
        "pytorch-triton",
        "pytorch-triton-rocm",
        "pytorch-triton-xpu",
        "torch",
        "torch-tensorrt",
        "torchao",
        "torcharrow",
        "torchaudio",
        "torchcodec",
        "torchcsprng",
        "torchdistx",
        "torchrec",
        "torchserve",
        "torchtext",
        "torchtune",
        "torchvision",
        "triton",
        "triton-rocm",
        "triton-xpu",
        "xformers",
    }
)

_SM80_90 = ("8.0", "8.6", "9.0")
_CU126 = ("5.0", "6.0", "7.0", "7.5", *_SM80_90)  # 2.7 conda, 2.8+ P-bc / P-ti
_CU128_28 = ("7.0", "7.5", *_SM80_90, "10.0", "12.0")  # P-bc, P-ti (2.8-2.10)
_CU13X = ("7.5", *_SM80_90, "10.0", "12.0+PTX")  # P-ti (2.9-2.10), P-rel (2.12-2.14)

#: (torch minor release, CUDA index) -> TORCH_CUDA_ARCH_LIST, x86_64 Linux/Windows wheels.
CUDA_ARCH_LISTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("2.0", "cu117"): ("3.7", "5.0", "6.0", "7.0", "7.5", *_SM80_90),  # U
    ("2.1", "cu121"): ("5.0", "6.0", "7.0", "7.5", *_SM80_90),  # U
    ("2.5", "cu124"): ("5.0", "6.0", "7.0", "7.5", *_SM80_90),  # U
    ("2.7", "cu118"): ("3.7", "5.0", "6.0", "7.0", "7.5", *_SM80_90),  # U
    ("2.7", "cu126"): _CU126,  # conda
    ("2.7", "cu128"): ("7.5", *_SM80_90, "10.0", "12.0+PTX"),  # uv#14742 output
    ("2.8", "cu126"): _CU126,  # P-bc
    ("2.8", "cu128"): _CU128_28,  # P-bc
    ("2.8", "cu129"): ("7.0", "7.5", *_SM80_90, "10.0", "12.0+PTX"),  # P-bc
    ("2.9", "cu126"): _CU126,
    ("2.9", "cu128"): _CU128_28,
    ("2.9", "cu130"): _CU13X,  # P-ti
    ("2.10", "cu126"): _CU126,
    ("2.10", "cu128"): _CU128_28,
    ("2.10", "cu130"): _CU13X,
    ("2.11", "cu126"): _CU126,
    ("2.11", "cu128"): ("7.5", *_SM80_90, "10.0", "12.0"),  # sm_70 dropped, pytorch#172352
    ("2.11", "cu130"): ("7.5", *_SM80_90, "10.0", "12.0"),  # D: no compute_120
    ("2.12", "cu126"): _CU126,
    ("2.12", "cu130"): _CU13X,  # P-rel
    ("2.12", "cu132"): _CU13X,
    ("2.13", "cu126"): _CU126,
    ("2.13", "cu130"): _CU13X,
    ("2.13", "cu132"): _CU13X,
    ("2.14", "cu126"): _CU126,
    ("2.14", "cu130"): _CU13X,
    ("2.14", "cu132"): _CU13X,
}

#: aarch64 (SBSA) wheels: cu126 = 8.0;9.0, cu13x = 8.0;9.0;10.0;11.0;12.0+PTX (P-rel).
CUDA_ARCH_LISTS_AARCH64: dict[str, tuple[str, ...]] = {
    "cu126": ("8.0", "9.0"),
    "cu130": ("8.0", "9.0", "10.0", "11.0", "12.0+PTX"),
    "cu132": ("8.0", "9.0", "10.0", "11.0", "12.0+PTX"),
}

#: ROCm index -> gfx targets (uv `LINUX_AMD_GPU_DRIVERS`, derived from get_arch_list()).
_GFX_BASE = ("gfx900", "gfx906", "gfx908", "gfx90a", "gfx942")
#: ROCm 7.0 and 7.1 builds target the same GPUs
_GFX_70 = (*_GFX_BASE, "gfx950", "gfx1030", "gfx1100", "gfx1101", "gfx1102", "gfx1200", "gfx1201")
ROCM_GFX: dict[str, tuple[str, ...]] = {
    "rocm7.2": (
        *_GFX_BASE,
        "gfx950",
        "gfx1030",
        "gfx1100",
        "gfx1101",
        "gfx1102",
        "gfx1150",
        "gfx1151",
        "gfx1200",
        "gfx1201",
    ),
    "rocm7.1": _GFX_70,
    "rocm7.0": _GFX_70,
    "rocm6.4": (*_GFX_BASE, "gfx1030", "gfx1100", "gfx1101", "gfx1102", "gfx1200", "gfx1201"),
    "rocm6.3": (*_GFX_BASE, "gfx1030", "gfx1100", "gfx1101", "gfx1102", "gfx1200", "gfx1201"),
    "rocm6.2.4": (*_GFX_BASE, "gfx1030", "gfx1100", "gfx1101", "gfx1102", "gfx1200", "gfx1201"),
    "rocm6.2": (*_GFX_BASE, "gfx1030", "gfx1100"),
    "rocm6.1": (*_GFX_BASE, "gfx1030", "gfx1100", "gfx1101"),
    "rocm6.0": (*_GFX_BASE, "gfx1030", "gfx1100"),
}

#: Intel `device_ip` values torch-xpu targets (torch 2.10's variants.json, research §4.2).
XPU_DEVICE_IPS: tuple[str, ...] = (
    "12.55.8",
    "12.60.7",
    "12.71.4",
    "12.74.4",
    "20.1.0",
    "20.4.4",
    "30.0.4",
    "30.1.0",
)

#: Per-backend index names PyTorch publishes (uv's list), newest first within each family.
CUDA_INDEXES: tuple[str, ...] = (
    "cu132",
    "cu130",
    "cu129",
    "cu128",
    "cu126",
    "cu125",
    "cu124",
    "cu123",
    "cu122",
    "cu121",
    "cu120",
    "cu118",
    "cu117",
    "cu116",
    "cu115",
    "cu114",
    "cu113",
    "cu112",
    "cu111",
    "cu110",
    "cu102",
    "cu101",
    "cu100",
    "cu92",
    "cu91",
    "cu90",
    "cu80",
)
ROCM_INDEXES: tuple[str, ...] = tuple(ROCM_GFX)
BACKENDS: tuple[str, ...] = (*CUDA_INDEXES, *ROCM_INDEXES, "xpu", "cpu")

#: companion release -> torch minor release. Verified: torchvision 0.28/0.29 METADATA pin torch
#: ==2.13.0/==2.14.0 (/opt/pypi-more); 0.23-0.25 per the published variants.json sets. Others: U.
TORCHVISION_TO_TORCH: dict[str, str] = {
    "0.22": "2.7",  # U
    "0.23": "2.8",
    "0.24": "2.9",
    "0.25": "2.10",
    "0.26": "2.11",  # U
    "0.27": "2.12",  # U
    "0.28": "2.13",
    "0.29": "2.14",
}
#: torchaudio numbers its releases like torch since 2.1 (2.8 <-> 2.8); U beyond 2.10.

#: torch minor release -> its newest ROCm build (P-rel, research/detection.md §3.3); names the
#: `--variant` of a fix.
ROCM_BY_RELEASE: dict[str, str] = {
    "2.7": "rocm6.3",
    "2.8": "rocm6.4",
    "2.9": "rocm6.4",
    "2.10": "rocm7.1",
    "2.11": "rocm7.2",
    "2.12": "rocm7.2",
    "2.13": "rocm7.2",
}


def torch_release(package: str, version: str) -> str | None:
    """The torch minor release (`2.8`) a torch/torchvision/torchaudio version belongs to."""
    try:
        v = Version(version)
    except InvalidVersion:
        return None
    minor = f"{v.major}.{v.minor}"
    if package == "torchvision":
        return TORCHVISION_TO_TORCH.get(minor)
    if package in ("torch", "torchaudio"):
        return minor
    return None


def cuda_archs(
    torch_version: str, backend: Backend, arch: str = "x86_64"
) -> tuple[str, ...] | None:
    """TORCH_CUDA_ARCH_LIST of the official CUDA build, e.g. ("7.5", ..., "12.0+PTX").

    None when we do not know (or `backend` is not a CUDA one).
    """
    release = torch_release("torch", torch_version)
    if release is None or backend.kind != "cuda":
        return None
    if arch in ("aarch64", "arm64"):
        if Version(release) < Version("2.8"):
            return None
        return CUDA_ARCH_LISTS_AARCH64.get(backend.index_name)
    return CUDA_ARCH_LISTS.get((release, backend.index_name))


def cuda_archs_inferred(
    torch_version: str, backend: Backend, arch: str = "x86_64"
) -> tuple[tuple[str, ...], str | None] | None:
    """`cuda_archs`, or, when the table has no row, the nearest known release's row of the same
    CUDA line (else the nearest CUDA line of the same major), with the words saying so.

    Returns (arch list, None) for a known row, (arch list, "inferred from torch 2.8 cu129")
    for an inherited one, None when the backend is not CUDA or nothing near is known.
    """
    release = torch_release("torch", torch_version)
    if release is None or backend.kind != "cuda":
        return None
    known = cuda_archs(release, backend, arch)
    if known:
        return known, None
    if arch in ("aarch64", "arm64"):
        rows = {
            (r, cu): a
            for (r, cu) in CUDA_ARCH_LISTS
            for a in [CUDA_ARCH_LISTS_AARCH64.get(cu)]
            if a and Version(r) >= Version("2.8")
        }
    else:
        rows = dict(CUDA_ARCH_LISTS)
    want = Version(release)

    def distance(key: tuple[str, str]) -> tuple[int, float, int]:
        other = Backend.parse(key[1])
        cuda_gap = abs(_cuda_number(other) - _cuda_number(backend)) if other else 99
        rel = Version(key[0])
        gap = abs((rel.major - want.major) * 100 + rel.minor - want.minor)
        return (0 if key[1] == backend.index_name else 1, cuda_gap, gap)

    same_major = [
        k
        for k in rows
        if (b := Backend.parse(k[1])) is not None and b.version[0] == backend.version[0]
    ]
    if not same_major:
        return None
    best = min(same_major, key=distance)
    return rows[best], f"inferred from torch {best[0]} {best[1]} (no row for {release} {backend})"


def _cuda_number(backend: Backend) -> int:
    return backend.version[0] * 100 + backend.version[1] if backend.kind == "cuda" else 0


#: PyPI's own torch wheels (no local label): the backend each release is built with, per
#: platform, with its source. Linux x86_64 PyPI wheels are CUDA builds (the same build as
#: `/whl/<cu>`), Windows and macOS ones CPU (macOS arm64 adds MPS). torchvision/torchaudio
#: follow their torch release.
PYPI_PLATFORMS: tuple[str, ...] = ("linux_x86_64", "linux_aarch64", "windows", "macos")
PYPI_TORCH_BUILDS: dict[str, dict[str, tuple[str, str]]] = {
    "linux_x86_64": {
        "2.0": ("cu117", "U"),
        "2.1": ("cu121", "U"),
        "2.2": ("cu121", "U"),
        "2.3": ("cu121", "U"),
        "2.4": ("cu121", "U"),
        "2.5": ("cu124", "U"),
        "2.6": ("cu124", "U"),
        "2.7": ("cu126", "I15"),
        "2.8": ("cu128", "I15"),
        "2.9": ("cu128", "I15"),
        "2.10": ("cu128", "U"),
        "2.11": ("cu130", "D"),
        "2.14": ("cu130", "M"),
    },
    "linux_aarch64": {
        "2.0": ("cpu", "U"),
        "2.8": ("cpu", "U"),
        "2.9": ("cu128", "U: SBSA CUDA wheels on PyPI from 2.9"),
        "2.11": ("cu130", "U"),
    },
    "windows": {"2.0": ("cpu", "P-rel: PyPI ships CPU wheels for Windows")},
    "macos": {"2.0": ("cpu", "P-rel: CPU wheels; MPS on arm64 (research/detection.md)")},
}


def pypi_platform(filename_platform_tags: str) -> str | None:
    """The `PYPI_TORCH_BUILDS` key of a wheel's platform tag(s); None for unknown ones."""
    text = filename_platform_tags
    if "macosx" in text:
        return "macos"
    if text.startswith("win") or "win_amd64" in text or "win_arm64" in text:
        return "windows"
    if "linux" in text and "x86_64" in text:
        return "linux_x86_64"
    if "linux" in text and "aarch64" in text:
        return "linux_aarch64"
    return None


def pypi_build(package: str, version: str, platform: str) -> tuple[Backend, str] | None:
    """The backend of PyPI's plain `package` `version` wheel on `platform`, and where that fact
    comes from ("PyPI torch 2.9 on linux_x86_64 (I15)", or "... inferred from 2.8 (U)").

    None when the package is not a torch release companion or the platform is unknown.
    """
    release = torch_release(package, version)
    table = PYPI_TORCH_BUILDS.get(platform)
    if release is None or table is None:
        return None
    want = Version(release)
    if release in table:
        name, source = table[release]
        inferred = ""
    else:
        lower = [r for r in table if Version(r) < want]
        pick = max(lower, key=Version) if lower else min(table, key=Version)
        name, source = table[pick]
        inferred = f", inferred from torch {pick}"
    backend = Backend.parse(name)
    if backend is None:
        return None
    return (
        backend,
        f"PyPI's torch {release} on {platform} is a {backend} build ({source}{inferred})",
    )


def cuda_lines(release: str, arch: str = "x86_64") -> list[Backend]:
    """The CUDA builds a torch release publishes (from the arch tables), newest CUDA first."""
    names = [cu for (rel, cu) in CUDA_ARCH_LISTS if rel == release]
    if arch in ("aarch64", "arm64"):  # SBSA wheels: only the lines whose arch list we know
        ok = Version(release) >= Version("2.8")
        names = [cu for cu in names if ok and cu in CUDA_ARCH_LISTS_AARCH64]
    lines = [b for b in map(Backend.parse, names) if b is not None]
    return sorted(lines, reverse=True)


def sm_archs_of_arch_list(archs: tuple[str, ...]) -> tuple[str, ...]:
    """TORCH_CUDA_ARCH_LIST -> the `nvidia :: sm_arch` values a build declares:
    "12.0+PTX" -> 120_real, 120_virtual."""
    values: list[str] = []
    for item in archs:
        cc, _, ptx = item.partition("+")
        digits = cc.replace(".", "")
        values.append(f"{digits}_real")
        if ptx.upper() == "PTX":
            values.append(f"{digits}_virtual")
    return tuple(values)


def backend_properties(
    backend: Backend, package: str = "torch", version: str | None = None, arch: str = "x86_64"
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Virtual variant properties of a plain PyTorch build; {} = null variant (cpu)."""
    return backend_facts(backend, package, version, arch)[0]


def backend_facts(
    backend: Backend, package: str = "torch", version: str | None = None, arch: str = "x86_64"
) -> tuple[dict[str, dict[str, tuple[str, ...]]], str | None]:
    """`backend_properties` and, when a row was inherited, the words saying from where.

    ROCm builds declare only their gfx targets: PyTorch's ROCm wheels bundle the ROCm
    user-space libraries, so the host's ROCm version does not gate them (issue 15). Without a
    release (`version` None) a CUDA build declares only its CUDA lower bound.
    """
    if backend.kind == "cpu":
        return {}, None
    if backend.kind == "xpu":
        return {"intel": {"device_ip": tuple(sorted(XPU_DEVICE_IPS))}}, None
    if backend.kind == "rocm":
        gfx = ROCM_GFX.get(backend.index_name)
        note = None
        if gfx is None:
            near = min(
                ROCM_GFX, key=lambda k: abs(_rocm_number(k) - _rocm_number(backend.index_name))
            )
            gfx, note = ROCM_GFX[near], f"gfx targets inferred from {near} (no row for {backend})"
        return {"amd": {"gfx_arch": tuple(sorted(gfx))}}, note
    nvidia: dict[str, tuple[str, ...]] = {"cuda_version_lower_bound": (backend.version_text,)}
    release = torch_release(package, version) if version else None
    note = None
    if release is not None:
        found = cuda_archs_inferred(release, backend, arch)
        if found:
            nvidia["sm_arch"] = tuple(sorted(sm_archs_of_arch_list(found[0])))
            note = found[1]
    return {"nvidia": nvidia}, note


def _rocm_number(name: str) -> int:
    backend = Backend.parse(name)
    if backend is None or backend.kind != "rocm":
        return 0
    v = (*backend.version, 0)
    return v[0] * 10000 + v[1] * 100 + v[2]
