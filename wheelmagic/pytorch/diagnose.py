"""Installed build vs this machine: does it fit, and if not, what PyTorch will say and the fix.

Pure: every input is data (`InstalledBuild`s, a `Platform` snapshot, the providers' supported
properties); nothing here reads files, the environment or the clock. The rules and the exact
PyTorch messages come from shared/research/detection.md §3 (driver floors and the driver->CUDA
table in `wheelmagic.providers.nvidia`, the SASS/PTX rule, TORCH_CUDA_ARCH_LIST tables in
`wheelmagic.pytorch.facts`) and §3.4 (messages). The verdict carries a `Fix` value; front ends
render it (`Fix.command()`, `Fix.magic()`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelmagic.platform.model import Platform
from wheelmagic.providers import PROVIDER_NAMESPACES
from wheelmagic.providers.nvidia import INTEGRATED_GPU_CC, cuda_of_driver, mvc_floor
from wheelmagic.pytorch import facts
from wheelmagic.pytorch.backend import CPU, XPU, Backend
from wheelmagic.pytorch.companions import companion_series, companion_version, torch_pin_accepts
from wheelmagic.variants.ordering import SupportedProperties, check_compatible, resolve_supported

if TYPE_CHECKING:
    from wheelmagic.installed import Builds, InstalledBuild

Status = Literal["fits", "suboptimal", "broken", "not-installed"]

#: Exit status of `wheelmagic doctor` per verdict.
EXIT_CODES: dict[str, int] = {"fits": 0, "suboptimal": 1, "broken": 2, "not-installed": 3}
_SEVERITY: dict[str, int] = {"fits": 0, "suboptimal": 1, "broken": 2, "not-installed": 3}

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


@dataclass(frozen=True)
class Fix:
    """What to install to repair the environment: a value, rendered by front ends."""

    requirements: tuple[str, ...]
    #: `--variant` of the fix (a per-backend name, `cu130`), when one accelerator line is needed
    variant: str | None = None
    #: install even what looks installed already (`--reinstall`)
    reinstall: bool = False

    def _arguments(self) -> str:
        tail = f" --variant {self.variant}" if self.variant else ""
        return " ".join(self.requirements) + tail + (" --reinstall" if self.reinstall else "")

    def command(self) -> str:
        """`wheelmagic install torch==2.14.1 --variant cu130`"""
        return f"wheelmagic install {self._arguments()}"

    def magic(self) -> str:
        """`%variant_install torch==2.14.1 --variant cu130`"""
        return f"%variant_install {self._arguments()}"


@dataclass
class Diagnosis:
    """The verdict on what is installed, why, what PyTorch will say, and the fix."""

    status: Status
    reasons: list[str] = field(default_factory=list)
    #: the error or warning PyTorch will give: plain words, then its verbatim text
    predicted: list[str] = field(default_factory=list)
    fix: Fix | None = None
    #: things worth knowing that do not change the verdict (unknown arch coverage, MVC)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, str | list[str] | None]:
        """The `doctor --json` document (keys fixed: other tools read them)."""
        fix = self.fix
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "predicted": list(self.predicted),
            "fix_command": fix.command() if fix else None,
            "fix_magic": fix.magic() if fix else None,
            "fix_requirements": list(fix.requirements) if fix else [],
            "fix_variant": fix.variant if fix else None,
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


def _arch_cc(item: str) -> tuple[int, int] | None:
    """A TORCH_CUDA_ARCH_LIST entry's capability: `"8.6"` or `"12.0+PTX"` -> (8, 6) / (12, 0)."""
    major, _, minor = item.partition("+")[0].partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def _cc_str(cc: tuple[int, int]) -> str:
    return f"{cc[0]}.{cc[1]}"


def _mm(version: Version) -> str:
    return f"{version.major}.{version.minor}"


def _cuda(backend: Backend) -> Version:
    """A CUDA backend's version, for comparing with the driver's."""
    return Version(backend.version_text)


# ---------------------------------------------------------------------------------------
# what the platform says, in the terms the rules below use


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


def _machine(platform: Platform, supported: SupportedProperties) -> _Machine:
    nv = platform.nvidia
    driver_text = nv.driver_version if nv is not None else None
    driver = _v(driver_text)
    driver_cuda = _v(nv.cuda_driver_version) if nv is not None else None
    estimated = False
    if driver_cuda is None and driver is not None:
        driver_cuda, estimated = _v(cuda_of_driver(driver_text)), True
    gpus = tuple(
        _Gpu(g.index if g.index is not None else i, g.name or f"GPU{i}", g.cc)
        for i, g in enumerate(nv.gpus or () if nv is not None else ())
    )
    amd = platform.amd
    gfx = tuple(dict.fromkeys(amd.gfx)) if amd is not None and amd.gfx else ()
    if not gfx:
        gfx = tuple(supported.get("amd", {}).get("gfx_arch", ()))
    intel = platform.intel
    has_intel = bool(supported.get("intel", {}).get("device_ip")) or bool(
        intel is not None and intel.device_ip
    )
    os_name = (platform.os or "linux").lower()
    return _Machine(
        os="windows" if os_name.startswith("win") else os_name,
        arch=platform.arch or "x86_64",
        has_nvidia=nv is not None and (driver is not None or bool(gpus)),
        driver=driver,
        driver_text=driver_text,
        driver_cuda=driver_cuda,
        driver_cuda_estimated=estimated,
        gpus=gpus,
        gfx=gfx,
        rocm=amd.rocm_version if amd is not None else None,
        has_amd=bool(gfx),
        has_intel=has_intel,
        is_apple=platform.apple is not None,
    )


