"""The companion policy: torch decides, torchvision and torchaudio follow its release and line.

The PEP 825 engine (`wheelmagic.variants.selection.select_together`) knows nothing of PyTorch;
it takes this policy as a parameter: which package is the anchor, and which labels are one
build line (`cu128`, `+cu128` and `cuda12.8` are all CUDA 12.8). The release tables a fix uses
to pin companions (torch 2.14.1 -> torchvision 0.29.1) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from wheelmagic.pytorch import facts
from wheelmagic.pytorch.backend import Backend

if TYPE_CHECKING:
    from wheelmagic.installed import InstalledBuild


@dataclass(frozen=True)
class PyTorchCompanions:
    """`wheelmagic.variants.selection.CompanionPolicy` for the PyTorch family."""

    #: the package whose build the others must follow, in this order of preference
    anchors: tuple[str, ...] = ("torch",)

    def line_of(self, label: str | None) -> str | None:
        """`cuda12.8`, `cu128` -> `cuda12.8`; `null`, `cpu`, `00000000` -> `cpu`; else None."""
        backend = Backend.parse(label)
        return backend.line if backend is not None else None


PYTORCH_COMPANIONS = PyTorchCompanions()


def companion_version(name: str, torch_version: Version) -> str | None:
    """The companion release that goes with a torch version: torch 2.14.1 -> torchvision 0.29.1."""
    release = f"{torch_version.major}.{torch_version.minor}"
    series = companion_series(name, release)
    return series.replace("*", str(torch_version.micro)) if series else None


def companion_series(name: str, release: str) -> str | None:
    """The companion series of a torch minor release: 2.14 -> torchvision `0.29.*`."""
    if name == "torchvision":
        for tv, tr in facts.TORCHVISION_TO_TORCH.items():
            if tr == release:
                return f"{tv}.*"
        return None
    if name == "torchaudio":
        return f"{release}.*"
    return None


def torch_pin_accepts(build: InstalledBuild, torch: InstalledBuild) -> bool | None:
    """Whether a companion's Requires-Dist pin on torch accepts the installed torch.

    None when the companion does not pin torch. The full version (`2.11.0+cu130`) is checked,
    so a pin like `==2.11.0+cu128` rejects a cu130 torch while `==2.11.0` accepts any build.
    """
    if not build.requires_torch:
        return None
    spec = SpecifierSet(build.requires_torch)
    if spec.contains(torch.full_version, prereleases=True):
        return True
    if torch.local is None:  # torch's build label is unknown: judge the release alone
        public = SpecifierSet(",".join(str(s).split("+")[0] for s in spec))
        return public.contains(torch.version, prereleases=True)
    return False
