"""The `nvidia` namespace, and the NVIDIA driver facts it (and `pytorch.diagnose`) rests on.

Feature names and value formats follow the WheelNext nvidia provider (research/variants.md §3);
where it is wrong or too narrow we go past it, and say so:

* ``cuda_version_lower_bound`` (wheel needs driver CUDA >= v). Order: the exact values of the
  driver's own major (``M.m … M.0, M``), then the **minor-version-compatibility** (MVC) values
  of that major (``M.(m+1) … M.20``, nearest first) when the KMD meets the major's floor
  (`MVC_FLOORS`), then every lower major ``k.20 … k.0, k`` down to 11. MVC-only values rank
  after exact ones because MVC gives a limited feature set and no PTX JIT; nearest first
  because each step away raises the risk of ``cudaErrorCallRequiresNewerDriver``. So torch
  2.8's cu128 (lb 12.8) is usable on a 535 driver (CUDA 12.2), but cu126 (lb 12.0) is
  preferred there. When only the KMD is known (sysfs / nvidia-smi fallbacks,
  ``UV_CUDA_DRIVER_VERSION``), the major is inferred from the floors and every minor of it is
  MVC-only (uv's rule).
* ``cuda_version_upper_bound`` (wheel needs driver CUDA < v): the reference order
  ``15.20 … 15.0, 15, …, M.20 … M.(m+1)``; only when the CUDA version itself is known.
* ``sm_arch``: per GPU, ``{maj}{k}_real`` for k = minor … 0 (SASS runs on the same major with
  an equal or higher minor; the integrated parts in `INTEGRATED_GPU_CC` only run their own
  SASS), then ``{X}{Y}_virtual`` for every known arch X.Y <= the GPU's capability, highest
  first. The reference lists only ``{maj}0_virtual``; PTX JIT also runs on later majors, so we
  list lower-major virtual archs too. Limitation: PTX also needs driver CUDA >= the build's
  CUDA (no MVC for PTX), which a property cannot express. **Conservative for mixed GPUs:** a
  wheel matches when *one* of its values is supported, so only values that *every* visible GPU
  can run are reported (the intersection). A wheel listing [61_real, 120_real] would serve a
  GTX 1080 Ti + RTX 5090 box but is not offered; `explain()` says so. GPUs below CC 5.0 run
  nothing.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from wheelmagic.platform.model import GpuInfo, NvidiaInfo, Platform
from wheelmagic.providers._numbers import numbers


@dataclass(frozen=True)
class MvcFloor:
    """The lowest kernel-mode driver that runs any minor of one CUDA major (MVC)."""

    linux: str
    windows: str

    def on(self, os_name: str | None) -> str:
        return self.windows if os_name == "windows" else self.linux


#: CUDA major -> its minor-version-compatibility floor. Source: NVIDIA's CUDA Compatibility
#: guide, "Minor Version Compatibility" table (research/detection.md §3.1; uv and ltt agree).
MVC_FLOORS: dict[int, MvcFloor] = {
    13: MvcFloor(linux="580", windows="580"),
    12: MvcFloor(linux="525.60.13", windows="528.33"),
    11: MvcFloor(linux="450.80.02", windows="452.39"),
}

#: Driver branch -> the CUDA version it supports, newest first, for snapshots without the
#: driver's own CUDA number. Source: the driver bundled with each CUDA toolkit (CUDA release
#: notes, "CUDA Toolkit and Corresponding Driver Versions"; research/detection.md §3.1). An
#: estimate: callers say so.
DRIVER_CUDA: tuple[tuple[str, str], ...] = (
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

#: Compute capabilities that exist, for PTX (virtual) values on lower majors. Source: CUDA C
#: Programming Guide, "Compute Capabilities" table.
KNOWN_CC: tuple[tuple[int, int], ...] = (
    (5, 0),
    (5, 2),
    (5, 3),
    (6, 0),
    (6, 1),
    (6, 2),
    (7, 0),
    (7, 2),
    (7, 5),
    (8, 0),
    (8, 6),
    (8, 7),
    (8, 9),
    (9, 0),
    (10, 0),
    (10, 1),
    (10, 3),
    (11, 0),
    (12, 0),
    (12, 1),
)

#: Integrated (Tegra) GPUs: their SASS is not shared with the rest of their major, and they run
#: only SASS built for exactly their capability. Source: PyTorch's DEVICE_REQUIREMENT check
#: (research/detection.md, P-214) and the CUDA binary-compatibility rules.
INTEGRATED_GPU_CC = frozenset({(5, 3), (6, 2), (7, 2), (8, 7), (10, 1), (11, 0)})

_MAX_MINOR = 20
_LOWEST_MAJOR = 11


def mvc_floor(cuda_major: int, os_name: str | None) -> str | None:
    """The KMD that runs every minor of `cuda_major` on `os_name`; None for unknown majors."""
    floor = MVC_FLOORS.get(cuda_major)
    return floor.on(os_name) if floor is not None else None


def cuda_of_driver(driver: str | None) -> str | None:
    """The CUDA version a driver branch supports (`DRIVER_CUDA`), e.g. "535.104.05" -> "12.2"."""
    if not driver:
        return None
    have = numbers(driver)
    for branch, cuda in DRIVER_CUDA:
        if have >= numbers(branch):
            return cuda
    return None


def _mvc_major(driver: str | None, os_name: str | None) -> int | None:
    """The highest CUDA major whose MVC floor the KMD meets."""
    if not driver:
        return None
    for major in sorted(MVC_FLOORS, reverse=True):
        if numbers(driver) >= numbers(MVC_FLOORS[major].on(os_name)):
            return major
    return None


def _major_values(k: int) -> list[str]:
    return [f"{k}.{n}" for n in range(_MAX_MINOR, -1, -1)] + [str(k)]


def cuda_lower_bounds(nv: NvidiaInfo, os_name: str | None = "linux") -> list[str]:
    """`nvidia :: cuda_version_lower_bound` values, best first (see the module docstring)."""
    mvc = _mvc_major(nv.driver_version, os_name)
    if nv.cuda_driver_version:
        major, minor = numbers(nv.cuda_driver_version)[:2]
        out = [f"{major}.{n}" for n in range(minor, -1, -1)] + [str(major)]
        if mvc is not None and mvc >= major:
            out += [f"{major}.{n}" for n in range(minor + 1, _MAX_MINOR + 1)]
    elif mvc is not None:
        major = mvc
        out = [f"{major}.0", str(major)] + [f"{major}.{n}" for n in range(1, _MAX_MINOR + 1)]
    else:
        return []
    for k in range(major - 1, _LOWEST_MAJOR - 1, -1):
        out += _major_values(k)
    return out


def cuda_upper_bounds(nv: NvidiaInfo) -> list[str]:
    """`nvidia :: cuda_version_upper_bound` values (wheel needs driver CUDA < v)."""
    if not nv.cuda_driver_version:
        return []
    major, minor = numbers(nv.cuda_driver_version)[:2]
    out: list[str] = []
    for k in range(max(15, major), major, -1):
        out += _major_values(k)
    out += [f"{major}.{n}" for n in range(_MAX_MINOR, minor, -1)]
    return out


def sm_archs_runnable_on(cc: tuple[int, int]) -> list[str]:
    """The `sm_arch` values one GPU of capability `cc` can run: its SASS archs, then PTX."""
    major, minor = cc
    if major < 5:
        return []
    if cc in INTEGRATED_GPU_CC:
        real = [f"{major}{minor}_real"]
    else:
        real = [
            f"{major}{n}_real" for n in range(minor, -1, -1) if (major, n) not in INTEGRATED_GPU_CC
        ]
    archs = {c for c in KNOWN_CC if c <= cc} | {(major, n) for n in range(minor + 1)}
    virtual = [f"{a}{b}_virtual" for a, b in sorted(archs, reverse=True)]
    return real + virtual


def common_sm_archs(gpus: tuple[GpuInfo, ...]) -> list[str] | None:
    """The sm_arch values every GPU can run, in the first GPU's order; None if any CC is
    unknown."""
    lists = []
    for g in gpus:
        if g.cc is None:
            return None
        lists.append(sm_archs_runnable_on(g.cc))
    if not lists:
        return []
    common = set(lists[0]).intersection(*lists[1:])
    return [v for v in lists[0] if v in common]


def properties(platform: Platform) -> dict[str, list[str]]:
    """feature -> values, best first; {} when no NVIDIA GPU is visible."""
    nv = platform.nvidia
    if nv is None or nv.gpus == ():
        return {}
    feats: dict[str, list[str]] = {}
    if lb := cuda_lower_bounds(nv, platform.os):
        feats["cuda_version_lower_bound"] = lb
    if ub := cuda_upper_bounds(nv):
        feats["cuda_version_upper_bound"] = ub
    if nv.gpus and (sm := common_sm_archs(nv.gpus)):
        feats["sm_arch"] = sm
    return feats


def explain(platform: Platform) -> list[str]:
    """Human lines: what the NVIDIA facts allow, and why something is missing."""
    lines: list[str] = []
    nv = platform.nvidia
    if nv is None:
        return ["NVIDIA: no driver found, so no CUDA build applies"]
    lines.append(
        f"NVIDIA driver {nv.driver_version or 'unknown'}, CUDA {nv.cuda_driver_version or 'unknown'}"
    )
    lb = cuda_lower_bounds(nv, platform.os)
    if nv.cuda_driver_version and lb:
        exact = nv.cuda_driver_version
        major = exact.split(".")[0]
        mvc = [v for v in lb if v.startswith(f"{major}.") and numbers(v) > numbers(exact)]
        text = f"  CUDA builds up to {exact} run fully"
        if mvc:
            text += (
                f"; {major}.x builds up to {mvc[-1]} run through minor-version "
                f"compatibility (limited features, no PTX JIT)"
            )
        lines.append(text)
    elif lb:
        lines.append(
            f"  CUDA version unknown: CUDA {lb[0].split('.')[0]}.x builds assumed "
            "usable through minor-version compatibility (driver floor met)"
        )
    elif nv.driver_version:
        lines.append("  driver too old for any CUDA 11+ build")
    if nv.gpus == ():
        lines.append(
            "  no visible GPU (CUDA_VISIBLE_DEVICES hides them all): no CUDA build applies"
        )
        return lines
    if nv.gpus is None:
        lines.append("  GPUs unknown: builds that declare sm_arch cannot be chosen")
        return lines
    for i, g in enumerate(nv.gpus):
        cc = g.compute_capability or "unknown"
        lines.append(
            f"  GPU{g.index if g.index is not None else i} "
            f"{g.name or 'unnamed'}: compute capability {cc}"
        )
        if g.cc is not None and g.cc < (5, 0):
            lines.append(f"    compute capability {cc} is below 5.0: no CUDA build")
    sm = common_sm_archs(nv.gpus)
    ccs = {g.compute_capability for g in nv.gpus}
    named = ", ".join(f"{g.name or 'GPU'} ({g.compute_capability})" for g in nv.gpus)
    if sm is None:
        lines.append(
            "  a GPU's compute capability is unknown: builds that declare sm_arch cannot be chosen"
        )
    elif len(ccs) > 1 and not sm:
        lines.append(
            f"  mixed GPUs with no common CUDA architecture: {named}; no "
            "single build runs on all of them: hide some with "
            "CUDA_VISIBLE_DEVICES"
        )
    elif len(ccs) > 1 and not any(v.endswith("_real") for v in sm):
        lines.append(
            f"  mixed GPUs: {named}; no SASS architecture runs on all of them, "
            f"only builds with PTX for <= {sm[0].split('_')[0]} (JIT) can serve "
            "every GPU; a build with SASS for each GPU is not offered "
            "(conservative): hide some with CUDA_VISIBLE_DEVICES"
        )
    elif len(ccs) > 1:
        lines.append(f"  mixed GPUs: {named}; only architectures every GPU runs are offered")
    return lines
