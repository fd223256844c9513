"""`Backend`: which accelerator a PyTorch build is for, parsed once from every spelling.

PyTorch names one build in several ways: the per-backend index and local version label
(`cu128`, `+cu128`, `rocm6.4`, `xpu`, `cpu`), the variant label of its variant wheels
(`cuda12.8`, `rocm6.4`, `xpu`, `null`, and torch 2.8's `00000000` for the null variant). All
of them parse here into one closed value, as uv's `uv-torch` `TorchBackend` does; everything
else (index names, labels, the accelerator line companions must share) is rendered from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

BackendKind = Literal["cuda", "rocm", "xpu", "cpu"]

#: Labels of the null (CPU) variant: PEP 825's `null`, torch 2.8's `00000000`.
_NULL_LABELS = frozenset({"null", "00000000"})

# `cu128` (minor is the last digit: `cu92` is 9.2, `cu130` is 13.0), `cuda12.8`, `rocm6.2.4`.
_INDEX_CUDA = re.compile(r"cu(\d{1,2})(\d)")
_LABEL_CUDA = re.compile(r"cuda(\d{1,2})\.(\d{1,2})")
_ROCM = re.compile(r"rocm(\d+(?:\.\d+){1,2})")


@dataclass(frozen=True, order=True)
class Backend:
    """One PyTorch accelerator build line: CUDA X.Y, ROCm X.Y[.Z], XPU or CPU."""

    kind: BackendKind
    #: (12, 8) for CUDA, (6, 4) or (6, 2, 4) for ROCm, () for XPU and CPU
    version: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        want = {"cuda": (2,), "rocm": (2, 3), "xpu": (0,), "cpu": (0,)}[self.kind]
        if len(self.version) not in want:
            raise ValueError(f"{self.kind} backend with version {self.version!r}")

    @classmethod
    def parse(cls, text: str | None) -> Backend | None:
        """Any spelling -> the backend; None when `text` names no PyTorch backend.

        Labels come from indexes and installed files, so an unknown one is data ("not a PyTorch
        build line", e.g. `x8664v3`), not an error.
        """
        if not text:
            return None
        text = text.strip().lower().removeprefix("+")
        if text in _NULL_LABELS or text == "cpu":
            return CPU
        if text == "xpu":
            return XPU
        m = _INDEX_CUDA.fullmatch(text) or _LABEL_CUDA.fullmatch(text)
        if m:
            return cls("cuda", (int(m.group(1)), int(m.group(2))))
        m = _ROCM.fullmatch(text)
        if m:
            return cls("rocm", tuple(int(p) for p in m.group(1).split(".")))
        return None

    @classmethod
    def cuda(cls, version: str) -> Backend | None:
        """`"12.8"` (torch.version.cuda, a CUDA lower bound) -> CUDA 12.8; None if not maj.min."""
        parts = version.strip().split(".")
        if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
            return None
        return cls("cuda", (int(parts[0]), int(parts[1])))

    @classmethod
    def rocm(cls, version: str) -> Backend | None:
        """`"6.4"` / `"6.2.4"` -> ROCm; None when it is not 2 or 3 numbers."""
        return cls.parse(f"rocm{version}")

    @property
    def version_text(self) -> str:
        """`12.8`, `6.2.4`; empty for XPU and CPU."""
        return ".".join(str(n) for n in self.version)

    @property
    def index_name(self) -> str:
        """PyTorch's per-backend index and local label: `cu128`, `rocm6.4`, `xpu`, `cpu`."""
        if self.kind == "cuda":
            return f"cu{self.version[0]}{self.version[1]}"
        if self.kind == "rocm":
            return f"rocm{self.version_text}"
        return self.kind

    @property
    def variant_label(self) -> str:
        """The label PyTorch's variant wheels use: `cuda12.8`, `rocm6.4`, `xpu`, `null`."""
        if self.kind == "cuda":
            return f"cuda{self.version_text}"
        if self.kind == "cpu":
            return "null"
        return self.index_name

    @property
    def line(self) -> str:
        """The accelerator line torch and its companions must share: `cuda12.8`, `cpu`, ..."""
        return "cpu" if self.kind == "cpu" else self.variant_label

    def __str__(self) -> str:
        return self.index_name


CPU = Backend("cpu")
XPU = Backend("xpu")
