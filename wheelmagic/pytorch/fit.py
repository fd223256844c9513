"""Fit levels: what a PyTorch build does on this machine, so that the build that uses the GPU wins.

PEP 825 orders the variants of one release; it cannot say that torch 2.7.1 built for CUDA 11.8
beats 2.9.0 for the CPU on a T4 whose driver is too old for CUDA 12. A *fit level* can, and
`wheelmagic.variants.selection` ranks by it before versions (issue 15):

0. ``uses every accelerator``: every visible GPU has kernels in the build, and the driver runs it;
1. ``serves some accelerators``: some GPUs do (mixed GPUs, or an NVIDIA + AMD machine);
2. ``CPU only``: a CPU build (on macOS arm64 it also drives the Apple GPU through MPS);
3. ``idle``: an accelerated build and no such device here (a CUDA build without NVIDIA);
4. ``broken``: the device is here and the build cannot use it: no kernels for its architecture,
   or a driver too old for its CUDA.

Facts come from the build's (virtual) variant properties and the platform snapshot; NVIDIA's
driver rules are `wheelmagic.providers.nvidia`'s (one place). ROCm: PyTorch's ROCm wheels
bundle their user-space libraries, so the host's ROCm version does not decide the level; the
GPU's gfx target does. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wheelmagic.platform.model import GpuInfo, Platform
from wheelmagic.providers import nvidia
from wheelmagic.providers._numbers import numbers
from wheelmagic.pytorch.backend import Backend
from wheelmagic.variants.properties import Properties
from wheelmagic.variants.selection import Candidate, Fit, FitPolicy

ALL, SOME, CPU_ONLY, IDLE, BROKEN = 0, 1, 2, 3, 4
LEVEL_NAMES: dict[int, str] = {
    ALL: "uses every accelerator",
    SOME: "serves some accelerators",
    CPU_ONLY: "CPU only",
    IDLE: "idle accelerated build",
    BROKEN: "cannot use this machine's GPU",
}
ACCELERATOR_NAMESPACES = ("nvidia", "amd", "intel")


def _fit(level: int, detail: str, hint: str = "", prefer: float = 0.0) -> Fit:
    return Fit(level, LEVEL_NAMES[level], detail, hint, prefer)


def _gpu_name(g: GpuInfo) -> str:
    return g.name or f"GPU (compute capability {g.compute_capability or 'unknown'})"


def _names(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def devices(platform: Platform) -> dict[str, list[str]]:
    """Visible accelerators by namespace: {"nvidia": ["Tesla T4"], "amd": ["gfx942"]}."""
    out: dict[str, list[str]] = {}
    if platform.nvidia is not None and platform.nvidia.gpus:
        out["nvidia"] = [_gpu_name(g) for g in platform.nvidia.gpus]
    if platform.amd is not None and platform.amd.gfx:
        out["amd"] = [f"AMD {gfx}" for gfx in platform.amd.gfx]
    if platform.intel is not None and platform.intel.device_ip:
        out["intel"] = [f"Intel GPU {ip}" for ip in platform.intel.device_ip]
    return out


def fit_policy(platform: Platform) -> FitPolicy:
    """The `FitPolicy` for this machine (hand it to `select` / `select_together`)."""
    present = devices(platform)
    count = sum(len(v) for v in present.values())
    lower_bounds: list[str] = []
    if platform.nvidia is not None:
        lower_bounds = nvidia.cuda_lower_bounds(platform.nvidia, platform.os)

    def judge(cand: Candidate, label: str | None, props: Properties) -> Fit:
        used = [ns for ns in ACCELERATOR_NAMESPACES if ns in props]
        if not used:
            idle = [n for names in present.values() for n in names]
            if platform.apple is not None:
                return _fit(CPU_ONLY, "CPU build; on Apple silicon it also drives the GPU (MPS)")
            if idle:
                return _fit(CPU_ONLY, f"CPU build: leaves your {_names(idle)} idle")
            return _fit(CPU_ONLY, "CPU build")
        served: list[str] = []
        problems: list[Fit] = []
        for ns in used:
            result = _judge_namespace(ns, props[ns], platform, lower_bounds, label)
            if isinstance(result, Fit):
                problems.append(result)
            else:
                served.extend(result)
        if not served:
            return min(problems, key=lambda f: f.level)
        prefer = _prefer(label, props)
        if len(served) == count:
            return _fit(ALL, f"uses your {_names(served)}", prefer=prefer)
        left = [n for names in present.values() for n in names if n not in served]
        return _fit(SOME, f"uses your {_names(served)}, not your {_names(left)}", prefer=prefer)

    return judge


def _judge_namespace(
    ns: str,
    features: Mapping[str, Sequence[str]],
    platform: Platform,
    lower_bounds: Sequence[str],
    label: str | None,
) -> list[str] | Fit:
    """The devices of this namespace a build uses, or the `Fit` saying why none."""
    if ns == "nvidia":
        return _judge_nvidia(features, platform, lower_bounds)
    if ns == "amd":
        gfx = platform.amd.gfx if platform.amd is not None and platform.amd.gfx else ()
        if not gfx:
            return _fit(IDLE, "a ROCm build, and this machine has no AMD GPU")
        built = set(features.get("gfx_arch", ()))
        if not built:
            return [f"AMD {g}" for g in gfx]
        ok = [f"AMD {g}" for g in gfx if g in built]
        if ok:
            return ok
        return _fit(
            BROKEN,
            f"no kernels for your {_names(list(gfx))} (built for {', '.join(sorted(built))})",
        )
    ips = (
        platform.intel.device_ip if platform.intel is not None and platform.intel.device_ip else ()
    )
    if not ips:
        return _fit(IDLE, "an XPU build, and this machine has no Intel GPU")
    built = set(features.get("device_ip", ()))
    ok = [f"Intel GPU {ip}" for ip in ips if not built or ip in built]
    return ok or _fit(BROKEN, f"no kernels for your Intel GPU {_names(list(ips))}")


def _judge_nvidia(
    features: Mapping[str, Sequence[str]], platform: Platform, lower_bounds: Sequence[str]
) -> list[str] | Fit:
    nv = platform.nvidia
    gpus = nv.gpus if nv is not None and nv.gpus else ()
    if nv is None or not gpus:
        return _fit(IDLE, "a CUDA build, and this machine has no NVIDIA GPU")
    needs = list(features.get("cuda_version_lower_bound", ()))
    if needs and not set(needs) & set(lower_bounds):
        return _driver_too_old(
            min(needs, key=numbers), nv.driver_version, nv.cuda_driver_version, platform.os
        )
    archs = set(features.get("sm_arch", ()))
    ok: list[str] = []
    missing: list[str] = []
    for g in gpus:
        if not archs or g.cc is None or archs & set(nvidia.sm_archs_runnable_on(g.cc)):
            ok.append(_gpu_name(g))
        else:
            missing.append(f"{_gpu_name(g)} (sm_{g.cc[0]}{g.cc[1]})")
    if ok:
        return ok
    built = sorted({a.split("_")[0] for a in archs}, key=int)
    return _fit(
        BROKEN,
        f"no kernels for your {_names(missing)}: built for sm_{', sm_'.join(built)}",
    )


def _driver_too_old(need: str, driver: str | None, cuda: str | None, os_name: str | None) -> Fit:
    """Driver 525.60.11 and a CUDA 12.6 build: what is missing, and the driver that would do."""
    major = numbers(need)[0]
    floor = nvidia.mvc_floor(major, os_name)
    have = f"driver {driver or 'unknown'}" + (f" (CUDA {cuda})" if cuda else "")
    detail = f"its CUDA {need} needs a newer driver than {have}"
    if floor:
        detail += f"; CUDA {major} needs >= {floor}"
        return _fit(BROKEN, detail, f"update the NVIDIA driver to >= {floor}")
    return _fit(BROKEN, detail, f"update the NVIDIA driver to one that supports CUDA {need}")


def _prefer(label: str | None, props: Properties) -> float:
    """Tie-break after the PEP 825 order: the newer ROCm of builds that differ in nothing else
    (per-backend ROCm wheels declare only their gfx targets)."""
    backend = Backend.parse(label)
    if backend is not None and backend.kind == "rocm":
        v = (*backend.version, 0)
        return -float(v[0] * 10000 + v[1] * 100 + v[2])
    return 0.0
