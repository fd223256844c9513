"""Detection: ask the machine (through `Probes`) and build a `Platform` snapshot.

Order for NVIDIA, most exact first (research/detection.md §7): NVML (KMD, CUDA int, per-GPU
name/CC/memory/UUID/MIG) -> libcuda in a child process (CUDA int, per-GPU CC) -> the KMD from
`/sys/module/nvidia/version` -> `/proc/driver/nvidia/version` -> `nvidia-smi --query-gpu`
(all lines) -> the WSL2 library directory. Subprocesses run only when NVML fails, always with a
timeout. Nothing here raises: every failure becomes a reason in `Platform.sources`.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from wheelmagic.platform.model import (
    AmdInfo,
    AppleInfo,
    CpuInfo,
    GpuInfo,
    IntelInfo,
    NvidiaInfo,
    Platform,
)
from wheelmagic.platform.probes import WSL_LIB_DIR, Probes

SUBPROCESS_TIMEOUT = 10.0
NVIDIA_SMI_FIELDS = "index,name,uuid,driver_version,compute_cap,memory.total"

#: x86-64 psABI levels as archspec defines them (x86_64_v2..v4), in /proc/cpuinfo flag names;
#: tests check these against archspec's data.
X86_LEVEL_FLAGS: dict[int, frozenset[str]] = {
    2: frozenset({"cx16", "lahf_lm", "popcnt", "sse3", "sse4_1", "sse4_2", "ssse3"}),
    3: frozenset({"abm", "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"}),
    4: frozenset({"avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl"}),
}

#: the flags the WheelNext x86-64 provider reports (provider-variant-x86-64 `all_features`,
#: archspec names), in its preference order.
X86_FEATURES: tuple[str, ...] = (
    "avx_vnni",
    "cppc",
    "ibrs_enhanced",
    "tsc_adjust",
    "flush_l1d",
    "movdir64b",
    "movdiri",
    "avx512_bf16",
    "avx512_bitalg",
    "avx512_vbmi2",
    "avx512_vnni",
    "avx512_vp2intersect",
    "avx512_vpopcntdq",
    "avx512ifma",
    "avx512vbmi",
    "rdpid",
    "sha_ni",
    "vaes",
    "vpclmulqdq",
    "clwb",
    "clzero",
    "avx512bw",
    "avx512cd",
    "avx512dq",
    "avx512f",
    "avx512vl",
    "clflushopt",
    "gfni",
    "rdseed",
    "xsavec",
    "xsaveopt",
    "adx",
    "avx2",
    "avx",
    "bmi2",
    "bmi1",
    "abm",
    "f16c",
    "fma",
    "movbe",
    "xsave",
    "rdrand",
    "aes",
    "pclmulqdq",
    "sse4a",
    "fsgsbase",
    "sse4_2",
    "sse4_1",
    "ssse3",
    "sse3",
    "cx16",
    "lahf_lm",
    "popcnt",
    "sse2",
    "sse",
    "mmx",
)

#: the flags the WheelNext aarch64 provider reports (provider-variant-aarch64 `all_features`).
AARCH64_FEATURES: tuple[str, ...] = (
    "sve2",
    "flagm2",
    "frint",
    "sb",
    "btiecv",
    "paca",
    "pacg",
    "ssbs",
    "asimdfhm",
    "bf16",
    "dcpodp",
    "dgh",
    "dit",
    "flagm",
    "i8mm",
    "ilrcpc",
    "jscvt",
    "rng",
    "sha3",
    "sha512",
    "svebf16",
    "svei8mm",
    "uscat",
    "asimddp",
    "lrcpc",
    "asimdhp",
    "dcpop",
    "fcma",
    "fphp",
    "sve",
    "asimdrdmatomics",
    "aes",
    "asimd",
    "cpuid",
    "crc32",
    "evtstrm",
    "fp",
    "pmull",
    "sha1",
    "sha2",
)


@dataclass
class _Ctx:
    env: Mapping[str, str]
    probes: Probes
    sources: dict[str, str] = field(default_factory=dict)

    def note(self, key: str, text: str) -> None:
        """Record how a value was obtained or why a probe failed (several notes join)."""
        old = self.sources.get(key)
        self.sources[key] = text if not old else f"{old}; {text}"

    def override(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None


def _reason(err: BaseException) -> str:
    text = str(err).strip()
    name = type(err).__name__
    return f"{name}: {text}" if text and text != name else name


def detect(env: Mapping[str, str] | None = None, probes: Probes | None = None) -> Platform:
    """Probe this machine (or `probes`, the test seam) and apply environment overrides."""
    if env is None:
        env = os.environ
    if probes is None:
        from wheelmagic.platform.probes import SystemProbes

        probes = SystemProbes()
    ctx = _Ctx(env, probes)
    system, machine = _safe(ctx, "os", probes.system, ""), _safe(ctx, "arch", probes.machine, "")
    os_name = {"Linux": "linux", "Darwin": "macos", "Windows": "windows"}.get(
        system, system.lower()
    )
    arch = {"AMD64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "ARM64": "aarch64"}.get(
        machine, machine
    )
    ctx.note("os", f"platform.system() = {system!r}")
    ctx.note("arch", f"platform.machine() = {machine!r}")
    cpu = _guard(ctx, "cpu", lambda: _detect_cpu(ctx, os_name, arch))
    nvidia = (
        None if os_name == "macos" else _guard(ctx, "nvidia", lambda: _detect_nvidia(ctx, os_name))
    )
    amd = _guard(ctx, "amd", lambda: _detect_amd(ctx)) if os_name == "linux" else None
    intel = (
        _guard(ctx, "intel", lambda: _detect_intel(ctx, os_name))
        if os_name in ("linux", "windows")
        else None
    )
    apple = None
    if os_name == "macos" and arch == "aarch64":
        version = _safe(ctx, "apple", probes.mac_ver, "")
        apple = AppleInfo(macos_version=version or None)
        ctx.note("apple.macos_version", "platform.mac_ver() on arm64")
    nvidia, amd, intel = _apply_overrides(ctx, nvidia, amd, intel)
    return Platform(
        os=os_name or None,
        arch=arch or None,
        cpu=cpu,
        nvidia=nvidia,
        amd=amd,
        intel=intel,
        apple=apple,
        sources=dict(sorted(ctx.sources.items())),
    )


def _safe(ctx: _Ctx, key: str, fn: Any, default: Any) -> Any:
    try:
        return fn()
    except Exception as err:
        ctx.note(key, f"failed: {_reason(err)}")
        return default


def _guard(ctx: _Ctx, key: str, fn: Any) -> Any:
    """A probe family never crashes detection: an unexpected error becomes a reason."""
    try:
        return fn()
    except Exception as err:
        ctx.note(key, f"probe failed unexpectedly: {_reason(err)}")
        return None


# -- CPU ------------------------------------------------------------------------------------------


def _cpuinfo_flags(ctx: _Ctx) -> list[str] | None:
    text = ctx.probes.read_file("/proc/cpuinfo")
    if not text:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return value.split()
    return None


def x86_64_level(flags: set[str] | frozenset[str]) -> int:
    """The highest psABI level whose flags (and every lower level's) are all present."""
    level = 1
    for n in (2, 3, 4):
        if not X86_LEVEL_FLAGS[n] <= flags:
            break
        level = n
    return level


def _detect_cpu(ctx: _Ctx, os_name: str, arch: str) -> CpuInfo | None:
    if arch not in ("x86_64", "aarch64"):
        ctx.note("cpu", f"no CPU provider for {arch!r}")
        return None
    flags = _cpuinfo_flags(ctx) if os_name == "linux" else None
    source = "/proc/cpuinfo flags"
    generic: str | None = None
    if flags is None:
        try:
            host = ctx.probes.archspec_host()
        except Exception as err:
            ctx.note("cpu", f"archspec failed: {_reason(err)}")
            return None
        flags, generic, source = list(host["features"]), str(host["generic"]), "archspec.cpu.host()"
    have = set(flags)
    if "pni" in have:  # /proc/cpuinfo calls SSE3 "pni"; archspec calls it sse3
        have.add("sse3")
    if arch == "x86_64":
        level = x86_64_level(have)
        ctx.note("cpu.x86_64_level", f"{source} (x86-64 psABI level flags)")
        return CpuInfo(x86_64_level=level, features=tuple(f for f in X86_FEATURES if f in have))
    if generic is None:
        # archspec's generic aarch64 targets carry no feature lists: only its host()
        # (vendor + part tables) knows the architecture version
        try:
            generic = str(ctx.probes.archspec_host()["generic"])
        except Exception as err:
            ctx.note("cpu.aarch64_version", f"archspec failed: {_reason(err)}")
            generic = "aarch64"
    version = _aarch64_version(generic)
    ctx.note("cpu.aarch64_version", f"{source} (archspec generic {generic})")
    return CpuInfo(
        aarch64_version=version, features=tuple(f for f in AARCH64_FEATURES if f in have)
    )


def _aarch64_version(generic: str) -> str:
    """archspec generic name -> provider value: "aarch64" -> "8a", "armv8.2a" -> "8.2a"."""
    if generic.startswith("armv") and generic.endswith("a"):
        return generic[4:]
    return "8a"


# -- NVIDIA ---------------------------------------------------------------------------------------


@dataclass
class _RawGpu:
    index: int
    name: str | None = None
    uuid: str | None = None
    cc: str | None = None
    memory: int | None = None
    mig: bool | None = None
    mig_uuids: tuple[str, ...] = ()

    def info(self) -> GpuInfo:
        return GpuInfo(
            name=self.name,
            compute_capability=self.cc,
            memory_bytes=self.memory,
            uuid=self.uuid,
            index=self.index,
            mig=self.mig,
        )


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _cuda_int(v: int) -> str:
    return f"{v // 1000}.{(v % 1000) // 10}"


def _nvml(ctx: _Ctx, library: str | None) -> tuple[str | None, str | None, list[_RawGpu] | None]:
    """(KMD, CUDA, GPUs) from NVML; raises when NVML cannot start."""
    nv = ctx.probes.nvml(library)
    label = f"NVML ({library})" if library else "NVML"
    nv.nvmlInit()
    try:
        driver = _text(nv.nvmlSystemGetDriverVersion())
        cuda: str | None = None
        try:
            cuda = _cuda_int(int(nv.nvmlSystemGetCudaDriverVersion_v2()))
            ctx.note("nvidia.cuda_driver_version", f"{label} nvmlSystemGetCudaDriverVersion_v2")
        except Exception as err:
            ctx.note("nvidia.cuda_driver_version", f"{label} _v2 failed: {_reason(err)}")
            try:
                cuda = _cuda_int(int(nv.nvmlSystemGetCudaDriverVersion()))
                ctx.note("nvidia.cuda_driver_version", f"{label} nvmlSystemGetCudaDriverVersion")
            except Exception as err2:
                ctx.note("nvidia.cuda_driver_version", f"{label} v1 failed: {_reason(err2)}")
        gpus: list[_RawGpu] | None = None
        try:
            count = int(nv.nvmlDeviceGetCount())
            gpus = [_nvml_gpu(ctx, nv, i) for i in range(count)]
        except Exception as err:
            ctx.note("nvidia.gpus", f"{label} device enumeration failed: {_reason(err)}")
        return driver, cuda, gpus
    finally:
        with contextlib.suppress(Exception):  # nothing left to report after shutdown
            nv.nvmlShutdown()


def _nvml_gpu(ctx: _Ctx, nv: Any, i: int) -> _RawGpu:
    gpu = _RawGpu(index=i)
    h = nv.nvmlDeviceGetHandleByIndex(i)

    def attempt(what: str, fn: Any) -> Any:
        try:
            return fn()
        except Exception as err:
            ctx.note(f"nvidia.gpus[{i}].{what}", f"NVML failed: {_reason(err)}")
            return None

    name = attempt("name", lambda: nv.nvmlDeviceGetName(h))
    gpu.name = _text(name) if name is not None else None
    uuid = attempt("uuid", lambda: nv.nvmlDeviceGetUUID(h))
    gpu.uuid = _text(uuid) if uuid is not None else None
    cc = attempt("compute_capability", lambda: nv.nvmlDeviceGetCudaComputeCapability(h))
    if cc is not None:
        gpu.cc = f"{int(cc[0])}.{int(cc[1])}"
    mem = attempt("memory_bytes", lambda: nv.nvmlDeviceGetMemoryInfo(h))
    gpu.memory = int(mem.total) if mem is not None else None
    try:
        mode = nv.nvmlDeviceGetMigMode(h)
        gpu.mig = bool(mode[0])
    except Exception:  # NotSupported on every GPU without MIG: not worth a reason
        gpu.mig = None
    if gpu.mig:
        uuids = []
        try:
            for j in range(int(nv.nvmlDeviceGetMaxMigDeviceCount(h))):
                try:
                    mh = nv.nvmlDeviceGetMigDeviceHandleByIndex(h, j)
                    uuids.append(_text(nv.nvmlDeviceGetUUID(mh)))
                except Exception:  # unpopulated MIG slot
                    continue
        except Exception as err:
            ctx.note(f"nvidia.gpus[{i}].mig", f"MIG enumeration failed: {_reason(err)}")
        gpu.mig_uuids = tuple(uuids)
    return gpu


def _parse_proc_version(text: str) -> str | None:
    """`NVRM version: NVIDIA UNIX ... Kernel Module  580.159.04  Release Build ...`."""
    first = text.splitlines()[0] if text else ""
    parts = first.split("  ")
    if len(parts) > 1:
        m = re.match(r"^\s*(\d+(?:\.\d+)+)\s*$", parts[1])
        if m:
            return m.group(1)
    m = re.search(r"Kernel Module\s+(\d+\.\d+(?:\.\d+)?)", first)
    return m.group(1) if m else None


def _nvidia_smi(ctx: _Ctx) -> tuple[str | None, list[_RawGpu] | None]:
    argv_tail = [f"--query-gpu={NVIDIA_SMI_FIELDS}", "--format=csv,noheader,nounits"]
    errors: list[str] = []
    for exe in ("nvidia-smi", f"{WSL_LIB_DIR}/nvidia-smi"):
        try:
            rc, out = ctx.probes.run([exe, *argv_tail], SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            errors.append(f"{exe}: timed out after {SUBPROCESS_TIMEOUT:g} s")
            continue
        except OSError as err:
            errors.append(f"{exe}: {_reason(err)}")
            continue
        if rc != 0:
            errors.append(f"{exe}: exit status {rc}: {(out.strip().splitlines() or [''])[0][:200]}")
            continue
        gpus: list[_RawGpu] = []
        driver: str | None = None
        for line in out.splitlines():
            cols = [c.strip() for c in line.split(",")]
            if len(cols) < 6:
                continue
            idx, name, uuid, drv, cc, mem = cols[:6]
            driver = driver or (drv if re.match(r"^\d+(\.\d+)+$", drv) else None)
            gpu = _RawGpu(
                index=int(idx) if idx.isdigit() else len(gpus),
                name=name or None,
                uuid=uuid if uuid.startswith("GPU-") else None,
                cc=cc if re.match(r"^\d+\.\d+$", cc) else None,
            )
            m = re.match(r"^(\d+)", mem)
            gpu.memory = int(m.group(1)) * 1024 * 1024 if m else None
            gpus.append(gpu)
        ctx.note("nvidia.nvidia_smi", f"{exe} --query-gpu ({len(gpus)} GPUs)")
        return driver, gpus
    ctx.note("nvidia.nvidia_smi", "failed: " + "; ".join(errors))
    return None, None


def _detect_nvidia(ctx: _Ctx, os_name: str) -> NvidiaInfo | None:
    probes = ctx.probes
    driver: str | None = None
    cuda: str | None = None
    gpus: list[_RawGpu] | None = None
    gpu_source = ""
    wsl_nvml = f"{WSL_LIB_DIR}/libnvidia-ml.so.1"
    if os_name == "linux" and not _driver_traces(ctx):
        # without /dev/nvidiactl (native, containers) or /dev/dxg (WSL2) NVML cannot work:
        # skip importing pynvml (~25 ms) and every fallback
        ctx.note(
            "nvidia",
            "no NVIDIA driver: no /dev/nvidia*, /dev/dxg, /sys/module/nvidia, "
            "/proc/driver/nvidia or WSL2 libraries; NVML, libcuda and nvidia-smi not tried",
        )
        return None
    libraries: list[str | None] = [None]
    if os_name == "linux" and probes.glob(wsl_nvml):
        libraries.append(wsl_nvml)  # a stub libnvidia-ml may win in ldconfig on WSL2
    for library in libraries:
        try:
            driver, cuda, gpus = _nvml(ctx, library)
            label = f"NVML ({library})" if library else "NVML"
            ctx.note("nvidia.driver_version", f"{label} nvmlSystemGetDriverVersion")
            gpu_source = label
            break
        except Exception as err:
            ctx.note("nvidia.nvml", f"{library or 'libnvidia-ml'} failed: {_reason(err)}")
    if driver is None:
        # NVML is missing (container without the `utility` capability) or broken
        try:
            result = probes.libcuda_query(SUBPROCESS_TIMEOUT)
            cuda = _cuda_int(int(result["driver_version"]))
            ctx.note("nvidia.cuda_driver_version", "libcuda cuDriverGetVersion (child process)")
            gpus = None if result.get("devices") is None else []
            for i, d in enumerate(result.get("devices") or []):
                cc = d.get("compute_capability")
                gpus = gpus if gpus is not None else []
                gpus.append(
                    _RawGpu(
                        index=i,
                        name=d.get("name"),
                        uuid=d.get("uuid"),
                        cc=f"{int(cc[0])}.{int(cc[1])}" if cc else None,
                        memory=d.get("memory_bytes"),
                    )
                )
            gpu_source = "libcuda (child process)"
        except subprocess.TimeoutExpired:
            ctx.note("nvidia.libcuda", f"timed out after {SUBPROCESS_TIMEOUT:g} s")
        except Exception as err:
            ctx.note("nvidia.libcuda", f"failed: {_reason(err)}")
        for path in ("/sys/module/nvidia/version", "/proc/driver/nvidia/version"):
            text = probes.read_file(path)
            if text is None:
                ctx.note("nvidia.driver_version", f"{path} not readable")
                continue
            parsed = text.strip() if path.startswith("/sys") else _parse_proc_version(text)
            if parsed and re.match(r"^\d+(\.\d+)+$", parsed):
                driver = parsed
                ctx.note("nvidia.driver_version", path)
                break
            ctx.note("nvidia.driver_version", f"{path}: cannot parse {text[:80]!r}")
        if driver is None or gpus is None or any(g.cc is None for g in gpus):
            smi_driver, smi_gpus = _nvidia_smi(ctx)
            if driver is None and smi_driver:
                driver = smi_driver
                ctx.note("nvidia.driver_version", "nvidia-smi")
            if smi_gpus is not None and (gpus is None or len(smi_gpus) >= len(gpus)):
                gpus, gpu_source = smi_gpus, "nvidia-smi"
    if driver is None and cuda is None and not gpus:
        return None
    visible = _visible(ctx, gpus)
    if visible is not None:
        ctx.note("nvidia.gpus", f"{gpu_source} ({len(gpus or [])} found, {len(visible)} visible)")
    return NvidiaInfo(
        driver_version=driver,
        cuda_driver_version=cuda,
        gpus=None if visible is None else tuple(g.info() for g in visible),
    )


def _driver_traces(ctx: _Ctx) -> bool:
    """Any sign of an NVIDIA kernel driver (native, container or WSL2)?"""
    return bool(
        ctx.probes.glob("/dev/nvidia*")
        or ctx.probes.glob("/dev/dxg")
        or ctx.probes.glob("/sys/module/nvidia/version")
        or ctx.probes.glob("/proc/driver/nvidia/version")
        or ctx.probes.glob(f"{WSL_LIB_DIR}/libcuda.so*")
    )


def _visible(ctx: _Ctx, gpus: list[_RawGpu] | None) -> list[_RawGpu] | None:
    """Apply CUDA_VISIBLE_DEVICES as CUDA does: a comma list of indices or (prefixes of)
    `GPU-`/`MIG-` UUIDs, read up to the first entry that matches nothing; "" hides all.
    Indices are NVML's (PCI bus) order, which is CUDA's order with CUDA_DEVICE_ORDER=PCI_BUS_ID
    (CUDA's default FASTEST_FIRST may order mixed GPUs differently)."""
    if gpus is None:
        return None
    cvd = ctx.env.get("CUDA_VISIBLE_DEVICES")
    if cvd is None:
        return gpus
    chosen: list[_RawGpu] = []
    for token in (t.strip() for t in cvd.split(",")):
        match: _RawGpu | None = None
        if re.match(r"^\d+$", token):
            match = next((g for g in gpus if g.index == int(token)), None)
        elif token.startswith("GPU-"):
            hits = [g for g in gpus if g.uuid and g.uuid.startswith(token)]
            match = hits[0] if len(hits) == 1 else None
        elif token.startswith("MIG-"):
            match = next((g for g in gpus if any(u.startswith(token) for u in g.mig_uuids)), None)
        if match is None:
            break
        if match not in chosen:
            chosen.append(match)
    ctx.note("nvidia.gpus", f"CUDA_VISIBLE_DEVICES={cvd!r} applied")
    return chosen


# -- AMD, Intel -----------------------------------------------------------------------------------


def gfx_name(n: int) -> str:
    """KFD `gfx_target_version` -> gfx name: 90010 -> gfx90a, 110000 -> gfx1100."""
    return f"gfx{n // 10000 % 100}{n // 100 % 100}{n % 100:x}"


def _detect_amd(ctx: _Ctx) -> AmdInfo | None:
    gfx: list[str] = []
    nodes = ctx.probes.glob("/sys/devices/virtual/kfd/kfd/topology/nodes/*/properties")
    for path in nodes:
        text = ctx.probes.read_file(path) or ""
        m = re.search(r"^gfx_target_version\s+(\d+)", text, re.M)
        if m and int(m.group(1)) != 0:  # 0 = a CPU node
            name = gfx_name(int(m.group(1)))
            if name not in gfx:
                gfx.append(name)
    if not gfx:
        if nodes:
            ctx.note("amd", f"KFD topology has {len(nodes)} nodes, none a GPU")
        return None
    ctx.note("amd.gfx", "KFD topology gfx_target_version")
    rocm: str | None = None
    root = ctx.env.get("ROCM_PATH") or "/opt/rocm"
    version_text = ctx.probes.read_file(f"{root}/.info/version") or ""
    if m := re.match(r"^\s*(\d+)\.(\d+)", version_text):
        rocm = f"{m.group(1)}.{m.group(2)}"
        ctx.note("amd.rocm_version", f"{root}/.info/version")
    else:
        ctx.note("amd.rocm_version", f"{root}/.info/version not readable: ROCm not installed?")
    return AmdInfo(gfx=tuple(sorted(gfx)), rocm_version=rocm)


def decode_device_ip(v: int) -> str:
    """Level Zero IP version -> "major.minor.revision" as the WheelNext intel provider does."""
    return f"{v >> 22}.{(v >> 14) & 0xFF}.{v & 0x3F}"


def _detect_intel(ctx: _Ctx, os_name: str) -> IntelInfo | None:
    if os_name == "linux":
        bound = []
        for path in ctx.probes.glob("/sys/class/drm/card*/device/uevent"):
            text = ctx.probes.read_file(path) or ""
            if re.search(r"^DRIVER=(i915|xe)$", text, re.M) and "8086:" in text.upper():
                bound.append(path)
        if not bound:
            return None
        ctx.note("intel", f"Intel GPU bound to i915/xe: {', '.join(bound)}")
    try:
        raw = ctx.probes.level_zero_device_ips(SUBPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        ctx.note("intel.device_ip", f"Level Zero timed out after {SUBPROCESS_TIMEOUT:g} s")
        return None
    except Exception as err:
        ctx.note("intel.device_ip", f"Level Zero (libze_loader.so.1) failed: {_reason(err)}")
        return None
    ips = list(dict.fromkeys(decode_device_ip(v) for v in raw))
    if not ips:
        ctx.note("intel.device_ip", "Level Zero found no Intel GPU")
        return None
    ctx.note("intel.device_ip", "Level Zero ZE_extension_device_ip_version")
    return IntelInfo(device_ip=tuple(ips))


# -- overrides ------------------------------------------------------------------------------------


def _apply_overrides(
    ctx: _Ctx, nvidia: NvidiaInfo | None, amd: AmdInfo | None, intel: IntelInfo | None
) -> tuple[NvidiaInfo | None, AmdInfo | None, IntelInfo | None]:
    """uv's and the WheelNext providers' environment overrides win over probing; each one
    used is recorded in sources under "override.NAME"."""

    def used(name: str, value: str, key: str) -> None:
        ctx.sources[key] = f"override {name}={value}"
        ctx.sources[f"override.{name}"] = value

    if v := ctx.override("UV_CUDA_DRIVER_VERSION"):
        if re.match(r"^\d+(\.\d+)*$", v):
            nvidia = replace(nvidia or NvidiaInfo(), driver_version=v)
            used("UV_CUDA_DRIVER_VERSION", v, "nvidia.driver_version")
        else:
            ctx.note("override.UV_CUDA_DRIVER_VERSION", f"ignored: {v!r} is not a version")
    if v := ctx.override("NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION"):
        if m := re.match(r"^(\d+)\.(\d+)$", v):
            nvidia = replace(
                nvidia or NvidiaInfo(), cuda_driver_version=f"{int(m.group(1))}.{int(m.group(2))}"
            )
            used("NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION", v, "nvidia.cuda_driver_version")
        else:
            ctx.note(
                "override.NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION",
                f"ignored: {v!r} is not maj.min",
            )
    if v := ctx.override("NV_VARIANT_PROVIDER_FORCE_SM_ARCH"):
        if m := re.match(r"^(\d+)\.(\d+)$", v):
            cc = f"{int(m.group(1))}.{int(m.group(2))}"
            nvidia = replace(nvidia or NvidiaInfo(), gpus=(GpuInfo(compute_capability=cc),))
            used("NV_VARIANT_PROVIDER_FORCE_SM_ARCH", v, "nvidia.gpus")
        else:
            ctx.note("override.NV_VARIANT_PROVIDER_FORCE_SM_ARCH", f"ignored: {v!r} is not maj.min")
    for name in ("UV_AMD_GPU_ARCHITECTURE", "AMD_VARIANT_PROVIDER_FORCE_GFX_ARCH"):
        if gv := ctx.override(name):
            v = gv
            names = [x for x in re.split(r"[,;\s]+", v) if x]
            bad = [x for x in names if not re.match(r"^gfx[0-9a-f]+$", x)]
            if bad:
                ctx.note(f"override.{name}", f"ignored: {', '.join(bad)} not gfx names")
                continue
            amd = replace(amd or AmdInfo(), gfx=tuple(sorted(dict.fromkeys(names))))
            used(name, v, "amd.gfx")
    if v := ctx.override("AMD_VARIANT_PROVIDER_FORCE_ROCM_VERSION"):
        if m := re.match(r"^(\d+)\.(\d+)\.(\d+)$", v):
            amd = replace(amd or AmdInfo(), rocm_version=f"{int(m.group(1))}.{int(m.group(2))}")
            used("AMD_VARIANT_PROVIDER_FORCE_ROCM_VERSION", v, "amd.rocm_version")
        else:
            ctx.note(
                "override.AMD_VARIANT_PROVIDER_FORCE_ROCM_VERSION", f"ignored: {v!r} is not x.y.z"
            )
    if v := ctx.override("INTEL_VARIANT_PROVIDER_FORCE_DEVICE_IP"):
        if re.match(r"^\d+\.\d+\.\d+$", v):
            intel = IntelInfo(device_ip=(v,))
            used("INTEL_VARIANT_PROVIDER_FORCE_DEVICE_IP", v, "intel.device_ip")
        else:
            ctx.note(
                "override.INTEL_VARIANT_PROVIDER_FORCE_DEVICE_IP", f"ignored: {v!r} is not x.y.z"
            )
    return nvidia, amd, intel


__all__: Sequence[str] = ("detect", "x86_64_level", "gfx_name", "decode_device_ip")
