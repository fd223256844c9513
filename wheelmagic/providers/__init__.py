"""Built-in variant providers: `Platform` -> supported properties, best first. Pure: no I/O.

Feature names and value formats follow the WheelNext providers (research/variants.md §3);
no code from an index ever runs. Where the reference providers are wrong or too narrow we go
past them, and say so here:

* ``nvidia :: cuda_version_lower_bound`` (wheel needs driver CUDA >= v). Order: the exact
  values of the driver's own major (``M.m … M.0, M``), then the **minor-version-compatibility**
  (MVC) values of that major (``M.(m+1) … M.20``, nearest first) when the KMD meets the major's
  floor (12.x: 525.60.13 Linux / 528.33 Windows; 13.x: 580; 11.x: 450.80.02 / 452.39), then
  every lower major ``k.20 … k.0, k`` down to 11. MVC-only values rank after exact ones because
  MVC gives a limited feature set and no PTX JIT; nearest first because each step away raises the
  risk of ``cudaErrorCallRequiresNewerDriver``. So torch 2.8's cu128 (lb 12.8) is usable on a
  535 driver (CUDA 12.2), but cu126 (lb 12.0) is preferred there. When only the KMD is known
  (sysfs / nvidia-smi fallbacks, ``UV_CUDA_DRIVER_VERSION``), the major is inferred from the
  floors and every minor of it is MVC-only (uv's rule).
* ``nvidia :: cuda_version_upper_bound`` (wheel needs driver CUDA < v): the reference order
  ``15.20 … 15.0, 15, …, M.20 … M.(m+1)``; only when the CUDA version itself is known.
* ``nvidia :: sm_arch``: per GPU, ``{maj}{k}_real`` for k = minor … 0 (SASS runs on the same
  major with an equal or higher minor; the iGPU parts 5.3, 6.2, 7.2, 8.7, 10.1, 11.0 only run
  their own SASS), then ``{X}{Y}_virtual`` for every known arch X.Y <= the GPU's capability,
  highest first. The reference lists only ``{maj}0_virtual``; PTX JIT also runs on later majors,
  so we list lower-major virtual archs too. Limitation: PTX also needs driver CUDA >= the build's
  CUDA (no MVC for PTX), which a property cannot express. **Conservative for mixed GPUs:** a
  wheel matches when *one* of its values is supported, so only values that *every* visible GPU
  can run are reported (the intersection). A wheel listing [61_real, 120_real] would serve a GTX
  1080 Ti + RTX 5090 box but is not offered; `explain()` says so. GPUs below CC 5.0 run nothing.
* ``x86_64 :: level`` ``vN … v1`` and per-flag features ``on``; ``aarch64 :: version`` host
  generic then ancestors (capped at 9.0a) and flags ``on``: as provider-variant-x86-64/-aarch64.
* ``amd :: gfx_arch`` detected, sorted; ``amd :: rocm_version`` exactly the detected maj.min.
* ``intel :: device_ip`` detected, then the base compatible IP the reference adds.
"""

from __future__ import annotations

import re

from wheelmagic.platform.model import GpuInfo, NvidiaInfo, Platform

__all__ = [
    "explain",
    "supported_properties",
    "cuda_lower_bounds",
    "cuda_upper_bounds",
    "sm_arch_values",
    "AARCH64_VERSIONS",
    "MVC_FLOORS",
]

#: the lowest KMD for minor-version compatibility within a CUDA major: (Linux, Windows).
MVC_FLOORS: dict[int, tuple[str, str]] = {
    13: ("580", "580"),
    12: ("525.60.13", "528.33"),
    11: ("450.80.02", "452.39"),
}
_MAX_MINOR = 20
_LOWEST_MAJOR = 11

#: archspec's generic aarch64 chain, newest first (armv9.0a's parent is armv8.5a).
AARCH64_VERSIONS = ("9.0a", "8.5a", "8.4a", "8.3a", "8.2a", "8.1a", "8a")

