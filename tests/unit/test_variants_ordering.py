"""Compatibility and the PEP 825 variant order (issue 2, requirements 3 and 4).

Every expected order here is computed by hand from PEP 825 §"Variant ordering": per feature the
key is (namespace index, feature index, index of the best supported value); keys sorted; lists
compared element by element; a list that is a prefix of the other loses; then the label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from packaging.tags import Tag
from packaging.version import Version

from wheelmagic.variants.metadata import VariantsMetadata, parse_variants_json
from wheelmagic.variants.ordering import (
    abi_values,
    check_compatible,
    describe_key,
    resolve_supported,
    variant_sort_key,
)
from wheelmagic.variants.selection import Candidate, Target, select

PEP825 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
V003 = "https://variants-schema.wheelnext.dev/v0.0.3.json"
TAG = Tag("py3", "none", "any")
TARGET = Target(tags=[TAG], python_version=Version("3.13"))


def meta(namespaces: list[str], variants: dict[str, Any], **extra: Any) -> VariantsMetadata:
    doc = {
        "$schema": PEP825,
        "default-priorities": {"namespace": namespaces},
        "variants": variants,
        **extra,
    }
    return parse_variants_json(doc)


def ranking(
    md: VariantsMetadata, supported: Mapping[str, Any], *, non_variant: bool = False, **kw: Any
) -> list[str | None]:
    """Labels best first, through the full `select()` pipeline (one wheel per label)."""
    cands = [Candidate(f"pkg-1.0-py3-none-any-{label}.whl", "u", "i") for label in md.variants]
    if non_variant:
        cands.append(Candidate("pkg-1.0-py3-none-any.whl", "u", "i"))
    sel = select(
        "pkg", cands, target=TARGET, supported=supported, variants={Version("1.0"): md}, **kw
    )
    return [r.label for r in sel.ranked]


# Compatibility -----------------------------------------------------------------------


def test_compatible_when_every_feature_has_one_supported_value() -> None:
    supported = {
        "nvidia": {"cuda_version_lower_bound": ["12.8", "12.0"], "sm_arch": ["89_real", "80_real"]}
    }
    props = {
        "nvidia": {
            "cuda_version_lower_bound": ("12.0",),
            "sm_arch": ("70_real", "80_real", "90_real"),
        }
    }
    assert check_compatible(props, supported) is None


def test_one_unsupported_feature_makes_it_incompatible_with_a_reason() -> None:
    supported = {
        "nvidia": {"cuda_version_lower_bound": ["12.8", "12.0"], "sm_arch": ["61_real", "60_real"]}
    }
    props = {"nvidia": {"cuda_version_lower_bound": ("12.0",), "sm_arch": ("75_real", "80_real")}}
    reason = check_compatible(props, supported)
    assert reason is not None
    assert "nvidia :: sm_arch" in reason and "75_real" in reason and "61_real" in reason


def test_unknown_namespace_or_feature_is_incompatible() -> None:
    assert check_compatible({"amd": {"gfx_arch": ("gfx90a",)}}, {}) is not None
    assert (
        check_compatible(
            {"nvidia": {"sm_arch": ("90_real",)}},
            {"nvidia": {"cuda_version_lower_bound": ["12.0"]}},
        )
        is not None
    )


def test_zero_properties_are_always_compatible() -> None:
    assert check_compatible({}, {}) is None
    assert check_compatible({}, {"nvidia": {"sm_arch": ["90_real"]}}) is None


# Ordering ------------------------------------------------------------------------------


def test_pep825_own_example() -> None:
    """PEP 825's foo-1.2.3 example: x86_64 > aarch64 > blas_lapack; v4+mkl beats v3+openblas."""
    md = meta(
        ["x86_64", "aarch64", "blas_lapack"],
        {
            "x8664v3_openblas": {
                "blas_lapack": {"library": ["openblas"]},
                "x86_64": {"level": ["v3"]},
            },
            "x8664v4_mkl": {"blas_lapack": {"library": ["mkl"]}, "x86_64": {"level": ["v4"]}},
            "null": {},
        },
    )
    supported = {
        "x86_64": {"level": ["v4", "v3", "v2", "v1"]},
        "blas_lapack": {"library": ["mkl", "openblas"]},
    }
    # v3_openblas: [(0,0,1), (2,0,1)]; v4_mkl: [(0,0,0), (2,0,0)]
    assert ranking(md, supported, non_variant=True) == [
        "x8664v4_mkl",
        "x8664v3_openblas",
        "null",
        None,
    ]
    # a v3 machine: v4 is not compatible, the null variant and the non-variant wheel remain
    v3 = {"x86_64": {"level": ["v3", "v2", "v1"]}, "blas_lapack": {"library": ["mkl", "openblas"]}}
    assert ranking(md, v3, non_variant=True) == ["x8664v3_openblas", "null", None]