# ---------------------------------------------------------------------------------------
# the CUDA rules


def driver_allows(build_cuda: Version, m: _Machine) -> tuple[bool, bool]:
    """(allowed, only through minor-version compatibility) for a CUDA X.Y build."""
    if not m.has_nvidia:
        return False, False
    if m.driver_cuda is not None and m.driver_cuda >= Version(_mm(build_cuda)):
        return True, False
    floor = mvc_floor(build_cuda.major, m.os)
    same_major = m.driver_cuda is None or m.driver_cuda.major == build_cuda.major
    if floor and m.driver is not None and m.driver >= Version(floor) and same_major:
        return True, True
    # A newer major driver runs older-major builds (backward compatibility).
    if m.driver_cuda is not None and m.driver_cuda.major > build_cuda.major:
        return True, False
    return False, False


def driver_need(build_cuda: Version, m: _Machine) -> str:
    floor = mvc_floor(build_cuda.major, m.os)
    return f"CUDA {_mm(build_cuda)}" + (f" (>= {floor})" if floor else "")


def _coverage(
    cc: tuple[int, int], archs: Sequence[str], build_cuda: Version, m: _Machine
) -> Literal["sass", "ptx", "ptx-driver", "none"]:
    """How a GPU runs a build: its own SASS, JIT from PTX, PTX the driver cannot JIT, or not."""
    parsed: list[tuple[tuple[int, int], bool]] = []
    for item in archs:
        c = _arch_cc(item)
        if c is not None:
            parsed.append((c, item.partition("+")[2].upper() == "PTX"))
    for c, _ in parsed:
        if cc in INTEGRATED_GPU_CC or c in INTEGRATED_GPU_CC:
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
    backend: Backend
    archs: tuple[str, ...] | None
    allowed: bool
    mvc: bool
    uncovered: tuple[tuple[_Gpu, str], ...]

    @property
    def works(self) -> bool:
        return self.allowed and not self.uncovered


def _check_line(release: str, backend: Backend, m: _Machine) -> _LineCheck:
    cuda = _cuda(backend)
    archs = facts.cuda_archs(release, backend, m.arch)
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


def best_cuda_line(release: str, m: _Machine) -> Backend | None:
    """The CUDA line to recommend for `release` on this machine.

    Prefers lines the driver supports outright (no MVC caveats, §7.3); falls back to lines
    that run only through minor-version compatibility (a 535 driver and a cu126 build).
    """
    if not m.has_nvidia:
        return None
    checks = [_check_line(release, cu, m) for cu in facts.cuda_lines(release, m.arch)]
    strict = [c for c in checks if c.works and not c.mvc]
    if strict:
        return strict[0].backend
    relaxed = [c for c in checks if c.works]
    return relaxed[0].backend if relaxed else None


def _newest_release_with(m: _Machine) -> tuple[str, Backend] | None:
    releases = sorted({rel for rel, _ in facts.CUDA_ARCH_LISTS}, key=Version, reverse=True)
    for rel in releases:
        line = best_cuda_line(rel, m)
        if line:
            return rel, line
    return None


# ---------------------------------------------------------------------------------------
# fixes


def _fix(torch_req: str, companions: Sequence[str], line: Backend | None) -> Fix:
    return Fix((torch_req, *companions), line.index_name if line is not None else None)


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
            series = companion_series(name, release)
            pinned = f"{name}=={series}" if series else None
        elif torch_version is not None:
            ver = companion_version(name, torch_version)
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
        #: (torch requirement or None for "same release", the line to move to or None)
        self.fix: tuple[str | None, Backend | None] | None = None
        self._fix_status: Status = "fits"

    def add(self, status: Status, reason: str, *predicted: str) -> None:
        if _SEVERITY[status] > _SEVERITY[self.status]:
            self.status = status
        self.reasons.append(reason)
        for p in predicted:
            if p not in self.predicted:
                self.predicted.append(p)

    def want_fix(self, torch_req: str | None, variant: Backend | None, status: Status) -> None:
        # The fix for the worst problem wins; among equals, the first that names a line.
        worse = _SEVERITY[status] > _SEVERITY[self._fix_status]
        vaguer = status == self._fix_status and self.fix is not None and self.fix[1] is None
        if self.fix is None or worse or (vaguer and variant is not None):
            self.fix = (torch_req, variant)
            self._fix_status = status


