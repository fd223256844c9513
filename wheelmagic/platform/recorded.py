"""`RecordedProbes`: replay facts recorded on a real machine at the probe boundary.

Used by wheelmagic's tests and by anyone who wants detection to see another machine. A
recorded-facts file (tests/data/platforms/*.json) is one JSON object; every key is optional:

- ``description``: where each value comes from.
- ``os``: ``{"system": "Linux", "machine": "x86_64", "mac_ver": "14.5"}``; ``system`` may be
  left out when ``platform`` (``platform.platform()``) is given.
- ``files``: path -> text (``/sys/module/nvidia/version``, KFD ``properties``, ``/proc/cpuinfo``).
- ``paths``: paths that exist without useful text (``/dev/nvidiactl``, libraries).
- ``cpu_flags_line``: the ``flags`` line of ``/proc/cpuinfo`` (served as that file).
- ``nvidia_smi_query_csv``: ``nvidia-smi --query-gpu=... --format=csv`` output *with* its header;
  replayed for whatever fields are asked. ``nvidia_smi_path``: where it lives (default on PATH).
- ``nvml``: NVML return values by function name (``nvmlSystemGetDriverVersion``,
  ``nvmlSystemGetCudaDriverVersion_v2``, ``devices: [{nvmlDeviceGetName, ...,
  memory_total_bytes, mig_devices}]``). Any value (or ``nvmlInit``) may be an error name such as
  ``"NVMLError_LibRmVersionMismatch"``, which is raised. No ``nvml`` key means the library is not
  found. ``nvml_libraries``: the same per explicit library path (WSL2).
- ``libcuda``: ``{"driver_version": 13000, "devices": [...]}`` or ``{"error": "..."}``
  (``libcuda_cuDriverGetVersion`` alone is accepted too). ``level_zero``: ``{"device_ips": [...]}``.
- ``archspec_host``: ``{"name", "generic", "features"}`` for machines without /proc/cpuinfo.
- ``env``: the environment the facts were recorded under (e.g. ``CUDA_VISIBLE_DEVICES``).
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

#: NVML error codes (nvml.h) for the names recorded files use.
NVML_ERROR_CODES: dict[str, int] = {
    "Uninitialized": 1,
    "InvalidArgument": 2,
    "NotSupported": 3,
    "NoPermission": 4,
    "AlreadyInitialized": 5,
    "NotFound": 6,
    "InsufficientSize": 7,
    "InsufficientPower": 8,
    "DriverNotLoaded": 9,
    "Timeout": 10,
    "IrqIssue": 11,
    "LibraryNotFound": 12,
    "FunctionNotFound": 13,
    "CorruptedInforom": 14,
    "GpuIsLost": 15,
    "ResetRequired": 16,
    "OperatingSystem": 17,
    "LibRmVersionMismatch": 18,
    "InUse": 19,
    "Memory": 20,
    "NoData": 21,
    "Unknown": 999,
}


class NVMLError(Exception):
    """Stands in for `pynvml.NVMLError`; subclasses are named like pynvml's."""

    value = 999

    def __str__(self) -> str:
        return type(self).__name__.removeprefix("NVMLError_")


_ERROR_CLASSES: dict[str, type[NVMLError]] = {}


def nvml_error(name: str) -> NVMLError:
    """An instance of the recorded error class `NVMLError_<Name>`."""
    short = name.removeprefix("NVMLError_")
    cls = _ERROR_CLASSES.get(short)
    if cls is None:
        cls = type(f"NVMLError_{short}", (NVMLError,), {"value": NVML_ERROR_CODES.get(short, 999)})
        _ERROR_CLASSES[short] = cls
    return cls()