def test_pep817_example_with_feature_and_property_priorities() -> None:
    """The PEP 817 / old PEP 825 example: `property.blas_lapack.library = [mkl, openblas]`
    prepends to the provider's order, so it can override a provider that prefers openblas."""
    doc = {
        "$schema": V003,
        "default-priorities": {
            "namespace": ["x86_64", "aarch64", "blas_lapack"],
            "feature": {"blas_lapack": ["library"]},
            "property": {"blas_lapack": {"library": ["mkl", "openblas"]}},
        },
        "variants": {
            "v3_openblas": {"blas_lapack": {"library": ["openblas"]}, "x86_64": {"level": ["v3"]}},
            "v3_mkl": {"blas_lapack": {"library": ["mkl"]}, "x86_64": {"level": ["v3"]}},
            "mkl_only": {"blas_lapack": {"library": ["mkl"]}},
        },
    }
    md = parse_variants_json(doc)
    supported = {
        "x86_64": {"level": ["v3", "v2"]},
        "blas_lapack": {"other": ["x"], "library": ["openblas", "mkl"]},
    }
    resolved = resolve_supported(md, supported)
    assert list(resolved["blas_lapack"]) == ["library", "other"]
    assert resolved["blas_lapack"]["library"] == ["mkl", "openblas"]
    # v3_mkl [(0,0,0),(2,0,0)] < v3_openblas [(0,0,0),(2,0,1)] < mkl_only [(2,0,0)]
    assert ranking(md, supported) == ["v3_mkl", "v3_openblas", "mkl_only"]


def test_namespace_order_dominates_value_quality() -> None:
    variants = {
        "amd_best": {"amd": {"gfx_arch": ["gfx90a"]}},
        "nv_worst": {"nvidia": {"sm_arch": ["50_real"]}},
    }
    md = meta(["nvidia", "amd"], variants)
    supported = {
        "nvidia": {"sm_arch": ["90_real", "80_real", "50_real"]},
        "amd": {"gfx_arch": ["gfx90a"]},
    }
    assert ranking(md, supported) == ["nv_worst", "amd_best"]
    md2 = meta(["amd", "nvidia"], variants)
    assert ranking(md2, supported) == ["amd_best", "nv_worst"]


def test_feature_order_comes_from_the_provider() -> None:
    md = meta(
        ["nvidia"],
        {
            "sm_only": {"nvidia": {"sm_arch": ["90_real"]}},
            "lb_only": {"nvidia": {"cuda_version_lower_bound": ["11.0"]}},
        },
    )
    lb_first = {"nvidia": {"cuda_version_lower_bound": ["12.0", "11.0"], "sm_arch": ["90_real"]}}
    sm_first = {"nvidia": {"sm_arch": ["90_real"], "cuda_version_lower_bound": ["12.0", "11.0"]}}
    assert ranking(md, lb_first) == ["lb_only", "sm_only"]
    assert ranking(md, sm_first) == ["sm_only", "lb_only"]


def test_more_properties_win_when_one_key_list_is_a_prefix() -> None:
    md = meta(
        ["x86_64"],
        {
            "v3": {"x86_64": {"level": ["v3"]}},
            "v3_avx512": {"x86_64": {"level": ["v3"], "avx512f": ["on"]}},
            "avx512": {"x86_64": {"avx512f": ["on"]}},
            "v2": {"x86_64": {"level": ["v2"]}},
        },
    )
    supported = {"x86_64": {"level": ["v4", "v3", "v2"], "avx512f": ["on"]}}
    # v3_avx512 [(0,0,1),(0,1,0)] < v3 [(0,0,1)] < v2 [(0,0,2)] < avx512 [(0,1,0)]
    assert ranking(md, supported) == ["v3_avx512", "v3", "v2", "avx512"]


