"""Installed build vs this machine: does it fit, and if not, what PyTorch will say and the fix.

Pure: every input is data (`InstalledBuild`s, a `Platform` snapshot, the providers' supported
properties); nothing here reads files, the environment or the clock. The rules and the exact
PyTorch messages come from shared/research/detection.md §3 (driver floors, SASS/PTX rule,
TORCH_CUDA_ARCH_LIST tables in `wheelmagic.pytorch.facts`) and §3.4 (messages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelmagic.pytorch import facts as torch_builds
from wheelmagic.variants.ordering import SupportedProperties, check_compatible, resolve_supported

if TYPE_CHECKING:
    from wheelmagic.installed import Builds, InstalledBuild
    from wheelmagic.platform import Platform

    #: a `Platform`, or the same facts as its JSON (hand-written test machines)
    PlatformLike = Platform | Mapping[str, Any]

Status = Literal["fits", "suboptimal", "broken", "not-installed"]

#: Exit status of `wheelmagic doctor` per verdict.
EXIT_CODES: dict[str, int] = {"fits": 0, "suboptimal": 1, "broken": 2, "not-installed": 3}
_SEVERITY: dict[str, int] = {"fits": 0, "suboptimal": 1, "broken": 2, "not-installed": 3}

#: Minor-version-compatibility floors: a CUDA X.y build runs on a driver of the same major at
#: or above this, even when the driver's own CUDA version is lower (N-mvc, uv, ltt; §3.1).
MVC_FLOORS: dict[int, dict[str, str]] = {
    13: {"linux": "580", "windows": "580"},
    12: {"linux": "525.60.13", "windows": "528.33"},
    11: {"linux": "450.80.02", "windows": "452.39"},
}

#: Driver branch -> the CUDA version it supports, for snapshots without NVML's CUDA number.
#: From the drivers bundled with each toolkit (§3.1); an estimate, said so in the reasons.
_DRIVER_CUDA: tuple[tuple[str, str], ...] = (
    ("590", "13.1"),
    ("580", "13.0"),
    ("575", "12.9"),
    ("570", "12.8"),
    ("560", "12.6"),
    ("555", "12.5"),
    ("550", "12.4"),
    ("545", "12.3"),
    ("535", "12.2"),
    ("530", "12.1"),
    ("525", "12.0"),
    ("520", "11.8"),
    ("515", "11.7"),
    ("510", "11.6"),
    ("495", "11.5"),
    ("470", "11.4"),
    ("465", "11.3"),
    ("460", "11.2"),
    ("455", "11.1"),
    ("450", "11.0"),
)

#: Integrated-GPU compute capabilities: SASS must match exactly (P-214 DEVICE_REQUIREMENT).
_EXACT_ONLY = {(5, 3), (6, 2), (7, 2), (8, 7), (10, 1), (11, 0)}

#: torch minor release -> its ROCm build (P-rel, §3.3). Used only to name a `--variant`.
ROCM_BY_RELEASE: dict[str, str] = {
    "2.7": "rocm6.3",
    "2.8": "rocm6.4",
    "2.9": "rocm6.4",
    "2.10": "rocm7.1",
    "2.11": "rocm7.2",
    "2.12": "rocm7.2",
    "2.13": "rocm7.2",
}

_MSG_DRIVER_OLD = (
    "UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found "
    "version {found}). Please update your GPU driver by downloading and installing a new version "
    "from the URL: http://www.nvidia.com/Download/index.aspx Alternatively, go to: "
    "https://pytorch.org to install a PyTorch version that has been compiled with your version "
    "of the CUDA driver."
)
_MSG_NO_DRIVER = (
    "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and "
    "installed a driver from http://www.nvidia.com/Download/index.aspx"
)
_MSG_NOT_COMPILED = "AssertionError: Torch not compiled with CUDA enabled"
_MSG_NO_KERNEL = (
    "RuntimeError: CUDA error: no kernel image is available for execution on the device"
)
_MSG_PTX = (
    "CUDA error: the provided PTX was compiled with an unsupported toolchain "
    "(cudaErrorUnsupportedPtxVersion)"
)
_MSG_NMS = "RuntimeError: operator torchvision::nms does not exist"
_MSG_HIP = (
    "hipErrorNoBinaryForGpu: Unable to find code object for all current devices! (then "
    "RuntimeError: HIP error: invalid device function)"
)


@dataclass
class Diagnosis:
    """The verdict on what is installed, why, what PyTorch will say, and the fix."""

    status: Status
    reasons: list[str] = field(default_factory=list)
    #: the error or warning PyTorch will give: plain words, then its verbatim text
    predicted: list[str] = field(default_factory=list)
    fix_command: str | None = None
    fix_magic: str | None = None
    fix_requirements: list[str] = field(default_factory=list)
    #: `--variant` label of the fix, when a specific accelerator line is needed
    fix_variant: str | None = None
    #: things worth knowing that do not change the verdict (unknown arch coverage, MVC)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "predicted": list(self.predicted),
            "fix_command": self.fix_command,
            "fix_magic": self.fix_magic,
            "fix_requirements": list(self.fix_requirements),
            "fix_variant": self.fix_variant,
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------
# small helpers


def _v(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def _cc(text: object) -> tuple[int, int] | None:
    """`"9.0"`, `(9, 0)`, `"sm_90"`, `90` -> (9, 0)."""
    if isinstance(text, (tuple, list)) and len(text) >= 2:
        return int(text[0]), int(text[1])
    s = str(text).strip().lower().removeprefix("sm_")
    if "." in s:
        major, minor = s.split(".", 1)
        try:
            return int(major), int(minor)
        except ValueError:
            return None
    if s.isdigit() and len(s) >= 2:
        return int(s[:-1]), int(s[-1])
    return None


def _cc_str(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def _mm(version: Version) -> str:
    return f"{version.major}.{version.minor}"


def _backend_cuda(backend: str) -> Version:
    return Version(torch_builds.cuda_version(backend) or "0")


# ---------------------------------------------------------------------------------------
# what the platform says (duck-typed: `Platform` is a frozen snapshot)


@dataclass(frozen=True)
class _Gpu:
    index: int
    name: str
    cc: tuple[int, int] | None


@dataclass(frozen=True)
class _Machine:
    os: str
    arch: str
    has_nvidia: bool
    driver: Version | None
    driver_text: str | None
    driver_cuda: Version | None
    driver_cuda_estimated: bool
    gpus: tuple[_Gpu, ...]
    gfx: tuple[str, ...]
    rocm: str | None
    has_amd: bool
    has_intel: bool
    is_apple: bool

    def driver_phrase(self) -> str:
        if not self.has_nvidia:
            return "no NVIDIA driver"
        cuda = ""
        if self.driver_cuda is not None:
            cuda = f" (CUDA {_mm(self.driver_cuda)}{', estimated' if self.driver_cuda_estimated else ''})"
        return f"driver {self.driver_text or 'of unknown version'}{cuda}"

    def gpu_phrase(self) -> str:
        named = [f"{g.name} (compute capability {_cc_str(g.cc)})" for g in self.gpus if g.cc]
        return ", ".join(named) if named else "no NVIDIA GPU visible"


def _get(obj: object, *names: str) -> Any:
    if obj is None:
        return None
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return None


def _index(value: object, default: int) -> int:
    return value if isinstance(value, int) else default


def _estimate_cuda(driver: Version | None) -> Version | None:
    if driver is None:
        return None
    for floor, cuda in _DRIVER_CUDA:
        if driver >= Version(floor):
            return Version(cuda)
    return None


def _gfx_names(amd: object) -> tuple[str, ...]:
    raw = _get(amd, "gfx", "gfx_archs", "gfx_arch", "gpus", "agents") or ()
    if isinstance(raw, str):
        raw = [raw]
    out: list[str] = []
    for item in raw:
        name = item if isinstance(item, str) else _get(item, "gfx", "gfx_arch", "name")
        if isinstance(name, str) and name:
            out.append(name if name.startswith("gfx") else f"gfx{name}")
    return tuple(dict.fromkeys(out))


def _machine(platform: object, supported: SupportedProperties) -> _Machine:
    nv = _get(platform, "nvidia")
    driver_text = _get(nv, "driver_version")
    driver = _v(driver_text)
    cuda_raw = _get(nv, "cuda_driver_version")
    if isinstance(cuda_raw, int):  # NVML's 13000
        cuda_raw = f"{cuda_raw // 1000}.{(cuda_raw % 1000) // 10}"
    driver_cuda = _v(cuda_raw)
    estimated = False
    if driver_cuda is None and driver is not None:
        driver_cuda, estimated = _estimate_cuda(driver), True
    gpus = tuple(
        _Gpu(
            _index(_get(g, "index"), i),
            str(_get(g, "name") or f"GPU{i}"),
            _cc(_get(g, "compute_capability")),
        )
        for i, g in enumerate(_get(nv, "gpus") or ())
    )
    amd = _get(platform, "amd")
    gfx = _gfx_names(amd)
    if not gfx:
        gfx = tuple(supported.get("amd", {}).get("gfx_arch", ()))
    intel = _get(platform, "intel")
    intel_ok = bool(supported.get("intel", {}).get("device_ip")) or bool(
        intel and (_get(intel, "device_ip", "devices", "gpus", "device_ips") or _get(intel, "xpu"))
    )
    os_name = str(_get(platform, "os") or "linux").lower()
    return _Machine(
        os="windows" if os_name.startswith("win") else os_name,
        arch=str(_get(platform, "arch") or "x86_64"),
        has_nvidia=nv is not None and (driver is not None or bool(gpus)),
        driver=driver,
        driver_text=str(driver_text) if driver_text else None,
        driver_cuda=driver_cuda,
        driver_cuda_estimated=estimated,
        gpus=gpus,
        gfx=gfx,
        rocm=_get(amd, "rocm_version"),
        has_amd=bool(gfx),
        has_intel=intel_ok,
        is_apple=_get(platform, "apple") is not None,
    )


# ---------------------------------------------------------------------------------------
# the CUDA rules


def driver_allows(build_cuda: Version, m: _Machine) -> tuple[bool, bool]:
    """(allowed, only through minor-version compatibility) for a CUDA X.Y build."""
    if not m.has_nvidia:
        return False, False
    if m.driver_cuda is not None and m.driver_cuda >= Version(_mm(build_cuda)):
        return True, False
    floor = MVC_FLOORS.get(build_cuda.major, {}).get("windows" if m.os == "windows" else "linux")
    same_major = m.driver_cuda is None or m.driver_cuda.major == build_cuda.major
    if floor and m.driver is not None and m.driver >= Version(floor) and same_major:
        return True, True
    # A newer major driver runs older-major builds (backward compatibility).
    if m.driver_cuda is not None and m.driver_cuda.major > build_cuda.major:
        return True, False
    return False, False


def driver_need(build_cuda: Version, m: _Machine) -> str:
    floor = MVC_FLOORS.get(build_cuda.major, {}).get("windows" if m.os == "windows" else "linux")
    return f"CUDA {_mm(build_cuda)}" + (f" (>= {floor})" if floor else "")


def _coverage(
    cc: tuple[int, int], archs: Sequence[str], build_cuda: Version, m: _Machine
) -> Literal["sass", "ptx", "ptx-driver", "none"]:
    """How a GPU runs a build: its own SASS, JIT from PTX, PTX the driver cannot JIT, or not."""
    parsed: list[tuple[tuple[int, int], bool]] = []
    for item in archs:
        base, _, ptx = item.partition("+")
        c = _cc(base)
        if c is not None:
            parsed.append((c, ptx.upper() == "PTX"))
    for c, _ in parsed:
        if cc in _EXACT_ONLY or c in _EXACT_ONLY:
            if c == cc:
                return "sass"
        elif c[0] == cc[0] and c[1] <= cc[1]:
            return "sass"
    ptx_archs = [c for c, ptx in parsed if ptx]
    if ptx_archs and cc > max(ptx_archs):
        if m.driver_cuda is not None and m.driver_cuda >= Version(_mm(build_cuda)):
            return "ptx"
        return "ptx-driver"
    return "none"


@dataclass(frozen=True)
class _LineCheck:
    backend: str
    archs: tuple[str, ...] | None
    allowed: bool
    mvc: bool
    uncovered: tuple[tuple[_Gpu, str], ...]

    @property
    def works(self) -> bool:
        return self.allowed and not self.uncovered


def _check_line(release: str, backend: str, m: _Machine) -> _LineCheck:
    cuda = _backend_cuda(backend)
    archs = torch_builds.cuda_archs(release, backend, m.arch)
    allowed, mvc = driver_allows(cuda, m)
    uncovered: list[tuple[_Gpu, str]] = []
    if archs is not None:
        for gpu in m.gpus:
            if gpu.cc is None:
                continue
            how = _coverage(gpu.cc, archs, cuda, m)
            if how in ("none", "ptx-driver"):
                uncovered.append((gpu, how))
    return _LineCheck(backend, archs, allowed, mvc, tuple(uncovered))


def cuda_lines(release: str, arch: str = "x86_64") -> list[str]:
    """CUDA indexes the release publishes (from the arch tables), newest CUDA first."""
    lines = [cu for (rel, cu) in torch_builds.CUDA_ARCH_LISTS if rel == release]
    if arch in ("aarch64", "arm64"):  # SBSA wheels: only the lines whose arch list we know
        known = torch_builds.CUDA_ARCH_LISTS_AARCH64
        lines = [cu for cu in lines if cu in known] if Version(release) >= Version("2.8") else []
    return sorted(lines, key=_backend_cuda, reverse=True)


def best_cuda_line(release: str, m: _Machine) -> str | None:
    """The CUDA line to recommend for `release` on this machine.

    Prefers lines the driver supports outright (no MVC caveats, §7.3); falls back to lines
    that run only through minor-version compatibility (a 535 driver and a cu126 build).
    """
    if not m.has_nvidia:
        return None
    checks = [_check_line(release, cu, m) for cu in cuda_lines(release, m.arch)]
    strict = [c for c in checks if c.works and not c.mvc]
    if strict:
        return strict[0].backend
    relaxed = [c for c in checks if c.works]
    return relaxed[0].backend if relaxed else None


def _newest_release_with(m: _Machine) -> tuple[str, str] | None:
    releases = sorted({rel for rel, _ in torch_builds.CUDA_ARCH_LISTS}, key=Version, reverse=True)
    for rel in releases:
        line = best_cuda_line(rel, m)
        if line:
            return rel, line
    return None


# ---------------------------------------------------------------------------------------
# fixes


def _companion_version(name: str, torch_version: Version) -> str | None:
    """The companion release that goes with a torch version: torch 2.14.1 -> torchvision 0.29.1."""
    release = f"{torch_version.major}.{torch_version.minor}"
    patch = torch_version.micro
    if name == "torchvision":
        for tv, tr in torch_builds.TORCHVISION_TO_TORCH.items():
            if tr == release:
                return f"{tv}.{patch}"
        return None
    if name == "torchaudio":
        return f"{release}.{patch}"
    return None


def _companion_series(name: str, release: str) -> str | None:
    if name == "torchvision":
        for tv, tr in torch_builds.TORCHVISION_TO_TORCH.items():
            if tr == release:
                return f"{tv}.*"
        return None
    if name == "torchaudio":
        return f"{release}.*"
    return None


def _fix(
    diag: Diagnosis,
    torch_req: str,
    companions: Sequence[str],
    variant: str | None,
) -> None:
    reqs = [torch_req, *companions]
    diag.fix_requirements = reqs
    diag.fix_variant = variant
    tail = f" --variant {variant}" if variant else ""
    diag.fix_command = f"wheelmagic install {' '.join(reqs)}{tail}"
    diag.fix_magic = f"%variant_install {' '.join(reqs)}{tail}"


def _companion_reqs(
    installed: Mapping[NormalizedName, InstalledBuild],
    torch_version: Version | None,
    release: str | None = None,
) -> list[str]:
    out: list[str] = []
    for name in installed:
        if name == "torch":
            continue
        pinned = None
        if release is not None:
            series = _companion_series(name, release)
            pinned = f"{name}=={series}" if series else None
        elif torch_version is not None:
            ver = _companion_version(name, torch_version)
            pinned = f"{name}=={ver}" if ver else None
        out.append(pinned or name)
    return out


# ---------------------------------------------------------------------------------------
# the verdict


class _Verdict:
    """Accumulates findings; the worst one decides the status."""

    def __init__(self) -> None:
        self.status: Status = "fits"
        self.reasons: list[str] = []
        self.predicted: list[str] = []
        self.notes: list[str] = []
        #: (torch requirement or None for "same release", variant or None)
        self.fix: tuple[str | None, str | None] | None = None
        self._fix_status: Status = "fits"

    def add(self, status: Status, reason: str, *predicted: str) -> None:
        if _SEVERITY[status] > _SEVERITY[self.status]:
            self.status = status
        self.reasons.append(reason)
        for p in predicted:
            if p not in self.predicted:
                self.predicted.append(p)

    def want_fix(self, torch_req: str | None, variant: str | None, status: Status) -> None:
        # The fix for the worst problem wins; among equals, the first that names a line.
        worse = _SEVERITY[status] > _SEVERITY[self._fix_status]
        vaguer = status == self._fix_status and self.fix is not None and self.fix[1] is None
        if self.fix is None or worse or (vaguer and variant is not None):
            self.fix = (torch_req, variant)
            self._fix_status = status


def diagnose(
    installed: Builds,
    platform: PlatformLike,
    supported: SupportedProperties,
    *,
    where: str | None = None,
) -> Diagnosis:
    """Judge the installed torch (and its companions) against this machine.

    `installed` is `wheelmagic.installed.read_installed(...)`, `platform` a `Platform` snapshot,
    `supported` `wheelmagic.providers.supported_properties(platform)`; `where` names the
    interpreter in the not-installed reason.
    """
    builds = {canonicalize_name(k): v for k, v in installed.items()}
    m = _machine(platform, supported)
    torch = builds.get(canonicalize_name("torch"))
    if torch is None:
        diag = Diagnosis("not-installed")
        present = ", ".join(b.describe() for b in builds.values())
        diag.reasons.append(
            f"torch is not installed in {where or 'this environment'}"
            + (f" (installed: {present})" if present else "")
        )
        diag.predicted.append("import torch fails: ModuleNotFoundError: No module named 'torch'")
        _fix(diag, "torch", _companion_reqs(builds, None), None)
        return diag

    v = _Verdict()
    release = torch_builds.torch_release("torch", str(torch.version)) or ""
    _judge_torch(v, torch, release, m, supported)
    for name, build in builds.items():
        if name != "torch":
            _judge_companion(v, build, torch, m, supported)

    diag = Diagnosis(v.status, v.reasons, v.predicted, notes=v.notes)
    if v.status == "fits":
        if not diag.reasons:
            diag.reasons.append(f"{torch.describe()} fits this machine ({_summary(m)})")
        return diag
    torch_req, variant = v.fix or (None, None)
    if torch_req is None:  # swap the build of the same release
        torch_req = f"torch=={torch.version.public}"
        companions = _companion_reqs(builds, torch.version)
    else:
        rel = torch_req.split("==", 1)[1].removesuffix(".*") if "==" in torch_req else None
        companions = _companion_reqs(builds, None, release=rel)
    _fix(diag, torch_req, companions, variant)
    return diag


def describe_platform(platform: PlatformLike, supported: SupportedProperties | None = None) -> str:
    """One line about the accelerator facts diagnose uses: driver, CUDA, GPUs, gfx."""
    m = _machine(platform, supported or {})
    return f"{_summary(m)} ({m.os} {m.arch})"


def _summary(m: _Machine) -> str:
    if m.has_nvidia:
        return f"NVIDIA {m.driver_phrase()}; {m.gpu_phrase()}"
    if m.has_amd:
        return f"AMD {', '.join(m.gfx)}"
    if m.has_intel:
        return "Intel XPU"
    if m.is_apple:
        return "Apple silicon"
    return "no GPU"


def _judge_variant(
    v: _Verdict,
    build: InstalledBuild,
    supported: SupportedProperties,
    abi: Mapping[str, Version] | None = None,
) -> None:
    if build.variant_properties is None:
        return
    if build.variant_metadata is not None:
        # static namespaces (PyTorch's `priority`) and abi_dependency come from the metadata
        supported = resolve_supported(build.variant_metadata, supported, abi_versions=abi)
    problem = check_compatible(build.variant_properties, supported)
    if problem:
        v.add(
            "broken",
            f"{build.describe()} was installed from variant "
            f"{build.variant_label!r}, which {problem}",
        )
        v.want_fix(None, None, "broken")


def _judge_torch(
    v: _Verdict, torch: InstalledBuild, release: str, m: _Machine, supported: SupportedProperties
) -> None:
    _judge_variant(v, torch, supported)
    if torch.kind == "cuda":
        _judge_cuda(v, torch, release, m)
    elif torch.kind == "rocm":
        _judge_rocm(v, torch, release, m)
    elif torch.kind == "xpu":
        if not m.has_intel:
            v.add(
                "broken",
                f"{torch.describe()} is built for Intel GPUs (XPU); this machine has "
                f"no supported Intel GPU ({_summary(m)})",
                "torch.xpu.is_available() returns False: every XPU tensor fails",
            )
            v.want_fix(None, _auto_line(release, m), "broken")
    elif torch.kind == "cpu":
        _judge_cpu(v, torch, release, m)
    else:
        v.notes.append(
            f"{torch.describe()}: wheelmagic could not tell which accelerator build "
            "this is (" + "; ".join(torch.evidence) + ")"
        )


def _auto_line(release: str, m: _Machine) -> str:
    """The line a reinstall should take on this machine: best CUDA, ROCm, XPU, else cpu."""
    if m.has_nvidia:
        line = best_cuda_line(release, m)
        if line:
            return line
    if m.has_amd and release in ROCM_BY_RELEASE:
        return ROCM_BY_RELEASE[release]
    if m.has_intel:
        return "xpu"
    return "cpu"


def _judge_cpu(v: _Verdict, torch: InstalledBuild, release: str, m: _Machine) -> None:
    if m.has_nvidia and m.gpus:
        line = best_cuda_line(release, m)
        if line:
            v.add(
                "suboptimal",
                f"{torch.describe()} is a CPU-only build; this machine has "
                f"{m.gpu_phrase()} with {m.driver_phrase()}, and torch {release} publishes a "
                f"CUDA {torch_builds.cuda_version(line)} build that runs on it",
                f"torch.cuda.is_available() returns False and .cuda() raises: {_MSG_NOT_COMPILED}",
            )
            v.want_fix(None, line, "suboptimal")
        else:
            v.notes.append(
                f"{torch.describe()} is CPU-only; no CUDA build of torch {release} "
                f"runs on {m.gpu_phrase()} with {m.driver_phrase()}"
            )
        return
    if m.has_amd and m.os == "linux":
        covered = [g for g in m.gfx if any(g in gfx for gfx in torch_builds.ROCM_GFX.values())]
        if covered:
            line = ROCM_BY_RELEASE.get(release)
            v.add(
                "suboptimal",
                f"{torch.describe()} is a CPU-only build; this machine has an AMD "
                f"GPU ({', '.join(m.gfx)}) that PyTorch's ROCm builds support",
                f"torch.cuda.is_available() returns False: {_MSG_NOT_COMPILED}",
            )
            v.want_fix(None, line, "suboptimal")
        return
    if m.has_intel and m.os in ("linux", "windows"):
        v.add(
            "suboptimal",
            f"{torch.describe()} is a CPU-only build; this machine has an Intel "
            "GPU that PyTorch's XPU builds support",
            "torch.xpu.is_available() returns False",
        )
        v.want_fix(None, "xpu", "suboptimal")


def _judge_cuda(v: _Verdict, torch: InstalledBuild, release: str, m: _Machine) -> None:
    desc = torch.describe()
    cuda = _v(torch.cuda if torch.cuda and "." in torch.cuda else f"{torch.cuda or 0}.0")
    assert cuda is not None
    if not m.has_nvidia:
        v.add(
            "broken",
            f"{desc} needs an NVIDIA GPU and driver; this machine has none ({_summary(m)})",
            f"torch.cuda.is_available() returns False; CUDA calls raise: {_MSG_NO_DRIVER}",
        )
        v.want_fix(None, _auto_line(release, m), "broken")
        return
    allowed, mvc = driver_allows(cuda, m)
    if not allowed:
        found = (
            f"{m.driver_cuda.major * 1000 + m.driver_cuda.minor * 10}"
            if m.driver_cuda is not None
            else "unknown"
        )
        v.add(
            "broken",
            f"{desc} needs an NVIDIA driver that supports {driver_need(cuda, m)}; "
            f"this machine has {m.driver_phrase()}",
            "torch.cuda.is_available() returns False and the first CUDA call fails: "
            + _MSG_DRIVER_OLD.format(found=found),
        )
        line = best_cuda_line(release, m)
        if line:
            v.want_fix(None, line, "broken")
        else:
            newest = _newest_release_with(m)
            v.want_fix(
                f"torch=={newest[0]}.*" if newest else None,
                newest[1] if newest else "cpu",
                "broken",
            )
        return
    if mvc:
        v.notes.append(
            f"{desc} runs on {m.driver_phrase()} through CUDA minor-version "
            "compatibility: SASS kernels only, no PTX JIT, a limited feature set"
        )
    archs = torch_builds.cuda_archs(release, str(cuda), m.arch) if release else None
    if archs is None:
        v.notes.append(
            f"unknown arch coverage: wheelmagic has no TORCH_CUDA_ARCH_LIST for torch "
            f"{release or torch.version} with CUDA {_mm(cuda)}; it cannot tell whether "
            "the build has kernels for this GPU"
        )
    else:
        uncovered: list[tuple[_Gpu, str]] = []
        for gpu in m.gpus:
            if gpu.cc is None:
                continue
            how = _coverage(gpu.cc, archs, cuda, m)
            if how == "ptx":
                v.notes.append(
                    f"{gpu.name} (compute capability {_cc_str(gpu.cc)}) has no "
                    f"native kernels in {desc}; it runs the PTX, compiled on first use"
                )
            elif how in ("none", "ptx-driver"):
                uncovered.append((gpu, how))
        if uncovered:
            _uncovered(v, torch, release, m, archs, uncovered)
            return
    if torch.variant_properties is not None or not (torch.cuda and "." in torch.cuda):
        return  # a variant build was chosen for this machine; a major-only CUDA can't be ranked
    best = best_cuda_line(release, m)
    own = f"cu{cuda.major}{cuda.minor}"
    if best and _backend_cuda(best) > cuda and own != best:
        v.add(
            "suboptimal",
            f"{desc} uses CUDA {_mm(cuda)}; torch {release} also publishes a CUDA "
            f"{torch_builds.cuda_version(best)} build that this machine "
            f"({m.driver_phrase()}) supports",
        )
        v.want_fix(None, best, "suboptimal")


def _uncovered(
    v: _Verdict,
    torch: InstalledBuild,
    release: str,
    m: _Machine,
    archs: Sequence[str],
    uncovered: Sequence[tuple[_Gpu, str]],
) -> None:
    sms = " ".join(f"sm_{a.split('+')[0].replace('.', '')}" for a in archs)
    lowest = min((c for c in (_cc(a.split("+")[0]) for a in archs) if c), default=None)
    full = torch.full_version
    new_style = Version(release or "0") >= Version("2.14")
    best = best_cuda_line(release, m)
    for gpu, how in uncovered:
        assert gpu.cc is not None
        cc = _cc_str(gpu.cc)
        reason = (
            f"{torch.describe()} has no kernels for GPU{gpu.index} {gpu.name} (compute "
            f"capability {cc}); the build targets {', '.join(archs)}"
        )
        if how == "ptx-driver":
            reason += (
                f", and its PTX needs a driver with CUDA {torch.cuda} or newer "
                f"({m.driver_phrase()})"
            )
            v.add("broken", reason, f"CUDA kernels fail to load: {_MSG_PTX}")
            continue
        if new_style:
            msg = (
                f"Found GPU{gpu.index} {gpu.name} which is of compute capability (CC) {cc}.\n"
                f"Your installed torch=={full} does not include kernels for this GPU. "
            )
            if best:
                msg += (
                    f"Reinstall the same version against a CUDA build that does, e.g.:\n"
                    f"  For CUDA {torch_builds.cuda_version(best)} use pip install "
                    f"torch=={torch.version.public} --index-url "
                    f"{torch_builds.DEFAULT_PYTORCH_INDEX_BASE}/{best}"
                )
            else:
                msg += f"No published PyTorch CUDA builds for release {release} support this GPU."
        elif lowest is not None and gpu.cc < lowest:
            msg = (
                f"Found GPU{gpu.index} {gpu.name} which is of cuda capability {cc}.\n"
                f"    PyTorch no longer supports this GPU because it is too old.\n"
                f"    The minimum cuda capability supported by this library is "
                f"{_cc_str(lowest)}."
            )
        else:
            msg = (
                f"{gpu.name} with CUDA capability sm_{gpu.cc[0]}{gpu.cc[1]} is not compatible "
                f"with the current PyTorch installation.\nThe current PyTorch install supports "
                f"CUDA capabilities {sms}."
            )
        v.add(
            "broken",
            reason,
            f"PyTorch warns when CUDA starts: {msg}",
            f"then every kernel launch fails: {_MSG_NO_KERNEL}",
        )
    if best:
        v.want_fix(None, best, "broken")
        return
    newest = _newest_release_with(m)
    if newest:
        v.reasons.append(
            f"no CUDA build of torch {release} covers {m.gpu_phrase()}; torch "
            f"{newest[0]} with CUDA {torch_builds.cuda_version(newest[1])} does"
        )
        v.want_fix(f"torch=={newest[0]}.*", newest[1], "broken")
    else:
        v.reasons.append(
            f"no published PyTorch CUDA build covers {m.gpu_phrase()} with "
            f"{m.driver_phrase()}; a CPU build is the working choice"
        )
        v.want_fix(None, "cpu", "broken")


def _judge_rocm(v: _Verdict, torch: InstalledBuild, release: str, m: _Machine) -> None:
    desc = torch.describe()
    if not m.has_amd:
        v.add(
            "broken",
            f"{desc} needs an AMD GPU with ROCm; this machine has none ({_summary(m)})",
            "torch.cuda.is_available() returns False: no ROCm device is visible",
        )
        v.want_fix(None, _auto_line(release, m), "broken")
        return
    table = torch_builds.ROCM_GFX.get(f"rocm{torch.rocm}") if torch.rocm else None
    if table is None:
        v.notes.append(
            f"unknown arch coverage: wheelmagic has no gfx list for ROCm "
            f"{torch.rocm or torch.hip}; it cannot tell whether {desc} supports "
            f"{', '.join(m.gfx)}"
        )
        return
    missing = [g for g in m.gfx if g not in table]
    if missing:
        v.add(
            "broken",
            f"{desc} has no code objects for {', '.join(missing)}; the build targets "
            f"{', '.join(table)}",
            f"the first GPU call aborts: {_MSG_HIP}",
        )
        fixes = [
            rocm for rocm, gfx in torch_builds.ROCM_GFX.items() if all(g in gfx for g in m.gfx)
        ]
        v.want_fix(None, fixes[0] if fixes else "cpu", "broken")


def _judge_companion(
    v: _Verdict,
    build: InstalledBuild,
    torch: InstalledBuild,
    m: _Machine,
    supported: SupportedProperties,
) -> None:
    from wheelmagic.installed import torch_pin_accepts

    _judge_variant(v, build, supported, {"torch": torch.full_version})
    failure = (
        f"importing {build.name} or calling its operators fails: {_MSG_NMS}"
        if build.name == "torchvision"
        else f"{build.name} fails to load its compiled extension (undefined symbol or "
        "missing operator errors on import)"
    )
    accepts = torch_pin_accepts(build, torch)
    if accepts is None:
        rel = torch_builds.torch_release(build.name, str(build.version))
        own = torch_builds.torch_release("torch", str(torch.version))
        accepts = None if rel is None else rel == own
        wants = f"torch {rel}" if rel else None
    else:
        wants = f"torch{build.requires_torch}"
    if accepts is False:
        v.add(
            "broken",
            f"{build.describe()} is built for {wants}, but {torch.describe()} is installed",
            failure,
        )
        if v.fix is None:  # torch's own fix, if any, decides the line; companions follow it
            v.want_fix(None, torch.backend, "broken")
        return
    if build.kind in ("unknown",) or torch.kind == "unknown":
        return
    mismatch = build.kind != torch.kind
    if not mismatch and build.kind == "cuda" and build.cuda and torch.cuda:
        mismatch = _same_cuda(build.cuda, torch.cuda) is False
    if not mismatch and build.kind == "rocm" and build.rocm and torch.rocm:
        mismatch = build.rocm != torch.rocm
    if mismatch:
        v.add(
            "broken",
            f"{build.describe()} and {torch.describe()} are different builds; "
            f"{build.name} must be built for the same accelerator line as torch",
            failure,
        )
        if v.fix is None:
            v.want_fix(None, torch.backend, "broken")


def _same_cuda(a: str, b: str) -> bool | None:
    """Compare CUDA versions; a major-only value (`12`) matches any minor of its major."""
    if "." not in a or "." not in b:
        return a.split(".")[0] == b.split(".")[0]
    return _mm(Version(a)) == _mm(Version(b))
