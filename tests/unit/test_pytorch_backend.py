"""`Backend`: every spelling PyTorch uses parses to one value; the companion policy built on it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wheelmagic.pytorch.backend import CPU, XPU, Backend
from wheelmagic.pytorch.companions import PYTORCH_COMPANIONS, companion_series, companion_version


@pytest.mark.parametrize(
    ("text", "kind", "version"),
    [
        ("cu128", "cuda", (12, 8)),
        ("+cu128", "cuda", (12, 8)),
        ("cuda12.8", "cuda", (12, 8)),
        ("cu130", "cuda", (13, 0)),
        ("cuda13.0", "cuda", (13, 0)),
        ("cu92", "cuda", (9, 2)),
        ("cu100", "cuda", (10, 0)),
        ("rocm6.4", "rocm", (6, 4)),
        ("+rocm6.2.4", "rocm", (6, 2, 4)),
        ("xpu", "xpu", ()),
        ("+xpu", "xpu", ()),
        ("cpu", "cpu", ()),
        ("+cpu", "cpu", ()),
        ("null", "cpu", ()),
        ("00000000", "cpu", ()),
    ],
)
def test_every_spelling(text: str, kind: str, version: tuple[int, ...]) -> None:
    assert Backend.parse(text) == Backend(kind, version)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "cu",
        "cu1",
        "cu1234",
        "cuda12",
        "cuda12.",
        "cuda.8",
        "rocm",
        "rocm6",
        "rocm6.4.1.2",
        "x8664v3",
        "gpu",
        "cu12.8",
        "cuda128",
        "cpu1",
        "nullx",
        "0000000",
    ],
)
def test_invalid_spellings(text: str | None) -> None:
    assert Backend.parse(text) is None


def test_renderings() -> None:
    cu = Backend("cuda", (12, 8))
    assert (cu.index_name, cu.variant_label, cu.line, str(cu)) == (
        "cu128",
        "cuda12.8",
        "cuda12.8",
        "cu128",
    )
    rocm = Backend("rocm", (6, 2, 4))
    assert (rocm.index_name, rocm.variant_label, rocm.line) == ("rocm6.2.4",) * 3
    assert (XPU.index_name, XPU.variant_label, XPU.line) == ("xpu",) * 3
    assert (CPU.index_name, CPU.variant_label, CPU.line) == ("cpu", "null", "cpu")
    assert cu.version_text == "12.8" and CPU.version_text == ""


def test_constructors_from_versions() -> None:
    assert Backend.cuda("12.8") == Backend.parse("cu128")
    assert Backend.cuda("12.8.1") == Backend.parse("cu128")
    assert Backend.cuda("12") is None and Backend.cuda("x.y") is None
    assert Backend.rocm("6.4") == Backend.parse("rocm6.4")
    assert Backend.rocm("6") is None


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValueError):
        Backend("cuda", (12,))
    with pytest.raises(ValueError):
        Backend("cpu", (1, 0))


def test_cuda_order_is_by_version() -> None:
    lines = [Backend.parse(x) for x in ("cu126", "cu130", "cu92", "cu128")]
    assert [b.index_name for b in sorted(lines)] == ["cu92", "cu126", "cu128", "cu130"]  # type: ignore[union-attr]


backends = st.one_of(
    st.builds(lambda a, b: Backend("cuda", (a, b)), st.integers(1, 99), st.integers(0, 9)),
    st.builds(
        lambda v: Backend("rocm", tuple(v)),
        st.lists(st.integers(0, 99), min_size=2, max_size=3),
    ),
    st.just(XPU),
    st.just(CPU),
)


@given(backends)
def test_every_rendering_parses_back(backend: Backend) -> None:
    for text in (backend.index_name, f"+{backend.index_name}", backend.variant_label, backend.line):
        assert Backend.parse(text) == backend


@pytest.mark.parametrize(
    ("label", "line"),
    [
        ("cuda12.8", "cuda12.8"),
        ("cu128", "cuda12.8"),
        ("cu126", "cuda12.6"),
        ("cuda13.0", "cuda13.0"),
        ("null", "cpu"),
        ("00000000", "cpu"),
        ("cpu", "cpu"),
        ("rocm7.1", "rocm7.1"),
        ("xpu", "xpu"),
        (None, None),
        ("x8664v3", None),
    ],
)
def test_companion_lines(label: str | None, line: str | None) -> None:
    assert PYTORCH_COMPANIONS.line_of(label) == line


def test_companion_versions() -> None:
    from packaging.version import Version

    assert companion_version("torchvision", Version("2.14.1")) == "0.29.1"
    assert companion_version("torchaudio", Version("2.14.1")) == "2.14.1"
    assert companion_version("torchvision", Version("9.9.0")) is None
    assert companion_series("torchvision", "2.8") == "0.23.*"
    assert companion_series("numpy", "2.8") is None
