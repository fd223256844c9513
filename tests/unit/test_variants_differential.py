"""Differential test: our engine against variantlib 0.2.2, the WheelNext reference.

variantlib reads the providers draft's v0.2.0 schema and asks plugins for supported properties.
We feed it the same supported lists as our engine through its own plugin loader: once through a
real plugin module on PYTHONPATH (its subprocess protocol), and for the hypothesis runs by
answering its subprocess call in-process (variantlib is the reference here, not our code).

Known, deliberate differences (each pinned by a test below):
- variantlib always injects an implicit null variant; PEP 825 ranks files, so a label without a
  wheel is dropped (we never rank a label that has no file).
- an `optional` provider with `static-properties`: variantlib uses the static values even when
  the provider is not enabled; the providers draft disables an optional provider first.
- variantlib rejects every published PyTorch file (tested against hand-computed expectations in
  test_variants_selection.py instead).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

pytest.importorskip("variantlib")

from variantlib import api as vl_api  # noqa: E402
from variantlib.errors import ValidationError  # noqa: E402
from variantlib.plugins import loader as vl_loader  # noqa: E402

from wheelmagic.variants.metadata import parse_variants_json  # noqa: E402
from wheelmagic.variants.selection import Candidate, Target, select  # noqa: E402

V020 = "https://variants-schema.wheelnext.dev/v0.2.0.json"
PUBLISHED = Path(__file__).resolve().parent.parent / "data" / "variants" / "pytorch-published"
TARGET = Target(tags=[Tag("py3", "none", "any")], python_version=Version("3.13"))
NAMESPACES = ["ns_a", "ns_b", "ns_c"]
FEATURES = ["f1", "f2", "f3"]
VALUES = ["0", "1", "2", "3", "4"]
PLUGIN_MODULE = "wm_fake_variant_plugins"


def ours(
    doc: dict[str, Any],
    supported: Mapping[str, Any],
    labels: list[str],
    enable_optional: list[str] | None = None,
) -> list[str | None]:
    md = parse_variants_json(doc)
    cands = [Candidate(f"pkg-1.0-py3-none-any-{label}.whl", "u", "i") for label in labels]
    sel = select(
        "pkg",
        cands,
        target=TARGET,
        supported=supported,
        variants={Version("1.0"): md},
        enable_optional=enable_optional or (),
    )
    # one deliberate difference (issue 15): a variant whose only fault is a static value its
    # file does not declare is kept, after the others, with a note; variantlib drops it
    kept = [r for r in sel.ranked if not r.why.startswith("uses undeclared static properties")]
    return [r.label for r in kept]


@contextmanager
def fake_plugins(supported: Mapping[str, Mapping[str, list[str]]]) -> Iterator[None]:
    """Answer variantlib's plugin subprocess in-process: `{method: {plugin_api: [configs]}}`."""

    def run(
        self: Any, plugin_apis: tuple[str, ...], commands: bytes, args: tuple[str, ...]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for command in json.loads(commands):
            if command == "load":
                out[command] = {}
                continue
            out[command] = {
                api: [
                    {"name": f, "values": list(vs), "multi_value": True}
                    for f, vs in supported.get(api.partition(":")[2], {}).items()
                ]
                for api in plugin_apis
            }
        return out

    vl_loader.VARIANT_PROVIDER_CACHE_TABLE.clear()
    with mock.patch.object(vl_loader.BasePluginLoader, "_run_call_subprocess", run):
        yield
    vl_loader.VARIANT_PROVIDER_CACHE_TABLE.clear()


def reference(doc: dict[str, Any], enable_optional: list[str] | None = None) -> list[str]:
    result = vl_api.get_variants_by_priority(
        variants_json=doc, enable_optional_plugins=enable_optional or False
    )
    return [vdesc.label for vdesc in result]


def with_wheels(labels: list[str], doc: dict[str, Any]) -> list[str]:
    """variantlib's order restricted to labels that have a wheel (drops the injected null)."""
    return [label for label in labels if label in doc["variants"]]


# Hypothesis inputs in variantlib's v0.2.0 format -----------------------------------------


@st.composite
def subsets(draw: st.DrawFn, items: list[str], min_size: int = 0) -> list[str]:
    order = draw(st.permutations(items))
    return list(order[: draw(st.integers(min_size, len(items)))])


@st.composite
def v020_inputs(draw: st.DrawFn) -> dict[str, Any]:
    namespaces = draw(subsets(NAMESPACES, 1))
    providers: dict[str, Any] = {}
    plugin_supported: dict[str, dict[str, list[str]]] = {}
    optional: list[str] = []
    for ns in namespaces:
        features = {f: draw(subsets(VALUES, 1)) for f in draw(subsets(FEATURES, 1))}
        if draw(st.booleans()):
            providers[ns] = {"static-properties": features, "feature-order": list(features)}
        else:
            providers[ns] = {
                "requires": [f"fake-{ns}-provider"],
                "plugin-api": f"{PLUGIN_MODULE}:{ns}",
            }
            if draw(st.booleans()):
                plugin_supported[ns] = features
            if draw(st.booleans()):
                providers[ns]["optional"] = True
                if draw(st.booleans()):
                    optional.append(ns)
    labels = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9_.]{0,5}", fullmatch=True), unique=True, max_size=7
        ).map(lambda ls: [x for x in ls if x != "null"])
    )
    known = {
        ns: p.get("static-properties") or plugin_supported.get(ns) or {}
        for ns, p in providers.items()
    }

    def feature_values(ns: str) -> dict[str, list[str]]:
        # mostly features/values the provider knows, so that many variants are compatible
        if known[ns] and draw(st.integers(0, 3)):
            return {
                f: sorted(draw(subsets(known[ns][f], 1)) + draw(subsets(VALUES))[:1])
                for f in draw(subsets(list(known[ns]), 1))
            }
        return {f: sorted(draw(subsets(VALUES, 1))) for f in draw(subsets(FEATURES, 1))}

    variants: dict[str, Any] = {
        label: {
            ns: {f: sorted(set(vs)) for f, vs in feature_values(ns).items()}
            for ns in draw(subsets(namespaces, 1))
        }
        for label in labels
    }
    if draw(st.booleans()):
        variants["null"] = {}
    doc = {
        "$schema": V020,
        "default-priorities": {"namespace": namespaces},
        "providers": providers,
        "variants": variants,
    }
    return {"doc": doc, "plugin_supported": plugin_supported, "optional": optional}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v020_inputs())
