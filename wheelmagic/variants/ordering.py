"""Compatibility and the PEP 825 variant order.

A variant is compatible when, for every feature it lists, at least one of its values is
supported. Variants are ordered by PEP 825 §"Variant ordering": for each listed feature take
`(namespace index, feature index, index of its best supported value)`, sort those keys, compare
the lists element by element; when one is a prefix of the other the longer list wins; then the
label. Zero-property variants (the null variant) therefore come after every other variant.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelmagic.variants.metadata import VariantsMetadata
from wheelmagic.variants.properties import ABI_DEPENDENCY, Properties

#: ns -> feature -> values, best first. Feature order within a namespace is significant.
SupportedProperties = Mapping[str, Mapping[str, Sequence[str]]]

#: Sorts after every real key, so that a longer key list wins over its own prefix.
_END = (float("inf"),)


def _dedupe(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def abi_values(version: Version) -> list[str]:
    """`abi_dependency` values a co-installed `version` satisfies, most specific first."""
    release = version.release + (0, 0)
    return [
        f"{release[0]}.{release[1]}.{release[2]}",
        f"{release[0]}.{release[1]}",
        f"{release[0]}",
    ]


def abi_feature(name: str) -> str:
    """`abi_dependency` features are project names with `-` as `_` (feature names allow no `-`)."""
    return canonicalize_name(name).replace("-", "_")


def static_claims(metadata: VariantsMetadata, provided: Collection[str]) -> list[str]:
    """The namespaces in `provided` that `metadata` answers itself (static, no plugin), sorted.

    `provided` is the caller's set of namespaces that only its own providers may answer (the
    machine's hardware). An index that declares one of them static with its own "supported"
    values would decide, from the outside, what this machine can run.
    """
    return sorted(
        ns for ns, p in metadata.providers.items() if p.static is not None and ns in provided
    )


def without_static_claims(
    metadata: VariantsMetadata, provided: Collection[str]
) -> tuple[VariantsMetadata, list[str]]:
    """`metadata` with its static answers for `provided` namespaces dropped, and one line each.

    The namespaces stay (their variants keep their properties); who supports which value is
    then the caller's providers' answer, as for any plugin namespace.
    """
    claimed = static_claims(metadata, provided)
    if not claimed:
        return metadata, []
    providers = {
        ns: replace(p, static=None) if ns in claimed else p for ns, p in metadata.providers.items()
    }
    lines = [
        f"{metadata.source} declares the namespace {ns!r} static, with its own supported "
        f"values; ignored: only this machine's {ns} provider says what it supports"
        for ns in claimed
    ]
    return replace(metadata, providers=providers), lines


def resolve_supported(
    metadata: VariantsMetadata,
    platform_supported: SupportedProperties,
    *,
    marker_env: Mapping[str, str] | None = None,
    abi_versions: Mapping[str, Version] | None = None,
    enable_optional: Iterable[str] = (),
    provided: Collection[str] = (),
) -> dict[str, dict[str, list[str]]]:
    """The supported properties for one release's metadata, in the order that ranks it.

    Static namespaces (PyTorch's `priority`) take their values from the metadata, in the order
    given; the others come from our built-in providers (`platform_supported`). A namespace in
    `provided` is always the providers' answer, whatever the metadata claims (see
    `without_static_claims`). The metadata's own feature/property priorities (PEP 817) go
    first. A provider whose `enable-if` marker is false for the target interpreter, or that is
    optional and not enabled, supports nothing.
    """
    metadata, _ = without_static_claims(metadata, provided)
    enabled_optional = set(enable_optional)
    out: dict[str, dict[str, list[str]]] = {}
    namespaces = _dedupe([*metadata.namespace_priorities, *metadata.providers])
    for ns in namespaces:
        provider = metadata.providers.get(ns)
        if provider is not None:
            if provider.optional and ns not in enabled_optional:
                continue
            if (
                provider.enable_if
                and marker_env is not None
                and not _marker_true(provider.enable_if, marker_env)
            ):
                continue
        base: Mapping[str, Sequence[str]]
        if provider is not None and provider.static is not None:
            base = provider.static
        else:
            base = platform_supported.get(ns, {})
        if not base:
            continue
        feature_order = _dedupe(
            [f for f in metadata.feature_priorities.get(ns, ()) if f in base] + list(base)
        )
        table: dict[str, list[str]] = {}
        for feature in feature_order:
            values = list(base[feature])
            preferred = metadata.property_priorities.get(ns, {}).get(feature, ())
            ordered = _dedupe([v for v in preferred if v in values] + values)
            if ordered:
                table[feature] = ordered
        if table:
            out[ns] = table
    if abi_versions:
        out[ABI_DEPENDENCY] = {
            abi_feature(name): abi_values(version) for name, version in abi_versions.items()
        }
    return out


@lru_cache(maxsize=256)
def _marker(text: str) -> Marker:
    return Marker(text)


def _marker_true(marker: str, env: Mapping[str, str]) -> bool:
    try:
        return _marker(marker).evaluate(dict(env))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def check_compatible(properties: Properties, supported: SupportedProperties) -> str | None:
    """None when compatible; otherwise the first reason it is not, in plain words."""
    for ns, features in sorted(properties.items()):
        for feature, values in sorted(features.items()):
            have = supported.get(ns, {}).get(feature)
            if not have:
                if ns == ABI_DEPENDENCY:
                    return (
                        f"needs {feature} {' or '.join(values)}.* installed alongside it, and "
                        f"no {feature} release is installed or being installed"
                    )
                return (
                    f"needs `{ns} :: {feature}` (one of {', '.join(values)}), and this "
                    f"machine supports no value of `{ns} :: {feature}`"
                )
            if not set(values) & set(have):
                if ns == ABI_DEPENDENCY:
                    return (
                        f"needs {feature} {' or '.join(values)}.*, but {feature} "
                        f"{have[0]} is installed or being installed"
                    )
                shown = ", ".join(have[:8]) + (", ..." if len(have) > 8 else "")
                return (
                    f"needs `{ns} :: {feature}` to be one of {', '.join(values)}; this "
                    f"machine supports {shown}"
                )
    return None


VariantKey = tuple[tuple[float, ...], ...]


def variant_sort_key(
    properties: Properties,
    namespace_order: Sequence[str],
    supported: SupportedProperties,
) -> VariantKey:
    """PEP 825 key of a compatible variant; smaller sorts first (better)."""
    ns_index = {ns: i for i, ns in enumerate(namespace_order)}
    keys: list[tuple[float, ...]] = []
    for ns, features in properties.items():
        supported_ns = supported.get(ns, {})
        feature_index = {f: i for i, f in enumerate(supported_ns)}
        for feature, values in features.items():
            order = list(supported_ns.get(feature, ()))
            best = min((order.index(v) for v in values if v in order), default=len(order))
            keys.append(
                (
                    ns_index.get(ns, len(namespace_order)),
                    feature_index.get(feature, len(feature_index)),
                    best,
                )
            )
    return (*sorted(keys), _END)


def describe_key(
    properties: Properties, namespace_order: Sequence[str], supported: SupportedProperties
) -> str:
    """The properties that decided a variant's rank, best first, for `--explain`."""
    parts: list[str] = []
    for ns in sorted(properties, key=lambda n: (list(namespace_order) + [n]).index(n)):
        for feature, values in properties[ns].items():
            order = list(supported.get(ns, {}).get(feature, ()))
            matched = [v for v in order if v in values]
            if matched:
                parts.append(f"{ns} :: {feature} :: {matched[0]} (#{order.index(matched[0]) + 1})")
    return ", ".join(parts) if parts else "no properties (null variant)"
