"""The `intel` namespace: ``device_ip`` as detected, each followed by the base IP it is also
compatible with, as the WheelNext intel provider reports them. Pure."""

from __future__ import annotations

from wheelmagic.platform.model import Platform

#: Intel device IP -> the base IP it is also compatible with. Source: intel-variant-provider.
INTEL_COMPAT_IP: dict[str, str] = {"30.1.0": "30.0.4"}


def properties(platform: Platform) -> dict[str, list[str]]:
    """feature -> values, best first; {} without an Intel GPU."""
    intel = platform.intel
    if intel is None or not intel.device_ip:
        return {}
    ips: list[str] = []
    for ip in intel.device_ip:
        for v in (ip, INTEL_COMPAT_IP.get(ip)):
            if v and v not in ips:
                ips.append(v)
    return {"device_ip": ips}