def _is_error(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("NVMLError_")


class _Memory:
    def __init__(self, total: int) -> None:
        self.total = total


class RecordedNvml:
    """A pynvml-shaped object answering from recorded values; handles are device indices."""

    NVMLError = NVMLError

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._devices: list[Mapping[str, Any]] = list(data.get("devices") or [])

    def _value(self, source: Mapping[str, Any], key: str) -> Any:
        if key not in source:
            raise nvml_error(
                "NVMLError_FunctionNotFound"
                if key.startswith("nvmlSystem")
                else "NVMLError_NotSupported"
            )
        value = source[key]
        if _is_error(value):
            raise nvml_error(value)
        return value

    def nvmlInit(self) -> None:
        if _is_error(self._data.get("nvmlInit")):
            raise nvml_error(self._data["nvmlInit"])

    def nvmlShutdown(self) -> None:
        return None

    def nvmlSystemGetDriverVersion(self) -> str:
        return str(self._value(self._data, "nvmlSystemGetDriverVersion"))

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return int(self._value(self._data, "nvmlSystemGetCudaDriverVersion"))

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return int(self._value(self._data, "nvmlSystemGetCudaDriverVersion_v2"))

    def nvmlDeviceGetCount(self) -> int:
        if _is_error(self._data.get("nvmlDeviceGetCount")):
            raise nvml_error(self._data["nvmlDeviceGetCount"])
        return len(self._devices)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> str:
        return str(self._value(self._devices[h], "nvmlDeviceGetName"))

    def nvmlDeviceGetUUID(self, h: Any) -> str:
        if isinstance(h, tuple):  # a MIG handle
            return str(self._devices[h[0]]["mig_devices"][h[1]])
        return str(self._value(self._devices[h], "nvmlDeviceGetUUID"))

    def nvmlDeviceGetCudaComputeCapability(self, h: int) -> tuple[int, int]:
        cc = self._value(self._devices[h], "nvmlDeviceGetCudaComputeCapability")
        return int(cc[0]), int(cc[1])

    def nvmlDeviceGetMemoryInfo(self, h: int) -> _Memory:
        return _Memory(int(self._value(self._devices[h], "memory_total_bytes")))

    def nvmlDeviceGetMigMode(self, h: int) -> list[int]:
        return list(self._value(self._devices[h], "nvmlDeviceGetMigMode"))

    def nvmlDeviceGetMaxMigDeviceCount(self, h: int) -> int:
        return len(self._devices[h].get("mig_devices") or [])

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: int, j: int) -> tuple[int, int]:
        return (h, j)


