"""The `x86_64` namespace: psABI ``level`` ``vN … v1`` and per-flag features ``on``, as the
WheelNext provider-variant-x86-64 reports them. Pure."""

from __future__ import annotations

from wheelmagic.platform.model import Platform


def properties(platform: Platform) -> dict[str, list[str]]:
    """feature -> values, best first; {} on other architectures or an unknown level."""
    cpu = platform.cpu
    if cpu is None or not cpu.x86_64_level or platform.arch not in (None, "x86_64"):
        return {}
    out = {"level": [f"v{n}" for n in range(min(cpu.x86_64_level, 4), 0, -1)]}
    out.update({f: ["on"] for f in cpu.features or ()})
    return out
