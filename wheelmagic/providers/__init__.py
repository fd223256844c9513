"""Built-in variant providers: `Platform` -> supported properties, best first. Pure: no I/O.

One module per namespace (`nvidia`, `x86_64`, `aarch64`, `amd`, `intel`); each says where it
follows the WheelNext reference provider and where it goes past it. No code from an index ever
runs. This package imports only `wheelmagic.variants` and the platform model, never the probes.
"""

from __future__ import annotations

from collections.abc import Callable

from wheelmagic.platform.model import Platform
from wheelmagic.providers import aarch64, amd, intel, nvidia, x86_64
from wheelmagic.providers._numbers import numbers
from wheelmagic.providers.aarch64 import AARCH64_VERSIONS
from wheelmagic.providers.nvidia import (
    MVC_FLOORS,
    cuda_lower_bounds,
    cuda_upper_bounds,
    sm_archs_runnable_on,
)

__all__ = [
    "explain",
    "supported_properties",
    "cuda_lower_bounds",
    "cuda_upper_bounds",
    "sm_archs_runnable_on",
    "AARCH64_VERSIONS",
    "MVC_FLOORS",
    "PROVIDER_NAMESPACES",
]

#: namespace -> its provider, in the order namespaces are reported.
PROVIDERS: dict[str, Callable[[Platform], dict[str, list[str]]]] = {
    "nvidia": nvidia.properties,
    "x86_64": x86_64.properties,
    "aarch64": aarch64.properties,
    "amd": amd.properties,
    "intel": intel.properties,
}

#: the hardware namespaces only these providers answer: an index's static claim about one is
#: ignored (`wheelmagic.variants.ordering.without_static_claims`), never trusted
PROVIDER_NAMESPACES: frozenset[str] = frozenset(PROVIDERS)


def supported_properties(platform: Platform) -> dict[str, dict[str, list[str]]]:
    """namespace -> feature -> values, best first; only namespaces that apply."""
    out: dict[str, dict[str, list[str]]] = {}
    for namespace, provider in PROVIDERS.items():
        if features := provider(platform):
            out[namespace] = features
    return out


def explain(platform: Platform) -> list[str]:
    """Human lines: what the providers make of the platform, and why something is missing."""
    lines = nvidia.explain(platform)
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
        ok = bool(v != "?" and numbers(v) >= (12, 3))
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