def diagnose(
    installed: Builds,
    platform: Platform,
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
        diag.fix = _fix("torch", _companion_reqs(builds, None), None)
        return diag

    v = _Verdict()
    release = facts.torch_release("torch", str(torch.version)) or ""
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
    diag.fix = _fix(torch_req, companions, variant)
    return diag


def _summary(m: _Machine) -> str:
    """The accelerators in a reason's words ("NVIDIA driver 580.95.05 (CUDA 13.0); ...")."""
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
        # static namespaces (PyTorch's `priority`) and abi_dependency come from the metadata;
        # a hardware namespace is answered by our providers only, whatever the file claims
        supported = resolve_supported(
            build.variant_metadata, supported, abi_versions=abi, provided=PROVIDER_NAMESPACES
        )
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


def _auto_line(release: str, m: _Machine) -> Backend:
    """The line a reinstall should take on this machine: best CUDA, ROCm, XPU, else cpu."""
    if m.has_nvidia:
        line = best_cuda_line(release, m)
        if line:
            return line
    rocm = Backend.parse(facts.ROCM_BY_RELEASE.get(release))
    if m.has_amd and rocm is not None:
        return rocm
    if m.has_intel:
        return XPU
    return CPU


def _judge_cpu(v: _Verdict, torch: InstalledBuild, release: str, m: _Machine) -> None:
    if m.has_nvidia and m.gpus:
        line = best_cuda_line(release, m)
        if line:
            v.add(
                "suboptimal",
                f"{torch.describe()} is a CPU-only build; this machine has "
                f"{m.gpu_phrase()} with {m.driver_phrase()}, and torch {release} publishes a "
                f"CUDA {line.version_text} build that runs on it",
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
        covered = [g for g in m.gfx if any(g in gfx for gfx in facts.ROCM_GFX.values())]
        if covered:
            line = Backend.parse(facts.ROCM_BY_RELEASE.get(release))
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
        v.want_fix(None, XPU, "suboptimal")


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
                newest[1] if newest else CPU,
                "broken",
            )
        return
    if mvc:
        v.notes.append(
            f"{desc} runs on {m.driver_phrase()} through CUDA minor-version "
            "compatibility: SASS kernels only, no PTX JIT, a limited feature set"
        )
    line = Backend.cuda(_mm(cuda))
    archs = facts.cuda_archs(release, line, m.arch) if release and line else None
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
    if best and _cuda(best) > cuda and best != line:
        v.add(
            "suboptimal",
            f"{desc} uses CUDA {_mm(cuda)}; torch {release} also publishes a CUDA "
            f"{best.version_text} build that this machine "
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
    lowest = min((c for c in map(_arch_cc, archs) if c), default=None)
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
                    f"  For CUDA {best.version_text} use pip install "
                    f"torch=={torch.version.public} --index-url "
                    f"{facts.DEFAULT_PYTORCH_INDEX_BASE}/{best.index_name}"
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
            f"{newest[0]} with CUDA {newest[1].version_text} does"
        )
        v.want_fix(f"torch=={newest[0]}.*", newest[1], "broken")
    else:
        v.reasons.append(
            f"no published PyTorch CUDA build covers {m.gpu_phrase()} with "
            f"{m.driver_phrase()}; a CPU build is the working choice"
        )
        v.want_fix(None, CPU, "broken")


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
    own = torch.backend
    table = facts.ROCM_GFX.get(own.index_name) if own is not None else None
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
        fixes = [rocm for rocm, gfx in facts.ROCM_GFX.items() if all(g in gfx for g in m.gfx)]
        v.want_fix(None, Backend.parse(fixes[0]) if fixes else CPU, "broken")


def _judge_companion(
    v: _Verdict,
    build: InstalledBuild,
    torch: InstalledBuild,
    m: _Machine,
    supported: SupportedProperties,
) -> None:
    _judge_variant(v, build, supported, {"torch": torch.full_version})
    failure = (
        f"importing {build.name} or calling its operators fails: {_MSG_NMS}"
        if build.name == "torchvision"
        else f"{build.name} fails to load its compiled extension (undefined symbol or "
        "missing operator errors on import)"
    )
    accepts = torch_pin_accepts(build, torch)
    if accepts is None:
        rel = facts.torch_release(build.name, str(build.version))
        own = facts.torch_release("torch", str(torch.version))
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
    if build.kind == "unknown" or torch.kind == "unknown":
        return
    if not _same_line(build, torch):
        v.add(
            "broken",
            f"{build.describe()} and {torch.describe()} are different builds; "
            f"{build.name} must be built for the same accelerator line as torch",
            failure,
        )
        if v.fix is None:
            v.want_fix(None, torch.backend, "broken")


def _same_line(a: InstalledBuild, b: InstalledBuild) -> bool:
    """Whether two builds are for the same accelerator line, as far as their facts say.

    A major-only CUDA (`12`, from `nvidia-*-cu12` requirements) matches any minor of its major.
    """
    if a.kind != b.kind:
        return False
    if a.kind == "cuda" and a.cuda and b.cuda:
        if a.backend is None or b.backend is None:
            return a.cuda.split(".")[0] == b.cuda.split(".")[0]
        return a.backend == b.backend
    if a.kind == "rocm" and a.rocm and b.rocm:
        return a.rocm == b.rocm
    return True
