"""How numbers and the platform read to a person: one byte format, one ETA, one platform line.

Every front end prints bytes with `human_bytes` (binary units, the way pip and the notebook bar
show wheel sizes) and describes a machine with `platform_summary` (one line) or `platform_rows`
(a table), so the CLI, the magics and the hook never disagree on how a fact reads.
Pure: strings from values, nothing read from the machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing wheelmagic.platform runs its probes' imports; types only
    from wheelmagic.platform.model import CpuInfo, GpuInfo, Platform


def human_bytes(n: float | None) -> str:
    """1536 -> '1.5 KiB'; None -> '?'. Binary units, one decimal above bytes."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover (the loop returns at GiB)


def human_eta(seconds: float | None) -> str:
    """65 -> '01:05', 3725 -> '1:02:05'; unknown (None, negative, NaN) -> '--:--'."""
    if seconds is None or seconds < 0 or seconds != seconds:
        return "--:--"
    s = int(seconds + 0.5)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
        if s >= 3600
        else f"{s // 60:02d}:{s % 60:02d}"
    )


def _cpu_level(cpu: CpuInfo | None) -> str:
    """'x86-64-v4' or 'armv9.0a'; '' when unknown."""
    if cpu is None:
        return ""
    if cpu.x86_64_level:
        return f"x86-64-v{cpu.x86_64_level}"
    if cpu.aarch64_version:
        return f"armv{cpu.aarch64_version}"
    return ""


def platform_summary(platform: Platform) -> str:
    """One line: the accelerators found, else 'no GPU found', then `[os arch cpu-level]`.

    `NVIDIA driver 580.159.04 (CUDA 13.0): NVIDIA H100 80GB HBM3 (CC 9.0) [linux x86_64
    x86-64-v4]`. Used by `wheelmagic detect`, `wheelmagic doctor` and the plan's header.
    """
    parts: list[str] = []
    nv = platform.nvidia
    if nv is not None:
        text = f"NVIDIA driver {nv.driver_version or '?'}"
        if nv.cuda_driver_version:
            text += f" (CUDA {nv.cuda_driver_version})"
        if nv.gpus is not None:
            gpus = ", ".join(
                f"{g.name or 'GPU'} (CC {g.compute_capability or '?'})" for g in nv.gpus
            )
            text += f": {gpus or 'no visible GPU'}"
        parts.append(text)
    amd = platform.amd
    if amd is not None and amd.gfx:
        text = f"AMD {', '.join(amd.gfx)}"
        if amd.rocm_version:
            text += f" (ROCm {amd.rocm_version})"
        parts.append(text)
    intel = platform.intel
    if intel is not None and intel.device_ip:
        parts.append(f"Intel GPU (device IP {', '.join(intel.device_ip)})")
    if platform.apple is not None:
        parts.append(f"Apple silicon macOS {platform.apple.macos_version or '?'} (MPS)")
    if not parts:
        parts.append("no GPU found")
    where = " ".join(x for x in (platform.os, platform.arch, _cpu_level(platform.cpu)) if x)
    return "; ".join(parts) + (f" [{where}]" if where else "")


def _gpu_line(gpu: GpuInfo) -> str:
    bits = [gpu.name or "GPU"]
    if gpu.compute_capability:
        bits.append(f"compute capability {gpu.compute_capability}")
    if gpu.memory_bytes:
        bits.append(human_bytes(gpu.memory_bytes))
    if gpu.mig:
        bits.append("MIG")
    return ", ".join(bits)


def platform_rows(platform: Platform) -> list[tuple[str, str]]:
    """(label, value) rows: machine, driver, one row per GPU, other accelerators.

    The table `%variant_detect` and `%variant_doctor` show; where each fact came from
    (`platform.sources`) is left to `wheelmagic detect`.
    """
    rows: list[tuple[str, str]] = []
    machine = " ".join(x for x in (platform.os, platform.arch) if x)
    level = _cpu_level(platform.cpu)
    if machine or level:
        rows.append(("machine", ", ".join(x for x in (machine, level) if x)))
    nv = platform.nvidia
    if nv is not None:
        cuda = f" (supports CUDA {nv.cuda_driver_version})" if nv.cuda_driver_version else ""
        rows.append(("NVIDIA driver", f"{nv.driver_version or '?'}{cuda}"))
        for i, gpu in enumerate(nv.gpus or ()):
            rows.append((f"GPU {gpu.index if gpu.index is not None else i}", _gpu_line(gpu)))
        if nv.gpus == ():
            rows.append(("GPU", "none visible"))
    if platform.amd is not None:
        rocm = f" (ROCm {platform.amd.rocm_version})" if platform.amd.rocm_version else ""
        rows.append(("AMD GPU", ", ".join(platform.amd.gfx or ("?",)) + rocm))
    if platform.intel is not None:
        rows.append(("Intel GPU", "device IP " + ", ".join(platform.intel.device_ip or ("?",))))
    if platform.apple is not None:
        rows.append(("Apple", f"macOS {platform.apple.macos_version or '?'} (MPS)"))
    if (platform.nvidia, platform.amd, platform.intel, platform.apple) == (None,) * 4:
        rows.append(("GPU", "none found"))
    if platform.description:
        rows.append(("snapshot", platform.description))
    return rows
