"""The `amd` namespace: ``gfx_arch`` as detected (sorted) and ``rocm_version`` exactly the
detected maj.min, as the WheelNext amd provider reports them. Pure."""

from __future__ import annotations

from wheelmagic.platform.model import Platform


def properties(platform: Platform) -> dict[str, list[str]]:
    """feature -> values; {} without an AMD GPU or ROCm."""
    amd = platform.amd
    out: dict[str, list[str]] = {}
    if amd is None:
        return out
    if amd.gfx:
        out["gfx_arch"] = sorted(amd.gfx)
    if amd.rocm_version:
        out["rocm_version"] = [amd.rocm_version]
    return out