def test_same_compatible_set_and_order_as_variantlib(case: dict[str, Any]) -> None:
    doc, plugin_supported = case["doc"], case["plugin_supported"]
    with fake_plugins(plugin_supported):
        expected = with_wheels(reference(json.loads(json.dumps(doc)), case["optional"]), doc)
    got = ours(doc, plugin_supported, list(doc["variants"]), case["optional"])
    assert got == expected


# Fixed cases ------------------------------------------------------------------------------


def torch_like_v020() -> dict[str, Any]:
    """torch 2.10's file converted to v0.2.0 the way research/variants.md §4.2 describes."""
    src = json.loads((PUBLISHED / "torch-2.10.0-variants.json").read_text())
    providers = {
        ns: {"requires": p["requires"], "plugin-api": f"{PLUGIN_MODULE}:{ns}"}
        for ns, p in src["providers"].items()
        if ns != "priority"
    }
    providers["intel"]["optional"] = True
    providers["amd"]["optional"] = True
    providers["priority"] = {"static-properties": src["static-properties"]["priority"]}
    return {
        "$schema": V020,
        "default-priorities": src["default-priorities"],
        "providers": providers,
        "variants": src["variants"],
    }


NVIDIA_128_89 = {
    "nvidia": {
        "cuda_version_lower_bound": [
            "12.8",
            "12.7",
            "12.6",
            "12.5",
            "12.4",
            "12.3",
            "12.2",
            "12.1",
            "12.0",
            "12",
        ],
        "sm_arch": [f"8{m}_real" for m in range(9, -1, -1)] + ["80_virtual"],
    }
}


def test_converted_torch_210_file_matches_variantlib_and_the_research_notes() -> None:
    doc = torch_like_v020()
    with fake_plugins(NVIDIA_128_89):
        expected = reference(doc)
    assert expected == ["cuda12.8", "cuda12.6", "null"]  # research/variants.md §4.2, [V]
    assert ours(doc, NVIDIA_128_89, list(doc["variants"])) == expected


def test_real_plugin_module_through_variantlibs_subprocess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No monkeypatching of variantlib: a plugin module on PYTHONPATH, run in its subprocess."""
    (tmp_path / f"{PLUGIN_MODULE}.py").write_text(
        textwrap.dedent("""
        import json, os
        from dataclasses import dataclass

        @dataclass
        class Config:
            name: str
            values: list
            multi_value: bool

        class Plugin:
            def __init__(self, namespace):
                self.namespace = namespace
            def get_supported_configs(self):
                table = json.loads(os.environ["WM_FAKE_SUPPORTED"]).get(self.namespace, {})
                return [Config(f, vs, True) for f, vs in table.items()]
            get_all_configs = get_supported_configs

        nvidia = Plugin("nvidia")
        intel = Plugin("intel")
        amd = Plugin("amd")
    """)
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("WM_FAKE_SUPPORTED", json.dumps(NVIDIA_128_89))
    vl_loader.VARIANT_PROVIDER_CACHE_TABLE.clear()
    try:
        doc = torch_like_v020()
        expected = reference(doc, ["amd"])
    finally:
        vl_loader.VARIANT_PROVIDER_CACHE_TABLE.clear()
    assert expected == ["cuda12.8", "cuda12.6", "null"]
    assert ours(doc, NVIDIA_128_89, list(doc["variants"]), ["amd"]) == expected


def test_variantlib_injects_a_null_variant_without_a_wheel_and_we_drop_it() -> None:
    doc = {
        "$schema": V020,
        "default-priorities": {"namespace": ["ns_a"]},
        "providers": {"ns_a": {"static-properties": {"f1": ["1"]}}},
        "variants": {"one": {"ns_a": {"f1": ["1"]}}},
    }
    with fake_plugins({}):
        assert reference(doc) == ["one", "null"]
    assert ours(doc, {}, ["one"]) == ["one"]


def test_optional_static_provider_differs_from_variantlib_and_follows_the_draft() -> None:
    """variantlib reads `static-properties` even for a disabled optional provider; the
    providers draft (§ obtaining supported properties, step 1) disables it first."""
    doc = {
        "$schema": V020,
        "default-priorities": {"namespace": ["ns_a"]},
        "providers": {"ns_a": {"static-properties": {"f1": ["1"]}, "optional": True}},
        "variants": {"one": {"ns_a": {"f1": ["1"]}}, "null": {}},
    }
    with fake_plugins({}):
        assert reference(doc) == ["one", "null"]
    assert ours(doc, {}, ["one", "null"]) == ["null"]
    assert ours(doc, {}, ["one", "null"], ["ns_a"]) == ["one", "null"]


@pytest.mark.parametrize("name", sorted(p.name for p in PUBLISHED.glob("*.json")))
def test_variantlib_rejects_every_published_pytorch_file(name: str) -> None:
    doc = json.loads((PUBLISHED / name).read_text())
    with fake_plugins({}), pytest.raises((ValidationError, KeyError, TypeError, ValueError)):
        reference(doc)
    assert parse_variants_json(doc).variants  # while we read it
