"""Variant environment markers (issue 2, requirement 6), PEP 825 semantics: the properties a
marker sees are the selected variant's, filtered to those the platform supports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import InvalidRequirement, Requirement

from wheelmagic.variants.markers import (
    MarkerSyntaxError,
    VariantEnvironment,
    evaluate,
    fold_marker,
    has_variant_markers,
    rewrite_requires_dist,
)
from wheelmagic.variants.metadata import parse_variants_json
from wheelmagic.variants.ordering import resolve_supported

PUBLISHED = Path(__file__).resolve().parent.parent / "data" / "variants" / "pytorch-published"
TORCH_210 = parse_variants_json(json.loads((PUBLISHED / "torch-2.10.0-variants.json").read_text()))
LINUX = {"platform_system": "Linux", "sys_platform": "linux", "python_version": "3.13"}
WINDOWS = {"platform_system": "Windows", "sys_platform": "win32", "python_version": "3.13"}
RTX4090 = {
    "nvidia": {
        "cuda_version_lower_bound": ["12.8", "12.7", "12.6", "12.0"],
        "sm_arch": ["89_real", "88_real", "87_real", "86_real", "80_real", "80_virtual"],
    }
}
ARC = {"intel": {"device_ip": ["20.1.0"]}}

CUBLAS = "nvidia-cublas==12.8.4.1; platform_system == 'Linux' and variant_label == 'cuda12.8'"
TRITON = "triton==3.6.0; platform_system == 'Linux' and 'nvidia' in variant_namespaces"
MKL = "mkl==2025.3.0; 'intel' in variant_namespaces"
PLAIN = "filelock>=3.0"
TORCH_REQUIRES = [PLAIN, CUBLAS, TRITON, MKL]


def env_for(
    label: str | None, platform: dict[str, Any], marker_env: dict[str, str] = LINUX
) -> VariantEnvironment:
    supported = resolve_supported(TORCH_210, platform, marker_env=marker_env)
    props = TORCH_210.variants[label] if label is not None else {}
    return VariantEnvironment.for_wheel(label, props, supported)


def applies(lines: list[str], env: VariantEnvironment, marker_env: dict[str, str]) -> list[str]:
    # stock `packaging` cannot parse these lines (InvalidRequirement), so split by hand
    return [
        line.split(";")[0].split("=")[0].split(">")[0].strip()
        for line in lines
        if evaluate(line, env, marker_env)
    ]


def test_environment_is_filtered_to_supported_properties() -> None:
    env = env_for("cuda12.8", RTX4090)
    assert env.label == "cuda12.8"
    assert env.namespaces == {"nvidia", "priority"}
    assert env.features == {
        "nvidia :: cuda_version_lower_bound",
        "nvidia :: sm_arch",
        "priority :: order",
    }
    assert env.properties == {
        "nvidia :: cuda_version_lower_bound :: 12.0",
        "nvidia :: sm_arch :: 80_real",
        "nvidia :: sm_arch :: 86_real",
        "priority :: order :: 2",
    }
    assert "nvidia :: sm_arch :: 90_real" not in env.properties  # built for, not supported


def test_non_variant_and_null_environments() -> None:
    plain = VariantEnvironment.for_wheel(None, {}, RTX4090)
    assert (plain.label, plain.properties, plain.features, plain.namespaces) == (
        "",
        frozenset(),
        frozenset(),
        frozenset(),
    )
    null = env_for("null", RTX4090)
    assert null == VariantEnvironment.null()
    assert null.label == "null" and not null.namespaces


@pytest.mark.parametrize(
    ("label", "platform", "marker_env", "expected"),
    [
        ("cuda12.8", RTX4090, LINUX, ["filelock", "nvidia-cublas", "triton"]),
        ("cuda12.8", RTX4090, WINDOWS, ["filelock"]),
        ("cuda12.6", RTX4090, LINUX, ["filelock", "triton"]),
        ("xpu", ARC, LINUX, ["filelock", "mkl"]),
        ("xpu", ARC, WINDOWS, ["filelock", "mkl"]),
        ("null", RTX4090, LINUX, ["filelock"]),
        (None, RTX4090, LINUX, ["filelock"]),
    ],
)
def test_torch_requires_dist(
    label: str | None, platform: dict[str, Any], marker_env: dict[str, str], expected: list[str]
) -> None:
    assert applies(TORCH_REQUIRES, env_for(label, platform, marker_env), marker_env) == expected


def test_pep825_marker_examples() -> None:
    env = VariantEnvironment.for_wheel(
        "foobar", {"foo": {"bar": ("baz", "qux")}}, {"foo": {"bar": ["baz"]}}
    )
    assert evaluate('dep1; "foo" in variant_namespaces', env, LINUX)
    assert evaluate('dep2; "foo :: bar" in variant_features', env, LINUX)
    assert evaluate('dep3; "foo :: bar :: baz" in variant_properties', env, LINUX)
    assert not evaluate('dep3; "foo :: bar :: qux" in variant_properties', env, LINUX)
    assert evaluate('dep4; variant_label == "foobar"', env, LINUX)
    assert evaluate('dep5; variant_label != "null"', env, LINUX)
    assert not evaluate('dep6; variant_label == ""', env, LINUX)
    plain = VariantEnvironment.for_wheel(None, {}, {})
    assert evaluate('dep5; variant_label != "null"', plain, LINUX)
    assert evaluate('dep6; variant_label == ""', plain, LINUX)
    assert not evaluate('dep5; variant_label != "null"', VariantEnvironment.null(), LINUX)


def test_whitespace_in_features_and_properties_is_ignored() -> None:
    env = env_for("cuda12.8", RTX4090)
    assert fold_marker("'nvidia::sm_arch' in variant_features", env) is True
    assert fold_marker("'nvidia ::sm_arch::  86_real' in variant_properties", env) is True
    assert fold_marker("'nvidia :: sm_arch :: 90_real' not in variant_properties", env) is True
    assert fold_marker("'cuda12.8' == variant_label", env) is True
    assert fold_marker('variant_label=="cuda12.8"', env) is True


def test_fold_keeps_the_other_markers_for_stock_installers() -> None:
    env = env_for("cuda12.8", RTX4090)
    assert (
        fold_marker("platform_system == 'Linux' and variant_label == 'cuda12.8'", env)
        == "platform_system == 'Linux'"
    )
    assert fold_marker("platform_system == 'Linux' and variant_label == 'xpu'", env) is False
    folded = fold_marker(
        "(platform_system == 'Linux' or platform_system == 'Windows') and "
        "('intel' in variant_namespaces or variant_label == 'cuda12.8')",
        env,
    )
    assert isinstance(folded, str)
    assert folded == "platform_system == 'Linux' or platform_system == 'Windows'"
    mixed = fold_marker(
        "python_version >= '3.10' and (platform_system == 'Linux' or "
        "'intel' in variant_namespaces)",
        env,
    )
    assert mixed == "python_version >= '3.10' and platform_system == 'Linux'"


def test_rewrite_requires_dist_for_stock_installers() -> None:
    env = env_for("cuda12.8", RTX4090)
    out = rewrite_requires_dist(TORCH_REQUIRES, env)
    assert out == [
        PLAIN,
        "nvidia-cublas==12.8.4.1; platform_system == 'Linux'",
        "triton==3.6.0; platform_system == 'Linux'",
    ]
    for line in out:
        Requirement(line)  # stock packaging accepts every line
    xpu = rewrite_requires_dist(TORCH_REQUIRES, env_for("xpu", ARC))
    assert xpu == [PLAIN, "mkl==2025.3.0"]


def test_has_variant_markers() -> None:
    assert has_variant_markers(CUBLAS) and has_variant_markers(MKL)
    assert not has_variant_markers(PLAIN)
    assert not has_variant_markers("foo; platform_system == 'Linux'")
    for line in (CUBLAS, TRITON, MKL):  # why we fold them ourselves
        with pytest.raises(InvalidRequirement):
            Requirement(line)


@pytest.mark.parametrize(
    "marker",
    [
        "variant_namespaces == 'nvidia'",
        "variant_label < 'cuda'",
        "variant_label in variant_namespaces and",
        "(variant_label == 'x'",
        "variant_label == 'x' xor platform_system == 'Linux'",
    ],
)
def test_malformed_variant_markers_raise(marker: str) -> None:
    with pytest.raises(MarkerSyntaxError):
        fold_marker(marker, env_for("cuda12.8", RTX4090))