def test_multi_value_feature_uses_its_best_supported_value() -> None:
    md = meta(
        ["nvidia"],
        {
            "wide": {"nvidia": {"sm_arch": ["80_real", "90_real"]}},
            "narrow": {"nvidia": {"sm_arch": ["86_real"]}},
        },
    )
    assert ranking(md, {"nvidia": {"sm_arch": ["90_real", "86_real", "80_real"]}}) == [
        "wide",
        "narrow",
    ]
    # on an 8.6 machine `wide` only matches through 80_real (index 1)
    assert ranking(md, {"nvidia": {"sm_arch": ["86_real", "80_real"]}}) == ["narrow", "wide"]


def test_ties_on_best_values_fall_back_to_the_label() -> None:
    md = meta(
        ["ns"],
        {
            "zeta": {"ns": {"f": ["a", "c"]}},
            "alpha": {"ns": {"f": ["a", "b"]}},
            "mid": {"ns": {"f": ["a"]}},
            "same_b": {"ns": {"f": ["b"], "g": ["x"]}},
            "same_a": {"ns": {"f": ["b"], "g": ["x"]}},
        },
    )
    supported = {"ns": {"f": ["a", "b", "c"], "g": ["x"]}}
    assert ranking(md, supported) == ["alpha", "mid", "zeta", "same_a", "same_b"]


def test_several_namespaces_and_features_hand_computed() -> None:
    """ns order [gpu, cpu, blas]; gpu features [driver, arch]; cpu [level]; blas [lib]."""
    md = meta(
        ["gpu", "cpu", "blas"],
        {
            "a": {"gpu": {"driver": ["12"], "arch": ["sm90"]}, "blas": {"lib": ["mkl"]}},
            "b": {"gpu": {"driver": ["12"], "arch": ["sm80", "sm90"]}},
            "c": {"gpu": {"driver": ["11"]}, "cpu": {"level": ["v4"]}},
            "d": {"cpu": {"level": ["v3", "v4"]}, "blas": {"lib": ["openblas"]}},
            "e": {"cpu": {"level": ["v3"]}, "blas": {"lib": ["mkl"]}},
            "f": {"blas": {"lib": ["mkl", "openblas"]}},
            "g": {"gpu": {"arch": ["sm86"]}},  # incompatible
            "null": {},
        },
    )
    supported = {
        "gpu": {"driver": ["12", "11"], "arch": ["sm90", "sm80"]},
        "cpu": {"level": ["v4", "v3"]},
        "blas": {"lib": ["openblas", "mkl"]},
    }
    # a: [(0,0,0),(0,1,0),(2,0,1)]   b: [(0,0,0),(0,1,0)]   c: [(0,0,1),(1,0,0)]
    # d: [(1,0,0),(2,0,0)]           e: [(1,0,1),(2,0,1)]   f: [(2,0,0)]
    assert ranking(md, supported, non_variant=True) == ["a", "b", "c", "d", "e", "f", "null", None]


def test_sort_key_of_the_prefix_rule() -> None:
    supported = {"ns": {"f": ["x", "y"], "g": ["z"]}}
    short = variant_sort_key({"ns": {"f": ("x",)}}, ["ns"], supported)
    long_ = variant_sort_key({"ns": {"f": ("x",), "g": ("z",)}}, ["ns"], supported)
    worse = variant_sort_key({"ns": {"f": ("y",)}}, ["ns"], supported)
    null = variant_sort_key({}, ["ns"], supported)
    assert long_ < short < worse < null


def test_null_then_non_variant_come_last_even_with_better_tags() -> None:
    linux = Tag("cp313", "cp313", "manylinux_2_28_x86_64")
    target = Target(tags=[linux, TAG], python_version=Version("3.13"))
    md = meta(["ns"], {"fast": {"ns": {"f": ["v"]}}, "null": {}})
    cands = [
        Candidate("pkg-1.0-cp313-cp313-manylinux_2_28_x86_64.whl", "u", "i"),
        Candidate("pkg-1.0-cp313-cp313-manylinux_2_28_x86_64-null.whl", "u", "i"),
        Candidate("pkg-1.0-py3-none-any-fast.whl", "u", "i"),
    ]
    sel = select(
        "pkg", cands, target=target, supported={"ns": {"f": ["v"]}}, variants={Version("1.0"): md}
    )
    assert [r.label for r in sel.ranked] == ["fast", "null", None]


