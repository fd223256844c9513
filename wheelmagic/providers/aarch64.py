"""The `aarch64` namespace: ``version`` (the host's generic arch, then its ancestors, capped at
9.0a) and per-flag features ``on``, as the WheelNext provider-variant-aarch64 reports them. Pure."""

from __future__ import annotations

from wheelmagic.platform.model import Platform
from wheelmagic.providers._numbers import numbers

#: archspec's generic aarch64 chain, newest first (armv9.0a's parent is armv8.5a). Source:
#: archspec's microarchitectures.json, as provider-variant-aarch64 uses it.
AARCH64_VERSIONS = ("9.0a", "8.5a", "8.4a", "8.3a", "8.2a", "8.1a", "8a")


def properties(platform: Platform) -> dict[str, list[str]]:
    """feature -> values, best first; {} on other architectures or an unknown version."""
    cpu = platform.cpu
    if cpu is None or not cpu.aarch64_version or platform.arch not in (None, "aarch64"):
        return {}
    version = cpu.aarch64_version
    if version not in AARCH64_VERSIONS:  # newer than 9.0a: cap as the reference does
        version = AARCH64_VERSIONS[0] if numbers(version) > (9, 0) else "8a"
    out = {"version": list(AARCH64_VERSIONS[AARCH64_VERSIONS.index(version) :])}
    out.update({f: ["on"] for f in cpu.features or ()})
    return out
