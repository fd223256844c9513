"""Platform facts: the `Platform` snapshot, `detect()`, and reading snapshots back.

`current_platform()` is what `wheelmagic.app` calls: an explicit file, else
`WHEELMAGIC_PLATFORM`, else probing this machine. Importing this package (or the model)
imports no probe: `detect`, `Probes` and `SystemProbes` load on first use, so the pure layers
that read a `Platform` never pull in `subprocess` or `ctypes`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping

from wheelmagic.errors import PlatformError
from wheelmagic.platform.model import (
    AmdInfo,
    AppleInfo,
    CpuInfo,
    GpuInfo,
    IntelInfo,
    NvidiaInfo,
    Platform,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from wheelmagic.platform.detect import detect
    from wheelmagic.platform.probes import Probes, SystemProbes

__all__ = [
    "AmdInfo",
    "AppleInfo",
    "CpuInfo",
    "GpuInfo",
    "IntelInfo",
    "NvidiaInfo",
    "Platform",
    "Probes",
    "SystemProbes",
    "current_platform",
    "detect",
    "load_platform",
]


def load_platform(path: str | os.PathLike[str]) -> Platform:
    """Read a snapshot written by `wheelmagic detect --json` (or by hand)."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as err:
        raise PlatformError(
            f"{name}: cannot read platform snapshot: {err.strerror or err}",
            hint="check the path given to --platform / WHEELMAGIC_PLATFORM",
        ) from err
    except json.JSONDecodeError as err:
        raise PlatformError(f"{name}: platform snapshot is not valid JSON: {err}") from err
    return Platform.from_json(data, source=name)


def current_platform(
    platform_file: str | None = None, env: Mapping[str, str] | None = None
) -> Platform:
    """The platform to plan for: `platform_file` > `WHEELMAGIC_PLATFORM` > `detect()`."""
    if env is None:
        env = os.environ
    if platform_file:
        return load_platform(platform_file)
    from_env = env.get("WHEELMAGIC_PLATFORM", "").strip()
    if from_env:
        return load_platform(from_env)
    return _detect()(env)


def _detect() -> Callable[[Mapping[str, str] | None], Platform]:
    """`detect`, imported now. Loading the submodule `detect` binds the package attribute of
    that name to the module; the function takes the name back, as an eager import would."""
    from wheelmagic.platform.detect import detect as function

    globals()["detect"] = function
    return function


def __getattr__(name: str) -> object:
    """The probing names, imported on first use (see the module docstring)."""
    if name == "detect":
        return _detect()
    if name in ("Probes", "SystemProbes"):
        from wheelmagic.platform import probes

        return getattr(probes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
