"""Child-process probes through ctypes: `python _native.py libcuda|level_zero` prints one JSON
line. Stdlib only (it runs with `-I -S`), so a driver that crashes or hangs cannot take the
caller with it. Output: {"driver_version": ..., "devices": [...]} / {"device_ips": [...]}, or
{"error": "..."}.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any

_LIBCUDA_CANDIDATES = (
    "libcuda.so.1",
    "libcuda.so",
    "/usr/lib64/nvidia/libcuda.so.1",
    "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
    "/usr/lib/wsl/lib/libcuda.so.1",
)


def _load(names: tuple[str, ...]) -> ctypes.CDLL:
    last = ""
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as err:
            last = str(err)
    raise OSError(f"cannot load {', '.join(names)} (last error: {last})")


def libcuda() -> dict[str, Any]:
    """cuInit, cuDriverGetVersion and, per device, name, compute capability, memory, UUID."""
    names = ("nvcuda.dll",) if sys.platform == "win32" else _LIBCUDA_CANDIDATES
    cuda = _load(names)
    rc = cuda.cuInit(0)
    if rc != 0:
        return {"error": f"cuInit failed with CUresult {rc}"}
    version = ctypes.c_int()
    rc = cuda.cuDriverGetVersion(ctypes.byref(version))
    if rc != 0:
        return {"error": f"cuDriverGetVersion failed with CUresult {rc}"}
    count = ctypes.c_int()
    devices: list[dict[str, Any]] = []
    if cuda.cuDeviceGetCount(ctypes.byref(count)) == 0:
        for i in range(count.value):
            dev = ctypes.c_int()
            if cuda.cuDeviceGet(ctypes.byref(dev), i) != 0:
                continue
            info: dict[str, Any] = {}
            major, minor = ctypes.c_int(), ctypes.c_int()
            # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76
            if (
                cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, dev) == 0
                and cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev) == 0
            ):
                info["compute_capability"] = [major.value, minor.value]
            name = ctypes.create_string_buffer(256)
            if cuda.cuDeviceGetName(name, 256, dev) == 0:
                info["name"] = name.value.decode(errors="replace")
            mem = ctypes.c_size_t()
            fn = getattr(cuda, "cuDeviceTotalMem_v2", None)
            if fn is not None and fn(ctypes.byref(mem), dev) == 0:
                info["memory_bytes"] = mem.value
            uuid = (ctypes.c_ubyte * 16)()
            if cuda.cuDeviceGetUuid(uuid, dev) == 0:
                h = bytes(uuid).hex()
                info["uuid"] = f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            devices.append(info)
    return {"driver_version": version.value, "devices": devices}


class _DeviceProps(ctypes.Structure):
    _fields_ = [
        ("stype", ctypes.c_uint32),
        ("pNext", ctypes.c_void_p),
        ("type", ctypes.c_uint32),
        ("vendorId", ctypes.c_uint32),
        ("deviceId", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("subdeviceId", ctypes.c_uint32),
        ("coreClockRate", ctypes.c_uint32),
        ("maxMemAllocSize", ctypes.c_uint64),
        ("maxHardwareContexts", ctypes.c_uint32),
        ("maxCommandQueuePriority", ctypes.c_uint32),
        ("numThreadsPerEU", ctypes.c_uint32),
        ("physicalEUSimdWidth", ctypes.c_uint32),
        ("numEUsPerSubslice", ctypes.c_uint32),
        ("numSubslicesPerSlice", ctypes.c_uint32),
        ("numSlices", ctypes.c_uint32),
        ("timerResolution", ctypes.c_uint64),
        ("timestampValidBits", ctypes.c_uint32),
        ("kernelTimestampValidBits", ctypes.c_uint32),
        ("uuid", ctypes.c_uint8 * 16),
        ("name", ctypes.c_char * 256),
    ]


class _IpVersionExt(ctypes.Structure):
    _fields_ = [
        ("stype", ctypes.c_uint32),
        ("pNext", ctypes.c_void_p),
        ("ipVersion", ctypes.c_uint32),
    ]


def level_zero() -> dict[str, Any]:
    """Intel GPUs' device IP versions (ZE_extension_device_ip_version), as the WheelNext intel
    provider reads them: zeInit(GPU) -> zeDriverGet -> zeDeviceGet -> zeDeviceGetProperties."""
    if sys.platform == "win32":
        ze = _load(
            (os.path.join(os.environ.get("WINDIR", "C:/Windows"), "System32/ze_loader.dll"),)
        )
    else:
        ze = _load(("libze_loader.so.1",))
    rc = ze.zeInit(1)  # ZE_INIT_FLAG_GPU_ONLY
    if rc != 0:
        return {"error": f"zeInit failed with {rc:#x}"}
    n = ctypes.c_uint32()
    if ze.zeDriverGet(ctypes.byref(n), None) != 0:
        return {"error": "zeDriverGet failed"}
    drivers = (ctypes.c_void_p * n.value)()
    ze.zeDriverGet(ctypes.byref(n), drivers)
    ips: list[int] = []
    for drv in drivers:
        m = ctypes.c_uint32()
        if ze.zeDeviceGet(ctypes.c_void_p(drv), ctypes.byref(m), None) != 0:
            continue
        devs = (ctypes.c_void_p * m.value)()
        ze.zeDeviceGet(ctypes.c_void_p(drv), ctypes.byref(m), devs)
        for dev in devs:
            ext = _IpVersionExt(stype=0x1000F)  # ZE_STRUCTURE_TYPE_DEVICE_IP_VERSION_EXT
            props = _DeviceProps(stype=0x3)  # ZE_STRUCTURE_TYPE_DEVICE_PROPERTIES
            props.pNext = ctypes.cast(ctypes.pointer(ext), ctypes.c_void_p)
            if ze.zeDeviceGetProperties(ctypes.c_void_p(dev), ctypes.byref(props)) != 0:
                continue
            if props.vendorId == 0x8086 and ext.ipVersion:
                ips.append(int(ext.ipVersion))
    return {"device_ips": ips}


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else ""
    try:
        if what == "libcuda":
            result = libcuda()
        elif what == "level_zero":
            result = level_zero()
        else:
            result = {"error": f"unknown probe {what!r}"}
    except Exception as err:  # reported to the parent as a reason, never raised there
        result = {"error": f"{type(err).__name__}: {err}"}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
