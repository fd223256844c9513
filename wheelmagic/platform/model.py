"""The platform snapshot: what detection found, as frozen data that round-trips through JSON.

The JSON shape is a contract other tools rely on (`wheelmagic detect --json`, `--platform FILE`,
`WHEELMAGIC_PLATFORM`). Every key is optional: absent or null means "none found". Values that
are not stated stay `None` here and are left out of `to_json()`, so a hand-written snapshot with
only some keys loads and is written back unchanged. Unknown keys are rejected: a typo such as
`cuda_version` would otherwise silently mean "no CUDA".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wheelmagic.errors import PlatformError

_MAJ_MIN = re.compile(r"^\d+\.\d+$")
_DRIVER = re.compile(r"^\d+(\.\d+)*$")


@dataclass(frozen=True)
class CpuInfo:
    """CPU facts: the x86-64 psABI level, or the aarch64 architecture version, plus flags."""

    x86_64_level: int | None = None
    aarch64_version: str | None = None
    #: CPU flags the WheelNext CPU providers know (archspec names), in the providers' order.
    features: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GpuInfo:
    """One visible NVIDIA GPU."""

    name: str | None = None
    #: "maj.min", e.g. "9.0"
    compute_capability: str | None = None
    memory_bytes: int | None = None
    uuid: str | None = None
    #: the physical (NVML / PCI bus order) index
    index: int | None = None
    #: MIG mode currently enabled
    mig: bool | None = None

    @property
    def cc(self) -> tuple[int, int] | None:
        """The compute capability as a tuple, or None when unknown."""
        if not self.compute_capability:
            return None
        major, minor = self.compute_capability.split(".")
        return int(major), int(minor)


@dataclass(frozen=True)
class NvidiaInfo:
    """The NVIDIA driver and the GPUs that CUDA_VISIBLE_DEVICES leaves visible."""

    #: kernel-mode driver (KMD) version, e.g. "580.159.04" (Windows number on WSL2)
    driver_version: str | None = None
    #: the CUDA version the user-mode driver supports, "maj.min", e.g. "13.0"
    cuda_driver_version: str | None = None
    #: None = unknown (not probed / not stated); () = none visible
    gpus: tuple[GpuInfo, ...] | None = None


@dataclass(frozen=True)
class AmdInfo:
    """AMD GPUs seen by the kernel driver (KFD) and the installed ROCm."""

    gfx: tuple[str, ...] | None = None
    #: "maj.min", e.g. "6.4"
    rocm_version: str | None = None


@dataclass(frozen=True)
class IntelInfo:
    """Intel GPUs reachable through Level Zero: their device IPs ("20.1.0")."""

    device_ip: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AppleInfo:
    """Apple silicon macOS (MPS needs macOS >= 12.3; PyTorch docs say 14)."""

    macos_version: str | None = None


@dataclass(frozen=True)
class Platform:
    """A snapshot of the machine facts that decide which PyTorch build fits."""

    os: str | None = None
    arch: str | None = None
    cpu: CpuInfo | None = None
    nvidia: NvidiaInfo | None = None
    amd: AmdInfo | None = None
    intel: IntelInfo | None = None
    apple: AppleInfo | None = None
    #: how each value was obtained and why a probe failed: "nvidia.driver_version" -> "NVML ..."
    sources: Mapping[str, str] = field(default_factory=dict, hash=False)
    #: free text, e.g. where a hand-written snapshot's values come from
    description: str | None = None

    # -- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The snapshot as a JSON-ready dict; `from_json(p.to_json()) == p`."""
        out: dict[str, Any] = {}
        if self.description is not None:
            out["description"] = self.description
        if self.os is not None:
            out["os"] = self.os
        if self.arch is not None:
            out["arch"] = self.arch
        if self.cpu is not None:
            out["cpu"] = _drop_none(
                {
                    "x86_64_level": self.cpu.x86_64_level,
                    "aarch64_version": self.cpu.aarch64_version,
                    "features": _list(self.cpu.features),
                }
            )
        if self.nvidia is not None:
            nv = self.nvidia
            gpus = (
                None
                if nv.gpus is None
                else [
                    _drop_none(
                        {
                            "index": g.index,
                            "name": g.name,
                            "uuid": g.uuid,
                            "compute_capability": g.compute_capability,
                            "memory_bytes": g.memory_bytes,
                            "mig": g.mig,
                        }
                    )
                    for g in nv.gpus
                ]
            )
            out["nvidia"] = _drop_none(
                {
                    "driver_version": nv.driver_version,
                    "cuda_driver_version": nv.cuda_driver_version,
                    "gpus": gpus,
                }
            )
        if self.amd is not None:
            out["amd"] = _drop_none(
                {"gfx": _list(self.amd.gfx), "rocm_version": self.amd.rocm_version}
            )
        if self.intel is not None:
            out["intel"] = _drop_none({"device_ip": _list(self.intel.device_ip)})
        if self.apple is not None:
            out["apple"] = _drop_none({"macos_version": self.apple.macos_version})
        if self.sources:
            out["sources"] = dict(self.sources)
        return out

    @classmethod
    def from_json(cls, data: Any, source: str = "<snapshot>") -> Platform:
        """Read a snapshot; raise `PlatformError` naming `source` and the bad key."""
        return _Reader(source).platform(data)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _list(values: tuple[str, ...] | None) -> list[str] | None:
    return None if values is None else list(values)