#: compute capabilities that exist, for PTX (virtual) values on lower majors.
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
#: integrated (Tegra) parts whose SASS is not shared with the rest of their major.
IGPU_CC = frozenset({(5, 3), (6, 2), (7, 2), (8, 7), (10, 1), (11, 0)})

#: Intel device IP -> the base IP it is also compatible with (intel-variant-provider).
INTEL_COMPAT_IP: dict[str, str] = {"30.1.0": "30.0.4"}


def _ver(text: str) -> tuple[int, ...]:
    """ "580.65.06" -> (580, 65, 6); "9.2a" -> (9, 2)."""
    return tuple(int(m) for m in re.findall(r"\d+", text))


def _mvc_major(driver: str | None, os_name: str | None) -> int | None:
    """The highest CUDA major whose MVC floor the KMD meets."""
    if not driver:
        return None
    col = 1 if os_name == "windows" else 0
    for major in sorted(MVC_FLOORS, reverse=True):
        if _ver(driver) >= _ver(MVC_FLOORS[major][col]):
            return major
    return None


def _major_values(k: int) -> list[str]:
    return [f"{k}.{n}" for n in range(_MAX_MINOR, -1, -1)] + [str(k)]


def cuda_lower_bounds(nv: NvidiaInfo, os_name: str | None = "linux") -> list[str]:
    """`nvidia :: cuda_version_lower_bound` values, best first (see the module docstring)."""
    mvc = _mvc_major(nv.driver_version, os_name)
    if nv.cuda_driver_version:
        major, minor = _ver(nv.cuda_driver_version)[:2]
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
    major, minor = _ver(nv.cuda_driver_version)[:2]
    out: list[str] = []
    for k in range(max(15, major), major, -1):
        out += _major_values(k)
    out += [f"{major}.{n}" for n in range(_MAX_MINOR, minor, -1)]
    return out


def sm_arch_values(cc: tuple[int, int]) -> list[str]:
    """What one GPU of capability `cc` can run: its SASS archs, then PTX archs."""
    major, minor = cc
    if major < 5:
        return []
    if cc in IGPU_CC:
        real = [f"{major}{minor}_real"]
    else:
        real = [f"{major}{n}_real" for n in range(minor, -1, -1) if (major, n) not in IGPU_CC]
    archs = {c for c in KNOWN_CC if c <= cc} | {(major, n) for n in range(minor + 1)}
    virtual = [f"{a}{b}_virtual" for a, b in sorted(archs, reverse=True)]
    return real + virtual


def _gpu_values(gpus: tuple[GpuInfo, ...]) -> list[str] | None:
    """The sm_arch values every GPU can run, in the first GPU's order; None if any CC is
    unknown."""
    lists = []
    for g in gpus:
        if g.cc is None:
            return None
        lists.append(sm_arch_values(g.cc))
    if not lists:
        return []
    common = set(lists[0]).intersection(*lists[1:])
    return [v for v in lists[0] if v in common]