def test_zero_property_variants_rank_after_real_variants() -> None:
    """torch 2.8 labels its zero-property variant `00000000`: it behaves as the null variant."""
    md = meta(["nvidia"], {"00000000": {}, "cu126": {"nvidia": {"sm_arch": ["90_real"]}}})
    assert ranking(md, {"nvidia": {"sm_arch": ["90_real"]}}, non_variant=True) == [
        "cu126",
        "00000000",
        None,
    ]
    assert ranking(md, {}, non_variant=True) == ["00000000", None]


# Supported properties ------------------------------------------------------------------


def _v003(providers: dict[str, Any], static: dict[str, Any] | None = None) -> VariantsMetadata:
    doc: dict[str, Any] = {
        "$schema": V003,
        "default-priorities": {"namespace": list(providers)},
        "providers": providers,
        "variants": {"null": {}},
    }
    if static:
        doc["static-properties"] = static
    return parse_variants_json(doc)


def test_static_namespace_ignores_the_platform_and_keeps_metadata_order() -> None:
    md = _v003(
        {"priority": {"install-time": False, "requires": []}},
        {"priority": {"order": ["2", "1", "3"]}},
    )
    assert resolve_supported(md, {"priority": {"order": ["9"]}}) == {
        "priority": {"order": ["2", "1", "3"]}
    }


def test_enable_if_is_evaluated_on_the_target_environment() -> None:
    md = _v003({"amd": {"enable-if": "platform_system == 'Linux'", "requires": ["x"]}})
    amd = {"amd": {"gfx_arch": ["gfx90a"], "rocm_version": ["7.1"]}}
    assert resolve_supported(md, amd, marker_env={"platform_system": "Linux"}) == amd
    assert resolve_supported(md, amd, marker_env={"platform_system": "Windows"}) == {}


def test_optional_providers_are_off_unless_enabled() -> None:
    doc = {
        "$schema": "https://variants-schema.wheelnext.dev/v0.2.0.json",
        "default-priorities": {"namespace": ["x86_64"]},
        "providers": {"x86_64": {"requires": ["provider-variant-x86-64"], "optional": True}},
        "variants": {"v3": {"x86_64": {"level": ["v3"]}}},
    }
    md = parse_variants_json(doc)
    plat = {"x86_64": {"level": ["v4", "v3"]}}
    assert resolve_supported(md, plat) == {}
    assert resolve_supported(md, plat, enable_optional=["x86_64"]) == plat
    assert ranking(md, plat) == []
    assert ranking(md, plat, enable_optional=["x86_64"]) == ["v3"]


def test_abi_dependency_values() -> None:
    assert abi_values(Version("2.9.1")) == ["2.9.1", "2.9", "2"]
    assert abi_values(Version("2.10")) == ["2.10.0", "2.10", "2"]
    md = meta(["ns"], {"tv": {"abi_dependency": {"torch": ["2.9"]}}})
    assert ranking(md, {}, abi_versions={"torch": Version("2.9.1")}) == ["tv"]
    assert ranking(md, {}, abi_versions={"torch": Version("2.10.0")}) == []
    assert ranking(md, {}) == []


def test_abi_dependency_on_a_dashed_project_name() -> None:
    md = meta(["ns"], {"ext": {"abi_dependency": {"my_pkg": ["1.2"]}}})
    assert ranking(md, {}, abi_versions={"My.Pkg": Version("1.2.3")}) == ["ext"]


def test_describe_key_names_the_deciding_properties() -> None:
    text = describe_key(
        {"nvidia": {"sm_arch": ("80_real", "90_real")}},
        ["nvidia"],
        {"nvidia": {"sm_arch": ["86_real", "80_real"]}},
    )
    assert text == "nvidia :: sm_arch :: 80_real (#2)"
    assert describe_key({}, ["nvidia"], {}) == "no properties (null variant)"
