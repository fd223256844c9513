"""The probe boundary: every fact detection reads from the machine goes through `Probes`.

`SystemProbes` touches the real machine; `wheelmagic.platform.recorded.RecordedProbes` replays
facts recorded on real machines, so tests drive every detection path without patching internals.
Probes may raise: detection turns each exception into a reason string in `Platform.sources`.
"""

from __future__ import annotations

import glob as _glob
import json
import os
import platform as _platform
import subprocess
import sys
from collections.abc import Sequence
from typing import Any, Protocol

#: where WSL2 puts the Windows driver's Linux libraries and nvidia-smi
WSL_LIB_DIR = "/usr/lib/wsl/lib"


class Probes(Protocol):
    """What detection may ask the machine. Every method may raise; none should hang."""

    def system(self) -> str:
        """`platform.system()`: "Linux", "Darwin", "Windows"."""
        ...

    def machine(self) -> str:
        """`platform.machine()`: "x86_64", "aarch64", "arm64", "AMD64"."""
        ...

    def mac_ver(self) -> str:
        """`platform.mac_ver()[0]`, "" elsewhere."""
        ...

    def read_file(self, path: str) -> str | None:
        """The text of a small file, or None when it does not exist or cannot be read."""
        ...

    def glob(self, pattern: str) -> list[str]:
        """Existing paths matching `pattern`, sorted."""
        ...

    def run(self, argv: Sequence[str], timeout: float) -> tuple[int, str]:
        """Run a program: (exit status, stdout). Raises OSError when it cannot start and
        `subprocess.TimeoutExpired` when it runs past `timeout`."""
        ...

    def nvml(self, library: str | None = None) -> Any:
        """The `pynvml` module (imported lazily), bound to `library` when given (WSL2)."""
        ...

    def libcuda_query(self, timeout: float) -> dict[str, Any]:
        """Ask libcuda in a child process: {"driver_version": 13000, "devices": [{"name",
        "compute_capability": [9, 0], "memory_bytes", "uuid"}]}; all devices, CVD ignored."""
        ...

    def level_zero_device_ips(self, timeout: float) -> list[int]:
        """Raw 32-bit device IP versions of Intel GPUs from Level Zero, in a child process."""
        ...

    def archspec_host(self) -> dict[str, Any]:
        """archspec's view of the host CPU: {"name", "generic", "features"}; used where
        /proc/cpuinfo is not available (macOS, Windows)."""
        ...


class SystemProbes:
    """The real machine."""

    def system(self) -> str:
        return _platform.system()

    def machine(self) -> str:
        return _platform.machine()

    def mac_ver(self) -> str:
        return _platform.mac_ver()[0]

    def read_file(self, path: str) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read(1 << 20)
        except OSError:
            return None

    def glob(self, pattern: str) -> list[str]:
        return sorted(_glob.glob(pattern))

    def run(self, argv: Sequence[str], timeout: float) -> tuple[int, str]:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        return proc.returncode, proc.stdout

    def nvml(self, library: str | None = None) -> Any:
        import pynvml  # lazily: ~50 ms, and absent on some installs

        if library is not None:
            from ctypes import CDLL

            pynvml.nvmlLib = CDLL(library)  # pynvml loads its library only when unset
        return pynvml

    def libcuda_query(self, timeout: float) -> dict[str, Any]:
        return _child_json("libcuda", timeout)

    def level_zero_device_ips(self, timeout: float) -> list[int]:
        result = _child_json("level_zero", timeout)
        return [int(v) for v in result["device_ips"]]

    def archspec_host(self) -> dict[str, Any]:
        import archspec.cpu  # lazily: ~40 ms at import

        host = archspec.cpu.host()
        return {"name": host.name, "generic": host.generic.name, "features": sorted(host.features)}


def _child_json(what: str, timeout: float) -> dict[str, Any]:
    """Run `_native.py what` (stdlib only, isolated mode) and parse its last JSON line; a
    crash there (a broken driver can segfault in cuInit) or a hang stays in the child."""
    env = dict(os.environ)
    env.pop("CUDA_VISIBLE_DEVICES", None)  # "" would hide every device (CUDA_ERROR_NO_DEVICE)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", os.path.join(os.path.dirname(__file__), "_native.py"), what],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        raise RuntimeError(f"{what} probe exited with status {proc.returncode}: {tail[0]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    if "error" in data:
        raise RuntimeError(str(data["error"]))
    return dict(data)