class _Reader:
    """Validates a snapshot dict; every error names the file and the dotted key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, why: str) -> PlatformError:
        return PlatformError(
            f"{self.source}: bad platform snapshot key {key!r}: {why}",
            hint="fix the file or write a new one with `wheelmagic detect --json > FILE`",
        )

    def obj(self, data: Any, key: str, allowed: tuple[str, ...]) -> dict[str, Any] | None:
        if data is None:
            return None
        if not isinstance(data, Mapping):
            raise self.fail(key, f"expected an object, got {type(data).__name__}")
        for k in data:
            if k not in allowed:
                where = f"{key}.{k}" if key != "<root>" else str(k)
                raise self.fail(where, f"unknown key (known: {', '.join(allowed)})")
        return dict(data)

    def str_(
        self, data: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str] | None = None
    ) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(f"{where}{key}", f"expected a non-empty string, got {value!r}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(f"{where}{key}", f"{value!r} is not in the expected format")
        return value

    def int_(self, data: Mapping[str, Any], key: str, where: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(f"{where}{key}", f"expected a non-negative integer, got {value!r}")
        return value

    def strs(self, data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{where}{key}", f"expected a list of strings, got {value!r}")
        return tuple(value)

    def platform(self, data: Any) -> Platform:
        top = self.obj(
            data,
            "<root>",
            ("description", "os", "arch", "cpu", "nvidia", "amd", "intel", "apple", "sources"),
        )
        if top is None:
            raise self.fail("<root>", "expected a JSON object, got null")
        sources = top.get("sources") or {}
        if not isinstance(sources, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in sources.items()
        ):
            raise self.fail("sources", "expected an object of strings")
        return Platform(
            os=self.str_(top, "os", ""),
            arch=self.str_(top, "arch", ""),
            cpu=self.cpu(top.get("cpu")),
            nvidia=self.nvidia(top.get("nvidia")),
            amd=self.amd(top.get("amd")),
            intel=self.intel(top.get("intel")),
            apple=self.apple(top.get("apple")),
            sources=dict(sources),
            description=self.str_(top, "description", ""),
        )

    def cpu(self, data: Any) -> CpuInfo | None:
        d = self.obj(data, "cpu", ("x86_64_level", "aarch64_version", "features"))
        if d is None:
            return None
        level = self.int_(d, "x86_64_level", "cpu.")
        if level is not None and not 1 <= level <= 4:
            raise self.fail("cpu.x86_64_level", f"expected 1 to 4, got {level}")
        return CpuInfo(
            x86_64_level=level,
            aarch64_version=self.str_(d, "aarch64_version", "cpu.", re.compile(r"^\d+(\.\d+)?a$")),
            features=self.strs(d, "features", "cpu."),
        )

    def nvidia(self, data: Any) -> NvidiaInfo | None:
        d = self.obj(data, "nvidia", ("driver_version", "cuda_driver_version", "gpus"))
        if d is None:
            return None
        cuda = d.get("cuda_driver_version")
        if isinstance(cuda, int) and not isinstance(cuda, bool):  # NVML's raw 13000
            d["cuda_driver_version"] = f"{cuda // 1000}.{(cuda % 1000) // 10}"
        raw_gpus = d.get("gpus")
        gpus: tuple[GpuInfo, ...] | None = None
        if raw_gpus is not None:
            if not isinstance(raw_gpus, list):
                raise self.fail("nvidia.gpus", "expected a list")
            gpus = tuple(self.gpu(g, i) for i, g in enumerate(raw_gpus))
        return NvidiaInfo(
            driver_version=self.str_(d, "driver_version", "nvidia.", _DRIVER),
            cuda_driver_version=self.str_(d, "cuda_driver_version", "nvidia.", _MAJ_MIN),
            gpus=gpus,
        )

    def gpu(self, data: Any, i: int) -> GpuInfo:
        where = f"nvidia.gpus[{i}]"
        d = self.obj(
            data, where, ("index", "name", "uuid", "compute_capability", "memory_bytes", "mig")
        )
        if d is None:
            raise self.fail(where, "expected an object, got null")
        cc = d.get("compute_capability")
        if isinstance(cc, list) and len(cc) == 2 and all(isinstance(x, int) for x in cc):
            d["compute_capability"] = f"{cc[0]}.{cc[1]}"
        mig = d.get("mig")
        if mig is not None and not isinstance(mig, bool):
            raise self.fail(f"{where}.mig", f"expected true or false, got {mig!r}")
        return GpuInfo(
            name=self.str_(d, "name", f"{where}."),
            compute_capability=self.str_(d, "compute_capability", f"{where}.", _MAJ_MIN),
            memory_bytes=self.int_(d, "memory_bytes", f"{where}."),
            uuid=self.str_(d, "uuid", f"{where}."),
            index=self.int_(d, "index", f"{where}."),
            mig=mig,
        )

    def amd(self, data: Any) -> AmdInfo | None:
        d = self.obj(data, "amd", ("gfx", "rocm_version"))
        if d is None:
            return None
        gfx = self.strs(d, "gfx", "amd.")
        for g in gfx or ():
            if not re.match(r"^gfx[0-9a-f]+$", g):
                raise self.fail("amd.gfx", f"{g!r} is not a gfx target such as 'gfx90a'")
        return AmdInfo(gfx=gfx, rocm_version=self.str_(d, "rocm_version", "amd.", _MAJ_MIN))

    def intel(self, data: Any) -> IntelInfo | None:
        d = self.obj(data, "intel", ("device_ip",))
        if d is None:
            return None
        ips = self.strs(d, "device_ip", "intel.")
        for ip in ips or ():
            if not re.match(r"^\d+\.\d+\.\d+$", ip):
                raise self.fail("intel.device_ip", f"{ip!r} is not an IP version such as '20.1.0'")
        return IntelInfo(device_ip=ips)

    def apple(self, data: Any) -> AppleInfo | None:
        d = self.obj(data, "apple", ("macos_version",))
        if d is None:
            return None
        return AppleInfo(
            macos_version=self.str_(d, "macos_version", "apple.", re.compile(r"^\d+(\.\d+)*$"))
        )
