"""Property-based tests of the variant engine: random metadata, supported lists and candidates.

The order is total, deterministic and independent of the input order; null and non-variant
placement always holds; every compatible file ranks and every other has a reason; and the
variant order equals a literal transcription of PEP 825's reference pseudocode.
"""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

from wheelmagic.variants.metadata import VariantsMetadata, parse_variants_json
from wheelmagic.variants.ordering import check_compatible, resolve_supported
from wheelmagic.variants.selection import Candidate, Target, select

PEP825 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
TAGS = {
    "linux": Tag("cp313", "cp313", "manylinux_2_28_x86_64"),
    "old": Tag("cp313", "cp313", "manylinux_2_17_x86_64"),
    "any": Tag("py3", "none", "any"),
    "win": Tag("cp313", "cp313", "win_amd64"),
}
PLATS = {
    "linux": "cp313-cp313-manylinux_2_28_x86_64",
    "old": "cp313-cp313-manylinux_2_17_x86_64",
    "any": "py3-none-any",
    "win": "cp313-cp313-win_amd64",
}
TARGET = Target(tags=[TAGS["linux"], TAGS["old"], TAGS["any"]], python_version=Version("3.13"))
NAMESPACES = ["ns_a", "ns_b", "ns_c"]
FEATURES = ["f1", "f2", "f3"]
VALUES = ["0", "1", "2", "3", "4"]
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def subsets(draw: st.DrawFn, items: list[str], min_size: int = 0) -> list[str]:
    """A subset of `items` in a random order."""
    order = draw(st.permutations(items))
    return list(order[: draw(st.integers(min_size, len(items)))])


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    namespaces = draw(subsets(NAMESPACES, 1))
    supported = {
        ns: {f: draw(subsets(VALUES, 1)) for f in draw(subsets(FEATURES))}
        for ns in draw(subsets(namespaces))
    }
    supported = {ns: fs for ns, fs in supported.items() if fs}

    def props() -> dict[str, dict[str, list[str]]]:
        return {
            ns: {f: sorted(draw(subsets(VALUES, 1))) for f in draw(subsets(FEATURES, 1))}
            for ns in draw(subsets(namespaces, 1))
        }

    labels = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9_.]{0,5}", fullmatch=True), unique=True, max_size=7
        ).map(lambda ls: [x for x in ls if x != "null"])
    )
    variants: dict[str, Any] = {label: props() for label in labels}
    if draw(st.booleans()):
        variants["null"] = {}
    versions = draw(subsets(["1.0", "1.1", "2.0", "2.0rc1"], 1))
    files: dict[str, str | None] = {}
    for version in versions:
        for label in [*variants, None]:
            for plat in draw(subsets(list(PLATS))):
                build = draw(st.sampled_from(["", "-1", "-2"]))
                suffix = "" if label is None else f"-{label}"
                files[f"pkg-{version}{build}-{PLATS[plat]}{suffix}.whl"] = label
    return {
        "namespaces": namespaces,
        "supported": supported,
        "variants": variants,
        "versions": versions,
        "files": sorted(files),
        "labels": files,
    }


def metadata(sc: dict[str, Any]) -> VariantsMetadata:
    return parse_variants_json(
        {
            "$schema": PEP825,
            "default-priorities": {"namespace": sc["namespaces"]},
            "variants": sc["variants"],
        }
    )


def run(sc: dict[str, Any], files: list[str]) -> Any:
    md = metadata(sc)
    return select(
        "pkg",
        [Candidate(f, "u", "i") for f in files],
        target=TARGET,
        supported=sc["supported"],
        variants={Version(v): md for v in sc["versions"]},
        prereleases=True,
    )


@SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_ranking_is_deterministic_and_independent_of_input_order(
    sc: dict[str, Any], rnd: Any
) -> None:
    first = [r.candidate.filename for r in run(sc, sc["files"]).ranked]
    shuffled = list(sc["files"])
    rnd.shuffle(shuffled)
    again = run(sc, shuffled)
    assert [r.candidate.filename for r in again.ranked] == first
    assert len(set(first)) == len(first)  # total: no file ranked twice
    assert [r.candidate.filename for r in run(sc, sc["files"]).ranked] == first


