"""Wheel filenames with an optional PEP 825 variant label (issue 2, requirement 1)."""

from __future__ import annotations

import pytest
from packaging.tags import Tag
from packaging.version import Version

from wheelmagic.errors import InvalidWheelName
from wheelmagic.variants.filename import parse_wheel_name


@pytest.mark.parametrize(
    ("filename", "build", "label"),
    [
        # PEP 825's own examples
        ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64.whl", (), None),
        ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-x86_64_v3.whl", (), "x86_64_v3"),
        ("numpy-2.3.2-cp313-cp313t-musllinux_1_2_x86_64-null.whl", (), "null"),
        # torch 2.8's real filenames
        ("torch-2.8.0-cp313-cp313-manylinux_2_28_x86_64-cu129.whl", (), "cu129"),
        ("torch-2.8.0-cp313-cp313-manylinux_2_28_x86_64-00000000.whl", (), "00000000"),
        ("torch-2.10.0-cp313-cp313-manylinux_2_28_x86_64-cuda12.8.whl", (), "cuda12.8"),
        ("torch-2.10.0-cp313-cp313-win_amd64-xpu.whl", (), "xpu"),
        # third component starting with a digit: a build tag, not a label
        ("torch-2.8.0-1-cp313-cp313-manylinux_2_28_x86_64.whl", (1, ""), None),
        ("torch-2.8.0-12abc-cp313-cp313-manylinux_2_28_x86_64.whl", (12, "abc"), None),
        # build tag and label
        ("torch-2.8.0-1-cp313-cp313-manylinux_2_28_x86_64-null.whl", (1, ""), "null"),
        ("torch-2.8.0-7b-py3-none-any-cuda13.0.whl", (7, "b"), "cuda13.0"),
    ],
)
def test_parse_valid_names(filename: str, build: tuple[object, ...], label: str | None) -> None:
    wheel = parse_wheel_name(filename)
    assert wheel.filename == filename
    assert wheel.build == build
    assert wheel.label == label
    assert wheel.is_variant is (label is not None)
    assert wheel.is_null is (label == "null")


def test_fields_of_a_variant_name() -> None:
    wheel = parse_wheel_name("Torch-2.10.0-3-cp313-cp313-manylinux_2_28_x86_64-cuda12.8.whl")
    assert wheel.name == "torch"
    assert wheel.version == Version("2.10.0")
    assert wheel.tags == frozenset({Tag("cp313", "cp313", "manylinux_2_28_x86_64")})
    assert wheel.non_variant_filename() == "Torch-2.10.0-3-cp313-cp313-manylinux_2_28_x86_64.whl"


def test_compressed_tag_sets_keep_the_label() -> None:
    wheel = parse_wheel_name("pkg-1.0-py2.py3-none-any-x8664v3_openblas.whl")
    assert wheel.tags == frozenset({Tag("py2", "none", "any"), Tag("py3", "none", "any")})
    assert wheel.label == "x8664v3_openblas"


def test_non_variant_filename_of_a_non_variant_is_itself() -> None:
    name = "torch-2.8.0-cp313-cp313-manylinux_2_28_x86_64.whl"
    assert parse_wheel_name(name).non_variant_filename() == name


def test_label_has_no_length_cap() -> None:
    """PEP 825 (2026-08 text) and variantlib 0.2.2 dropped PEP 817's 1-16 character limit.

    An older PEP 825 draft and uv's prototype still say `^[0-9a-z_.]{1,16}$`; we follow the
    newest text, so a 17+ character label (such as a full 8-hex hash plus a suffix) parses.
    """
    label = "x86_64_v3_openblas_ilp64_" + "a" * 40
    wheel = parse_wheel_name(f"numpy-2.3.2-cp313-cp313-linux_x86_64-{label}.whl")
    assert wheel.label == label
    assert len(label) > 16


@pytest.mark.parametrize(
    ("filename", "fragment"),
    [
        ("torch-2.8.0-cp313-cp313-manylinux_2_28_x86_64-CUDA.whl", "variant label 'CUDA'"),
        ("torch-2.8.0-cp313-cp313-manylinux_2_28_x86_64-cu+129.whl", "variant label"),
        ("torch-2.8.0-cp313-cp313-manylinux_2_28_x86_64-.whl", "variant label ''"),
        ("torch-2.8.0-cp313.whl", "found 3"),
        ("torch-2.8.0-1-2-cp313-cp313-any-x.whl", "found 8"),
        ("torch-2.8.0-cp313-cp313-manylinux_2_28_x86_64.tar.gz", "does not end in .whl"),
        # 7 parts: the third must be a build tag
        ("torch-2.8.0-cp313-cp313-cp313-manylinux_2_28_x86_64-null.whl", "torch-2.8.0"),
        ("tor ch-2.8.0-py3-none-any.whl", "tor ch"),
        ("torch-notaversion-py3-none-any.whl", "notaversion"),
    ],
)
def test_malformed_names_raise_invalid_wheel_name_naming_the_file(
    filename: str, fragment: str
) -> None:
    with pytest.raises(InvalidWheelName) as info:
        parse_wheel_name(filename)
    assert repr(filename) in info.value.message
    assert fragment in info.value.message


@pytest.mark.parametrize(
    "filename",
    [
        "../torch-2.8.0-py3-none-any.whl",
        "sub/torch-2.8.0-py3-none-any.whl",
        "..\\torch-2.8.0-py3-none-any.whl",
        "/etc/torch-2.8.0-py3-none-any.whl",
        "..",
        ".",
        "",
        "torch-2.8.0-py3-none-any\x00.whl",
    ],
)
def test_path_separators_and_dot_dot_are_rejected(filename: str) -> None:
    with pytest.raises(InvalidWheelName) as info:
        parse_wheel_name(filename)
    assert repr(filename) in info.value.message
