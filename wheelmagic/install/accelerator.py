"""Say so when the chosen build leaves an accelerator of this machine unused.

A GPU machine that gets a CPU build because no GPU build on the indexes fits it must not be
told "all fine": `unused_accelerator` returns the one warning the plan carries (a row in the
plan, the magic's output, `preinstall`'s summary line), with the reason in one line and the
next step. Pure: it reads the platform snapshot, the selection and the variants metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import NormalizedName
from packaging.version import Version

from wheelmagic.platform.model import Platform
from wheelmagic.variants.filename import InvalidWheelName, parse_wheel_name
from wheelmagic.variants.metadata import VariantsMetadata
from wheelmagic.variants.ordering import SupportedProperties
from wheelmagic.variants.properties import Properties
from wheelmagic.variants.selection import CompanionPolicy, Ranked, Selection, variant_name

#: PEP 825 provider namespaces of accelerators (wheelmagic.providers: one namespace each)
ACCELERATOR_NAMESPACES = ("nvidia", "amd", "intel")


@dataclass(frozen=True)
class UnusedAccelerator:
    """The chosen build runs on the CPU although the machine has `device`."""

    package: str
    device: str
    reason: str
    next_step: str

    def __str__(self) -> str:
        return f"{self.package} does not use {self.device}: {self.reason}; next: {self.next_step}"


def machine_accelerators(platform: Platform) -> dict[str, str]:
    """namespace -> the device in words, for each accelerator the snapshot shows."""
    out: dict[str, str] = {}
    nv = platform.nvidia
    if nv is not None and nv.gpus:
        names = sorted({g.name or "NVIDIA GPU" for g in nv.gpus})
        ccs = sorted(
            {f"sm_{g.compute_capability.replace('.', '')}" for g in nv.gpus if g.compute_capability}
        )
        extra = f" ({', '.join(ccs)})" if ccs else ""
        out["nvidia"] = f"the {' and '.join(names)}{extra}"
    if platform.amd is not None and platform.amd.gfx:
        out["amd"] = f"the AMD GPU ({', '.join(platform.amd.gfx)})"
    if platform.intel is not None and platform.intel.device_ip:
        out["intel"] = "the Intel GPU"
    return out


def uses_accelerator(chosen: Ranked, companions: CompanionPolicy) -> bool:
    if any(ns in chosen.properties for ns in ACCELERATOR_NAMESPACES):
        return True
    line = companions.line_of(chosen.label)
    if line is None and chosen.version.local:
        line = companions.line_of(chosen.version.local)
    return line not in (None, "cpu")


def unused_accelerator(
    *,
    platform: Platform,
    requested: Sequence[NormalizedName],
    selections: Mapping[NormalizedName, Selection],
    chosen: Mapping[NormalizedName, Ranked],
    variants: Mapping[str, Mapping[Version, VariantsMetadata]],
    supported: SupportedProperties,
    companions: CompanionPolicy,
    variant_label: str | None,
) -> UnusedAccelerator | None:
    """The warning for the first requested package whose chosen build leaves a GPU unused.

    Only packages that have accelerator builds matter: an anchor (torch), or a package with
    an accelerator variant on the indexes. `--variant` asks for a build by name: no warning.
    """
    devices = machine_accelerators(platform)
    if not devices or variant_label is not None:
        return None
    anchors = set(companions.anchors)
    for name in requested:
        pick = chosen.get(name)
        sel = selections.get(name)
        if pick is None or sel is None or uses_accelerator(pick, companions):
            continue
        gpu_builds = _accelerator_builds(name, sel, variants.get(name, {}), devices)
        if name not in anchors and not gpu_builds:
            continue
        ns = gpu_builds[0][1] if gpu_builds else next(iter(devices))
        device = devices[ns]
        what = f"{name} {pick.version} [{variant_name(pick.label)}]"
        if not gpu_builds:
            return UnusedAccelerator(
                what,
                device,
                f"these indexes have no {ns.upper() if ns != 'nvidia' else 'CUDA'} build of {name}",
                "add an index with GPU builds (for PyTorch: --torch-backend auto), or "
                "--variant null to choose the CPU build on purpose",
            )
        version, ns, label, props = gpu_builds[0]
        why, step = _why_not(ns, props, supported, platform)
        return UnusedAccelerator(
            what,
            device,
            f"no {name} build on these indexes fits it (the newest, {version} [{label}], {why})",
            step,
        )
    return None


def _accelerator_builds(
    name: str,
    sel: Selection,
    metas: Mapping[Version, VariantsMetadata],
    devices: Mapping[str, str],
) -> list[tuple[Version, str, str, Properties]]:
    """(version, namespace, label, properties) of rejected builds for this machine's devices,
    newest first."""
    out = []
    for rej in sel.rejected:
        if rej.kind != "variant-unsupported":
            continue
        try:
            wheel = parse_wheel_name(rej.filename)
        except InvalidWheelName:
            continue
        meta = metas.get(wheel.version)
        props = meta.properties(wheel.label) if meta is not None and wheel.label else None
        ns = next(
            (n for n in ACCELERATOR_NAMESPACES if props and n in props and n in devices), None
        )
        if props is not None and ns is not None and wheel.label is not None:
            out.append((wheel.version, ns, wheel.label, props))
    return sorted(out, key=lambda t: t[0], reverse=True)


def _why_not(
    ns: str, props: Properties, supported: SupportedProperties, platform: Platform
) -> tuple[str, str]:
    """The first unmet feature of `props` in words, and the next step."""
    have = supported.get(ns, {})
    for feature, values in props.get(ns, {}).items():
        if any(v in have.get(feature, []) for v in values):
            continue
        nv = platform.nvidia
        if feature == "cuda_version_lower_bound":
            need = min(values, key=_num)
            driver = nv.driver_version if nv else None
            cuda = nv.cuda_driver_version if nv else None
            return (
                f"needs CUDA {need}; driver {driver} supports CUDA {cuda}",
                f"update the NVIDIA driver to one for CUDA {need} or newer (`wheelmagic doctor` "
                "names it), or add an index with builds for CUDA "
                f"{cuda} (for PyTorch: --torch-backend auto)",
            )
        if feature == "sm_arch":
            built = ", ".join(sorted({v.split("_")[0] for v in values}, key=_num))
            return (
                f"has kernels for sm_{built.replace(', ', ', sm_')} only",
                "an older release may still have kernels for this GPU (`--explain` shows every "
                "build considered); or --variant null to choose the CPU build on purpose",
            )
        return (
            f"needs {ns} :: {feature} to be one of {', '.join(values)}",
            "`wheelmagic doctor` and `--explain` show what this machine supports",
        )
    return ("does not fit this machine", "`--explain` shows why")


def _num(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.replace("_", ".").split(".") if p.isdigit())
    except ValueError:
        return (0,)