@SETTINGS
@given(scenarios())
def test_every_file_ranks_or_has_a_reason(sc: dict[str, Any]) -> None:
    sel = run(sc, sc["files"])
    ranked = {r.candidate.filename for r in sel.ranked}
    rejected = {r.filename: r for r in sel.rejected}
    assert ranked | set(rejected) == set(sc["files"])
    assert not ranked & set(rejected)
    md = metadata(sc)
    sup = resolve_supported(md, sc["supported"])
    for f in sc["files"]:
        label = sc["labels"][f]
        tags_ok = PLATS["win"] not in f
        compatible = tags_ok and (
            label is None or check_compatible(md.variants[label], sup) is None
        )
        assert (f in ranked) is compatible, f
        if f in rejected:
            assert rejected[f].reason and rejected[f].kind in ("tags", "variant-unsupported")


@SETTINGS
@given(scenarios())
def test_versions_first_then_variants_then_null_then_non_variant(sc: dict[str, Any]) -> None:
    sel = run(sc, sc["files"])
    md = metadata(sc)

    def klass(r: Any) -> int:
        if r.label is None:
            return 2
        return 1 if not md.variants[r.label] else 0

    keys = [
        (-1 * sorted(map(Version, sc["versions"])).index(r.version), klass(r)) for r in sel.ranked
    ]
    assert keys == sorted(keys)


# PEP 825's reference algorithm, transcribed as literally as possible -----------------------


def pep825_sort(labels: list[str], md: VariantsMetadata, supported: dict[str, Any]) -> list[str]:
    namespace_order = list(md.namespace_priorities)
    feature_order: dict[str, list[str]] = {}
    value_order: dict[str, dict[str, list[str]]] = {}
    for namespace in namespace_order:
        feature_order[namespace] = []
        for feature_name in supported.get(namespace, {}):
            if feature_name not in feature_order[namespace]:
                feature_order[namespace].append(feature_name)
        value_order[namespace] = {}
        for feature_name in feature_order[namespace]:
            value_order[namespace][feature_name] = []
            for value in supported[namespace][feature_name]:
                if value not in value_order[namespace][feature_name]:
                    value_order[namespace][feature_name].append(value)

    def property_key(prop: tuple[str, str, str]) -> tuple[int, int, int]:
        namespace, feature_name, feature_value = prop
        return (
            namespace_order.index(namespace),
            feature_order[namespace].index(feature_name),
            value_order[namespace][feature_name].index(feature_value),
        )

    def best(namespace: str, feature_name: str, values: Any) -> str:
        for value in value_order[namespace][feature_name]:
            if value in values:
                return value
        raise AssertionError("incompatible variant in the sort")

    def sorted_properties(label: str) -> list[tuple[str, str, str]]:
        props = [
            (ns, f, best(ns, f, vs))
            for ns, fs in md.variants[label].items()
            for f, vs in fs.items()
        ]
        return sorted(props, key=property_key)

    def cmp(a: str, b: str) -> int:
        sa, sb = sorted_properties(a), sorted_properties(b)
        for pa, pb in zip(sa, sb, strict=False):
            if pa != pb:
                return -1 if property_key(pa) < property_key(pb) else 1
        if len(sa) != len(sb):
            return -1 if len(sa) > len(sb) else 1
        return -1 if a < b else (1 if a > b else 0)

    return sorted(labels, key=functools.cmp_to_key(cmp))


@SETTINGS
@given(scenarios())
def test_variant_order_equals_the_pep825_pseudocode(sc: dict[str, Any]) -> None:
    md = metadata(sc)
    files = [f"pkg-1.0-py3-none-any-{label}.whl" for label in md.variants]
    sel = select(
        "pkg",
        [Candidate(f, "u", "i") for f in files],
        target=TARGET,
        supported=sc["supported"],
        variants={Version("1.0"): md},
    )
    compatible = [
        label
        for label in md.variants
        if check_compatible(md.variants[label], sc["supported"]) is None
    ]
    assert [r.label for r in sel.ranked] == pep825_sort(compatible, md, sc["supported"])
