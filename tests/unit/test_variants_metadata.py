"""variants.json parsing, validation and merging across every live schema (issue 2, req. 2)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from wheelmagic.errors import VariantMetadataError
from wheelmagic.variants.metadata import merge_metadata, parse_variants_json

DATA = Path(__file__).resolve().parent.parent / "data" / "variants"
PUBLISHED = DATA / "pytorch-published"

PEP825_SCHEMA = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
V020_SCHEMA = "https://variants-schema.wheelnext.dev/peps/826/v0.2.0.json"


def load(name: str) -> Any:
    return json.loads((PUBLISHED / name).read_text())


def pep825_example() -> dict[str, Any]:
    """PEP 825's `foo-1.2.3-variants.json` example, in its v0.1.1 form (no feature/property)."""
    return {
        "$schema": PEP825_SCHEMA,
        "default-priorities": {"namespace": ["x86_64", "aarch64", "blas_lapack"]},
        "variants": {
            "x8664v3_openblas": {
                "blas_lapack": {"library": ["openblas"]},
                "x86_64": {"level": ["v3"]},
            },
            "x8664v4_mkl": {
                "blas_lapack": {"library": ["mkl"]},
                "x86_64": {"level": ["v4"]},
            },
            "null": {},
        },
    }


def v020_example() -> dict[str, Any]:
    """A providers-draft v0.2.0 file: a plugin provider, an optional one and a static one."""
    return {
        "$schema": V020_SCHEMA,
        "default-priorities": {"namespace": ["nvidia", "x86_64", "build"]},
        "providers": {
            "nvidia": {
                "requires": ["nvidia-variant-provider>=0.0.2,<1"],
                "plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
            },
            "x86_64": {"requires": ["provider-variant-x86-64"], "optional": True},
            "build": {
                "static-properties": {"flavour": ["fast", "safe"], "abi": ["b", "a"]},
                "feature-order": ["abi", "flavour"],
            },
        },
        "variants": {
            "cu12_fast": {
                "nvidia": {"cuda_version_lower_bound": ["12.0"]},
                "build": {"flavour": ["fast"]},
            },
            "v3_safe": {"x86_64": {"level": ["v3"]}, "build": {"flavour": ["safe"]}},
            "null": {},
        },
    }


@pytest.mark.parametrize(
    ("name", "family", "labels"),
    [
        ("torch-2.8.0-variants.json", "legacy", {"00000000", "cu126", "cu128", "cu129"}),
        ("torchvision-0.23.0-variants.json", "legacy", {"00000000", "cu126", "cu128", "cu129"}),
        (
            "torch-2.9.0-variants.json",
            "v0.0.2",
            {"null", "cuda12.6", "cuda12.8", "cuda13.0", "xpu", "rocm6.3", "rocm6.4"},
        ),
        (
            "torchvision-0.24.0-variants.json",
            "v0.0.2",
            {"null", "cuda12.6", "cuda12.8", "cuda13.0", "xpu", "rocm6.3", "rocm6.4"},
        ),
        (
            "torch-2.10.0-variants.json",
            "v0.0.3",
            {"null", "cuda12.6", "cuda12.8", "cuda13.0", "xpu", "rocm7.0", "rocm7.1"},
        ),
        (
            "torchvision-0.25.0-variants.json",
            "v0.0.3",
            {"null", "cuda12.6", "cuda12.8", "cuda13.0", "xpu", "rocm7.0", "rocm7.1"},
        ),
    ],
)
def test_every_published_pytorch_file_loads(name: str, family: str, labels: set[str]) -> None:
    meta = parse_variants_json(load(name), name)
    assert meta.family == family
    assert set(meta.variants) == labels
    assert meta.source == name


def test_torch_28_zero_property_variant_is_labelled_00000000() -> None:
    meta = parse_variants_json(load("torch-2.8.0-variants.json"))
    assert meta.variants["00000000"] == {}
    assert meta.namespace_priorities == ("nvidia",)
    assert meta.variants["cu126"]["nvidia"]["cuda_version_lower_bound"] == ("12.0",)
    # value lists are sets: stored sorted whatever the file's order
    assert meta.variants["cu128"]["nvidia"]["sm_arch"] == tuple(
        sorted(load("torch-2.8.0-variants.json")["variants"]["cu128"]["nvidia"]["sm_arch"])
    )


@pytest.mark.parametrize("name", ["torch-2.9.0-variants.json", "torch-2.10.0-variants.json"])
def test_static_priority_namespace_takes_values_from_the_metadata_in_order(name: str) -> None:
    meta = parse_variants_json(load(name))
    prio = meta.providers["priority"]
    assert prio.static == {"order": ("1", "2", "3")}
    assert meta.namespace_priorities == ("nvidia", "intel", "amd", "priority")
    assert meta.providers["amd"].enable_if == "platform_system == 'Linux'"
    assert meta.providers["nvidia"].static is None
    assert meta.providers["nvidia"].requires == ("nvidia-variant-provider>=0.0.2,<1.0.0",)