def supported_properties(platform: Platform) -> dict[str, dict[str, list[str]]]:
    """namespace -> feature -> values, best first; only namespaces that apply."""
    out: dict[str, dict[str, list[str]]] = {}
    nv = platform.nvidia
    if nv is not None and nv.gpus != ():
        feats: dict[str, list[str]] = {}
        if lb := cuda_lower_bounds(nv, platform.os):
            feats["cuda_version_lower_bound"] = lb
        if ub := cuda_upper_bounds(nv):
            feats["cuda_version_upper_bound"] = ub
        if nv.gpus and (sm := _gpu_values(nv.gpus)):
            feats["sm_arch"] = sm
        if feats:
            out["nvidia"] = feats
    cpu = platform.cpu
    if cpu is not None and cpu.x86_64_level and platform.arch in (None, "x86_64"):
        x86 = {"level": [f"v{n}" for n in range(min(cpu.x86_64_level, 4), 0, -1)]}
        x86.update({f: ["on"] for f in cpu.features or ()})
        out["x86_64"] = x86
    if cpu is not None and cpu.aarch64_version and platform.arch in (None, "aarch64"):
        version = cpu.aarch64_version
        if version not in AARCH64_VERSIONS:  # newer than 9.0a: cap as the reference does
            version = AARCH64_VERSIONS[0] if _ver(version) > (9, 0) else "8a"
        arm = {"version": list(AARCH64_VERSIONS[AARCH64_VERSIONS.index(version) :])}
        arm.update({f: ["on"] for f in cpu.features or ()})
        out["aarch64"] = arm
    amd = platform.amd
    if amd is not None and (amd.gfx or amd.rocm_version):
        feats = {}
        if amd.gfx:
            feats["gfx_arch"] = sorted(amd.gfx)
        if amd.rocm_version:
            feats["rocm_version"] = [amd.rocm_version]
        out["amd"] = feats
    intel = platform.intel
    if intel is not None and intel.device_ip:
        ips: list[str] = []
        for ip in intel.device_ip:
            for v in (ip, INTEL_COMPAT_IP.get(ip)):
                if v and v not in ips:
                    ips.append(v)
        out["intel"] = {"device_ip": ips}
    return out


def explain(platform: Platform) -> list[str]:
    """Human lines: what the providers make of the platform, and why something is missing."""
    lines: list[str] = []
    nv = platform.nvidia
    if nv is None:
        lines.append("NVIDIA: no driver found, so no CUDA build applies")
    else:
        lines.append(
            f"NVIDIA driver {nv.driver_version or 'unknown'}, CUDA "
            f"{nv.cuda_driver_version or 'unknown'}"
        )
        lb = cuda_lower_bounds(nv, platform.os)
        if nv.cuda_driver_version and lb:
            exact = nv.cuda_driver_version
            major = exact.split(".")[0]
            mvc = [v for v in lb if v.startswith(f"{major}.") and _ver(v) > _ver(exact)]
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
        elif nv.gpus is None:
            lines.append("  GPUs unknown: builds that declare sm_arch cannot be chosen")
        else:
            for i, g in enumerate(nv.gpus):
                cc = g.compute_capability or "unknown"
                lines.append(
                    f"  GPU{g.index if g.index is not None else i} "
                    f"{g.name or 'unnamed'}: compute capability {cc}"
                )
                if g.cc is not None and g.cc < (5, 0):
                    lines.append(f"    compute capability {cc} is below 5.0: no CUDA build")
            sm = _gpu_values(nv.gpus)
            ccs = {g.compute_capability for g in nv.gpus}
            named = ", ".join(f"{g.name or 'GPU'} ({g.compute_capability})" for g in nv.gpus)
            if sm is None:
                lines.append(
                    "  a GPU's compute capability is unknown: builds that declare "
                    "sm_arch cannot be chosen"
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
                lines.append(
                    f"  mixed GPUs: {named}; only architectures every GPU runs are offered"
                )
    if platform.amd is not None and platform.amd.gfx:
        rocm = platform.amd.rocm_version
        lines.append(
            f"AMD {', '.join(platform.amd.gfx)}, ROCm {rocm or 'not installed'}"
            + ("" if rocm else ": builds that declare rocm_version cannot be chosen")
        )
    if platform.intel is not None and platform.intel.device_ip:
        lines.append(f"Intel GPU device IP {', '.join(platform.intel.device_ip)}")
    if platform.apple is not None:
        v = platform.apple.macos_version or "?"
        ok = bool(v != "?" and _ver(v) >= (12, 3))
        lines.append(
            f"Apple silicon, macOS {v}: "
            + ("MPS is in the default macOS wheel" if ok else "MPS needs macOS 12.3+")
        )
    cpu = platform.cpu
    if cpu is not None and cpu.x86_64_level:
        lines.append(f"CPU: x86-64-v{cpu.x86_64_level}")
    elif cpu is not None and cpu.aarch64_version:
        lines.append(f"CPU: armv{cpu.aarch64_version}")
    return lines