class RecordedProbes:
    """`Probes` answering from a recorded-facts dict (see the module docstring)."""

    def __init__(self, facts: Mapping[str, Any], name: str = "<recorded>") -> None:
        self.facts = facts
        self.name = name
        files = dict(facts.get("files") or {})
        if "cpu_flags_line" in facts and "/proc/cpuinfo" not in files:
            files["/proc/cpuinfo"] = str(facts["cpu_flags_line"]) + "\n"
        self.files: dict[str, str] = files
        self.paths: set[str] = set(files) | set(facts.get("paths") or [])
        #: every call made, for tests that check what was (not) tried: ("run", argv) etc.
        self.calls: list[tuple[str, Any]] = []

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RecordedProbes:
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f), name=os.fspath(path))

    @property
    def env(self) -> dict[str, str]:
        """The environment recorded with the facts (empty when none)."""
        return {str(k): str(v) for k, v in (self.facts.get("env") or {}).items()}

    def _os(self) -> Mapping[str, Any]:
        return self.facts.get("os") or {}

    def system(self) -> str:
        os_ = self._os()
        if "system" in os_:
            return str(os_["system"])
        plat = str(os_.get("platform", "Linux"))
        return plat.split("-", 1)[0] or "Linux"

    def machine(self) -> str:
        return str(self._os().get("machine", "x86_64"))

    def mac_ver(self) -> str:
        return str(self._os().get("mac_ver", ""))

    def read_file(self, path: str) -> str | None:
        self.calls.append(("read_file", path))
        return self.files.get(path)

    def glob(self, pattern: str) -> list[str]:
        self.calls.append(("glob", pattern))
        return sorted(p for p in self.paths if fnmatch.fnmatchcase(p, pattern))

    def run(self, argv: Sequence[str], timeout: float) -> tuple[int, str]:
        self.calls.append(("run", list(argv)))
        exe = argv[0]
        if os.path.basename(exe) != "nvidia-smi":
            raise FileNotFoundError(2, "No such file or directory", exe)
        where = str(self.facts.get("nvidia_smi_path", "nvidia-smi"))
        csv = self.facts.get("nvidia_smi_query_csv")
        if csv is None or exe != where:
            raise FileNotFoundError(2, "No such file or directory", exe)
        if self.facts.get("nvidia_smi_timeout"):
            raise subprocess.TimeoutExpired(list(argv), timeout)
        if "nvidia_smi_error" in self.facts:
            err = self.facts["nvidia_smi_error"]
            return int(err.get("rc", 9)), str(err.get("stdout", ""))
        fields = next((a.split("=", 1)[1] for a in argv if a.startswith("--query-gpu=")), "")
        fmt = next((a.split("=", 1)[1] for a in argv if a.startswith("--format=")), "csv")
        return 0, _project_csv(str(csv), fields.split(","), fmt.split(","))

    def nvml(self, library: str | None = None) -> Any:
        self.calls.append(("nvml", library))
        if library is None:
            data = self.facts.get("nvml")
        else:
            data = (self.facts.get("nvml_libraries") or {}).get(library)
        if data is None:
            raise nvml_error("NVMLError_LibraryNotFound")
        return RecordedNvml(data)

    def libcuda_query(self, timeout: float) -> dict[str, Any]:
        self.calls.append(("libcuda_query", timeout))
        data = self.facts.get("libcuda")
        if data is None and "libcuda_cuDriverGetVersion" in self.facts:
            data = {"driver_version": self.facts["libcuda_cuDriverGetVersion"]}  # devices unknown
        if data is None:
            raise RuntimeError("OSError: cannot load libcuda.so.1 (not recorded on this machine)")
        if data.get("timeout"):
            raise subprocess.TimeoutExpired(["libcuda"], timeout)
        if "error" in data:
            raise RuntimeError(str(data["error"]))
        return dict(data)

    def level_zero_device_ips(self, timeout: float) -> list[int]:
        self.calls.append(("level_zero", timeout))
        data = self.facts.get("level_zero")
        if data is None:
            raise RuntimeError("OSError: cannot load libze_loader.so.1 (not recorded)")
        if "error" in data:
            raise RuntimeError(str(data["error"]))
        return [int(v) for v in data.get("device_ips") or []]

    def archspec_host(self) -> dict[str, Any]:
        self.calls.append(("archspec_host", None))
        data = self.facts.get("archspec_host")
        if data is None:
            raise RuntimeError("archspec host not recorded")
        return dict(data)


def _project_csv(csv: str, fields: list[str], fmt: list[str]) -> str:
    """Replay a recorded `--format=csv` table (with header) for other `--query-gpu` fields,
    honouring `noheader` and `nounits` the way nvidia-smi does."""
    lines = [ln for ln in csv.splitlines() if ln.strip()]
    header = [h.strip() for h in lines[0].split(",")]
    keys = [h.split(" [", 1)[0] for h in header]
    out: list[str] = []
    if "noheader" not in fmt:
        out.append(", ".join(header[keys.index(f)] if f in keys else f for f in fields))
    for line in lines[1:]:
        cols = [c.strip() for c in line.split(",")]
        row = dict(zip(keys, cols, strict=False))
        values = []
        for f in fields:
            v = row.get(f, "[N/A]")
            if "nounits" in fmt and v.endswith(" MiB"):
                v = v[:-4]
            values.append(v)
        out.append(", ".join(values))
    return "\n".join(out) + "\n"
