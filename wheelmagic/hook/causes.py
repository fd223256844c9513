"""Why an import of torch (or a companion) failed: the error texts PyTorch and the dynamic
loader give, as one table of patterns, each mapped to a cause in one sentence.

Imported only when an import has already failed, so it may use anything it likes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCause:
    """What an import error means, in one sentence, with a short stable kind.

    `kind`: missing-library, no-driver, undefined-symbol, companion-mismatch, driver-too-old,
    gpu-unsupported, rocm-no-binary.
    """

    kind: str
    summary: str
    library: str | None = None


#: Accelerator libraries (CUDA, ROCm, oneAPI): a missing one means a mismatched build.
ACCELERATOR_LIBRARIES = (
    "libcudnn",
    "libcublas",
    "libcudart",
    "libcufft",
    "libcurand",
    "libcusolver",
    "libcusparse",
    "libnccl",
    "libnvjitlink",
    "libnvrtc",
    "libcupti",
    "libnvtoolsext",
    "libcufile",
    "libnvshmem",
    "libcusparselt",
    "libnvtx",
    "libcuda",
    "libamdhip",
    "libhsa",
    "libmiopen",
    "librocm",
    "librccl",
    "libhipblas",
    "libze_",
    "libsycl",
)


def _missing_library(m: re.Match[str]) -> ErrorCause:
    base = m.group(1).rsplit("/", 1)[-1]
    if base.startswith("libcuda.so") or base.lower().startswith("nvcuda"):
        return ErrorCause(
            "no-driver",
            f"the NVIDIA driver library {base} is missing: "
            "this machine has no usable NVIDIA driver for a CUDA build",
            base,
        )
    what = (
        "an accelerator library"
        if base.lower().startswith(ACCELERATOR_LIBRARIES)
        else "a shared library"
    )
    return ErrorCause(
        "missing-library", f"{what} the installed build needs is missing: {base}", base
    )


def _driver_too_old(m: re.Match[str]) -> ErrorCause:
    found = ""
    if m.group(1):
        v = int(m.group(1))
        found = f" (driver supports CUDA {v // 1000}.{v % 1000 // 10})"
    return ErrorCause(
        "driver-too-old", f"the build needs a newer CUDA than the NVIDIA driver offers{found}"
    )


#: (pattern, cause) in the order they are tried on each message; the first match wins.
#: Sources: glibc's dlopen message, Windows' LoadLibrary message, PyTorch's own errors in
#: torch/cuda/__init__.py (`_check_driver`, `_check_capability`) and torchvision's ops.
RULES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], ErrorCause]], ...] = (
    (
        re.compile(
            r"(lib[\w.+-]*?\.so(?:\.[\d.]+)?|[\w.+-]+\.dll): cannot open shared object file"
        ),
        _missing_library,
    ),
    (re.compile(r"(?:Could not find module|Error loading) '?\"?([^'\"]+?\.dll)"), _missing_library),
    (
        re.compile(r"undefined symbol: (\S+)"),
        lambda m: ErrorCause(
            "undefined-symbol",
            "a compiled library does not match the one it was built against "
            f"(undefined symbol {m.group(1)}): the builds are mixed",
        ),
    ),
    (
        re.compile(r"operator (torch\w*)::(\w+) does not exist"),
        lambda m: ErrorCause(
            "companion-mismatch",
            f"{m.group(1)} was built for another torch than the one installed "
            f"(operator {m.group(1)}::{m.group(2)} is missing)",
        ),
    ),
    (
        re.compile(r"The NVIDIA driver on your system is too old(?:.*?found version (\d+))?", re.S),
        _driver_too_old,
    ),
    (
        re.compile(r"Found no NVIDIA driver on your system"),
        lambda m: ErrorCause(
            "no-driver", "a CUDA build is installed but there is no NVIDIA driver"
        ),
    ),
    (
        re.compile(
            r"is not compatible with the current PyTorch installation"
            r"|no kernel image is available for execution on the device"
            r"|PyTorch no longer supports this GPU"
            r"|does not include kernels for this GPU"
        ),
        lambda m: ErrorCause("gpu-unsupported", "the build has no kernels for this GPU"),
    ),
    (
        re.compile(r"hipErrorNoBinaryForGpu|HIP error: invalid device function"),
        lambda m: ErrorCause("rocm-no-binary", "the ROCm build has no code for this GPU"),
    ),
)


def error_texts(err: BaseException) -> list[str]:
    """The messages of an exception and the ones it was raised from (a bounded walk)."""
    texts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen and len(texts) < 8:
        seen.add(id(cur))
        texts.append(str(cur))
        cur = cur.__cause__ or cur.__context__
    return texts


def classify_error(err: BaseException) -> ErrorCause | None:
    """Map an exception raised while importing torch (or a companion) to a known cause."""
    for text in error_texts(err):
        for pattern, cause in RULES:
            m = pattern.search(text)
            if m is not None:
                return cause(m)
    return None