def test_static_values_keep_the_metadata_order_not_sorted() -> None:
    doc = load("torch-2.10.0-variants.json")
    doc["static-properties"]["priority"]["order"] = ["3", "1", "2"]
    assert parse_variants_json(doc).providers["priority"].static == {"order": ("3", "1", "2")}


def test_pep825_v011_example_loads() -> None:
    meta = parse_variants_json(pep825_example())
    assert meta.family == "pep825"
    assert meta.namespace_priorities == ("x86_64", "aarch64", "blas_lapack")
    assert meta.providers == {}
    assert meta.variants["x8664v4_mkl"] == {
        "blas_lapack": {"library": ("mkl",)},
        "x86_64": {"level": ("v4",)},
    }


def test_v020_example_loads_with_static_feature_order_and_optional() -> None:
    meta = parse_variants_json(v020_example())
    assert meta.family == "v0.2"
    assert meta.providers["x86_64"].optional is True
    assert meta.providers["nvidia"].optional is False
    assert meta.providers["nvidia"].static is None
    static = meta.providers["build"].static
    assert static is not None
    assert list(static) == ["abi", "flavour"]  # feature-order wins over the key order
    assert static["abi"] == ("b", "a")  # values in the order given


def test_unknown_schema_is_rejected() -> None:
    doc = pep825_example()
    doc["$schema"] = "https://variants-schema.wheelnext.dev/v9.9.9.json"
    with pytest.raises(VariantMetadataError, match="unknown \\$schema"):
        parse_variants_json(doc, "foo-1.0-variants.json")


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["variants"].update({"Bad": {}}), "label"),
        (lambda d: d["variants"].update({"x": {"Blas": {"library": ["mkl"]}}}), "Blas"),
        (lambda d: d["variants"].update({"x": {"blas_lapack": {"lib-rary": ["mkl"]}}}), "lib-rary"),
        (lambda d: d["variants"].update({"x": {"blas_lapack": {"library": ["MKL"]}}}), "MKL"),
        (lambda d: d["variants"].update({"x": {"blas_lapack": {"library": ["a b"]}}}), "a b"),
        (lambda d: d["variants"].update({"x": {"blas_lapack": {"library": [""]}}}), "''"),
        (
            lambda d: d["variants"].update({"x": {"blas_lapack": {"library": "mkl"}}}),
            "list of strings",
        ),
        (
            lambda d: d["variants"].update({"x": {"blas_lapack": {"library": ["mkl", "mkl"]}}}),
            "twice",
        ),
        (lambda d: d["variants"].update({"x": {"cuda": {"v": ["1"]}}}), "'cuda'"),
        (lambda d: d["variants"].update({"null": {"x86_64": {"level": ["v3"]}}}), "null"),
        (lambda d: d["default-priorities"].update({"namespace": []}), "at least one"),
        (lambda d: d["default-priorities"].update({"namespace": ["a", "a"]}), "twice"),
        (lambda d: d["default-priorities"].update({"namespace": ["x86-64"]}), "x86-64"),
        (lambda d: d.pop("default-priorities"), "default-priorities"),
        (lambda d: d.pop("variants"), "variants"),
        (lambda d: d.update({"$schema": 3}), "\\$schema"),
    ],
)
def test_invalid_documents_are_rejected_naming_the_source(mutate: Any, fragment: str) -> None:
    doc = pep825_example()
    mutate(doc)
    with pytest.raises(VariantMetadataError, match=fragment) as info:
        parse_variants_json(doc, "foo-1.2.3-variants.json")
    assert info.value.message.startswith("foo-1.2.3-variants.json: ")


def test_value_charset_allows_dots_but_names_do_not() -> None:
    doc = pep825_example()
    doc["variants"]["x"] = {"blas_lapack": {"library": ["mkl.2025_1"]}}
    assert parse_variants_json(doc).variants["x"]["blas_lapack"]["library"] == ("mkl.2025_1",)
    doc["variants"]["x"] = {"blas_lapack": {"lib.rary": ["mkl"]}}
    with pytest.raises(VariantMetadataError):
        parse_variants_json(doc)


def test_abi_dependency_namespace_needs_no_priority_entry() -> None:
    doc = pep825_example()
    doc["variants"]["tv"] = {"abi_dependency": {"torch": ["2.9"]}}
    meta = parse_variants_json(doc)
    assert meta.variants["tv"] == {"abi_dependency": {"torch": ("2.9",)}}


def test_v003_static_provider_without_values_is_an_error() -> None:
    doc = load("torch-2.10.0-variants.json")
    del doc["static-properties"]
    with pytest.raises(VariantMetadataError, match="static"):
        parse_variants_json(doc)


# Merging ------------------------------------------------------------------------------


def _one(doc: dict[str, Any], label: str, source: str) -> Any:
    part = copy.deepcopy(doc)
    part["variants"] = {label: doc["variants"][label]}
    return parse_variants_json(part, source)


def test_merging_per_wheel_files_rebuilds_the_index_file() -> None:
    doc = load("torch-2.10.0-variants.json")
    parts = [_one(doc, label, f"{label}/variant.json") for label in doc["variants"]]
    merged = merge_metadata(parts)
    assert merged.variants == parse_variants_json(doc).variants
    assert merged.providers == parse_variants_json(doc).providers


def test_merge_namespace_lists_prefix_rule_keeps_the_longer() -> None:
    a = pep825_example()
    a["default-priorities"]["namespace"] = ["x86_64"]
    a["variants"] = {"v3": {"x86_64": {"level": ["v3"]}}}
    b = pep825_example()
    merged = merge_metadata([parse_variants_json(a, "a"), parse_variants_json(b, "b")])
    assert merged.namespace_priorities == ("x86_64", "aarch64", "blas_lapack")
    merged = merge_metadata([parse_variants_json(b, "b"), parse_variants_json(a, "a")])
    assert merged.namespace_priorities == ("x86_64", "aarch64", "blas_lapack")
    assert set(merged.variants) == {"v3", "x8664v3_openblas", "x8664v4_mkl", "null"}


def test_merge_rejects_namespace_lists_that_are_not_prefixes() -> None:
    a = pep825_example()
    b = pep825_example()
    b["default-priorities"]["namespace"] = ["aarch64", "x86_64", "blas_lapack"]
    with pytest.raises(VariantMetadataError, match="default-priorities.namespace differ"):
        merge_metadata([parse_variants_json(a, "a.json"), parse_variants_json(b, "b.json")])


def test_merge_rejects_one_label_with_two_property_sets() -> None:
    a = pep825_example()
    b = pep825_example()
    b["variants"]["x8664v4_mkl"]["x86_64"]["level"] = ["v3"]
    with pytest.raises(VariantMetadataError, match="x8664v4_mkl") as info:
        merge_metadata([parse_variants_json(a, "a.json"), parse_variants_json(b, "b.json")])
    assert "a.json" in info.value.message and "b.json" in info.value.message


def test_merge_accepts_the_same_label_with_reordered_values() -> None:
    a = pep825_example()
    a["variants"]["multi"] = {"x86_64": {"level": ["v3", "v4"]}}
    b = pep825_example()
    b["variants"]["multi"] = {"x86_64": {"level": ["v4", "v3"]}}
    merged = merge_metadata([parse_variants_json(a), parse_variants_json(b)])
    assert merged.variants["multi"] == {"x86_64": {"level": ("v3", "v4")}}


def test_merge_rejects_disagreeing_providers() -> None:
    a = load("torch-2.10.0-variants.json")
    b = copy.deepcopy(a)
    b["providers"]["amd"]["enable-if"] = "platform_system == 'Windows'"
    with pytest.raises(VariantMetadataError, match="providers.amd"):
        merge_metadata([parse_variants_json(a), parse_variants_json(b)])


def test_merge_needs_something_to_merge() -> None:
    with pytest.raises(ValueError):
        merge_metadata([])


def test_to_json_round_trips_merged_content() -> None:
    doc = load("torch-2.9.0-variants.json")
    meta = parse_variants_json(doc)
    again = parse_variants_json(meta.to_json())
    assert again.variants == meta.variants
    assert again.providers == meta.providers
    assert again.namespace_priorities == meta.namespace_priorities


# issue 16 item 5: a reserved namespace in `providers` is ignored with a note ----------------


def abi_dependency_file() -> dict[str, Any]:
    """A flash-attn-like file as published: `abi_dependency` listed under `providers`."""
    return {
        "$schema": "https://variants-schema.wheelnext.dev/v0.0.3.json",
        "default-priorities": {"namespace": ["nvidia", "abi_dependency"]},
        "providers": {
            "nvidia": {"plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin"},
            "abi_dependency": {"plugin-use": "none"},
        },
        "variants": {
            "torch28_cu12": {
                "nvidia": {"cuda_version_lower_bound": ["12.0"]},
                "abi_dependency": {"torch": ["2.8.0"]},
            }
        },
    }


def test_reserved_abi_dependency_provider_is_ignored_with_a_note() -> None:
    meta = parse_variants_json(abi_dependency_file(), "flash_attn-2.8.3-variants.json")
    assert "abi_dependency" not in meta.providers
    assert meta.properties("torch28_cu12") == {
        "nvidia": {"cuda_version_lower_bound": ("12.0",)},
        "abi_dependency": {"torch": ("2.8.0",)},
    }
    assert len(meta.notes) == 1
    assert "abi_dependency" in meta.notes[0] and "reserved" in meta.notes[0]
    assert meta.notes[0].startswith("flash_attn-2.8.3-variants.json")


def test_reserved_provider_survives_a_merge() -> None:
    a = parse_variants_json(abi_dependency_file(), "a.json")
    b = parse_variants_json(abi_dependency_file(), "b.json")
    merged = merge_metadata([a, b], "m.json")
    assert "abi_dependency" not in merged.providers
    assert merged.notes
