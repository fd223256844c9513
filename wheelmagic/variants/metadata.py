"""`variant.json` and `{name}-{version}-variants.json`: every live schema, read into one model.

Four generations are published (research/variants.md §1.4): torch 2.8's unversioned file,
v0.0.2 (torch 2.9), v0.0.3 (PEP 817, torch 2.10), PEP 825's v0.1.x and the providers
draft's v0.2.0. We branch on `$schema` and normalise. `providers` entries are read only for
their namespace, `optional`, `enable-if` and static properties: never for code to run.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wheelmagic.errors import VariantMetadataError
from wheelmagic.variants.properties import (
    ABI_DEPENDENCY,
    NULL_LABEL,
    Properties,
    check_label,
    check_name,
    check_value,
)

#: Schema families, keyed by what their `$schema` URL contains (most specific first).
SCHEMA_FAMILIES: tuple[tuple[str, str], ...] = (
    ("/peps/825/v0.1", "pep825"),
    ("v0.2.0", "v0.2"),
    ("v0.0.3", "v0.0.3"),
    ("v0.0.2", "v0.0.2"),
)
LEGACY_SCHEMA = "https://variants-schema.wheelnext.dev/"
#: Namespaces whose values the installer supplies; a `providers` entry for one is ignored.
RESERVED_NAMESPACES = frozenset({ABI_DEPENDENCY})


@dataclass(frozen=True)
class ProviderInfo:
    """What we take from a `providers` entry. `static` is set for ahead-of-time namespaces."""

    namespace: str
    optional: bool = False
    enable_if: str | None = None
    #: feature -> supported values, in the order the metadata gives (None: needs a provider).
    static: Mapping[str, tuple[str, ...]] | None = None
    requires: tuple[str, ...] = ()
    plugin_api: str | None = None


@dataclass(frozen=True)
class VariantsMetadata:
    schema: str | None
    family: str
    namespace_priorities: tuple[str, ...]
    feature_priorities: Mapping[str, tuple[str, ...]]
    property_priorities: Mapping[str, Mapping[str, tuple[str, ...]]]
    providers: Mapping[str, ProviderInfo]
    variants: Mapping[str, Properties]
    #: where it came from (a URL or a path), for error messages
    source: str = "<variants.json>"
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: what was ignored while reading (a reserved namespace under `providers`), for the user
    notes: tuple[str, ...] = field(default=(), compare=False)

    def properties(self, label: str) -> Properties | None:
        return self.variants.get(label)

    def to_json(self) -> dict[str, Any]:
        """The metadata as JSON, in the schema it was read from, with merged content."""
        out: dict[str, Any] = (
            copy.deepcopy(dict(self.raw)) if self.raw else {"$schema": self.schema}
        )
        out.setdefault("default-priorities", {})["namespace"] = list(self.namespace_priorities)
        out["variants"] = {
            label: {ns: {f: list(vs) for f, vs in fs.items()} for ns, fs in props.items()}
            for label, props in sorted(self.variants.items())
        }
        if out.get("$schema") is None:
            out.pop("$schema", None)
        return out


def _err(source: str, message: str) -> VariantMetadataError:
    return VariantMetadataError(
        f"{source}: {message}",
        hint="the index publishes variant metadata wheelmagic cannot trust; report it to the "
        "index maintainer, or install a specific file with --variant LABEL",
    )


def _family(schema: object, source: str) -> str:
    if schema is None:
        return "legacy"
    if not isinstance(schema, str):
        raise _err(source, f"$schema must be a string, not {type(schema).__name__}")
    if schema.rstrip("/") == LEGACY_SCHEMA.rstrip("/"):
        return "legacy"
    for marker, family in SCHEMA_FAMILIES:
        if marker in schema:
            return family
    raise _err(
        source,
        f"unknown $schema {schema!r}; wheelmagic reads v0.0.2, v0.0.3, PEP 825 v0.1.x and v0.2.0",
    )


def _str_list(value: object, source: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _err(source, f"{where} must be a list of strings")
    return list(value)


def _mapping(value: object, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _err(source, f"{where} must be an object")
    return value


def _names(values: list[str], source: str, where: str, *, value: bool = False) -> tuple[str, ...]:
    try:
        for v in values:
            check_value(v) if value else check_name(v, where)
    except ValueError as err:
        raise _err(source, f"{where}: {err}") from None
    if len(set(values)) != len(values):
        raise _err(source, f"{where} lists a name twice")
    return tuple(values)


def _properties_table(
    value: object, source: str, where: str
) -> dict[str, dict[str, tuple[str, ...]]]:
    """`{ns: {feature: [values]}}`, validated; value lists keep their given order."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for ns, features in _mapping(value, source, where).items():
        _names([ns], source, f"{where} namespace")
        table: dict[str, tuple[str, ...]] = {}
        for feature, values in _mapping(features, source, f"{where}.{ns}").items():
            _names([feature], source, f"{where}.{ns} feature")
            vals = _str_list(values, source, f"{where}.{ns}.{feature}")
            table[feature] = _names(vals, source, f"{where}.{ns}.{feature}", value=True)
        out[ns] = table
    return out


def parse_variants_json(data: object, source: str = "<variants.json>") -> VariantsMetadata:
    """Read any live variant metadata schema into `VariantsMetadata`, validating as we go."""
    doc = _mapping(data, source, "the document")
    family = _family(doc.get("$schema"), source)
    prios = _mapping(doc.get("default-priorities"), source, "default-priorities")
    namespaces = _names(
        _str_list(prios.get("namespace"), source, "default-priorities.namespace"),
        source,
        "default-priorities.namespace",
    )
    if not namespaces:
        raise _err(source, "default-priorities.namespace must list at least one namespace")

    feature_prios: dict[str, tuple[str, ...]] = {}
    property_prios: dict[str, dict[str, tuple[str, ...]]] = {}
    if family != "pep825":
        for ns, feats in _mapping(
            prios.get("feature", {}), source, "default-priorities.feature"
        ).items():
            _names([ns], source, "default-priorities.feature")
            feature_prios[ns] = _names(
                _str_list(feats, source, f"default-priorities.feature.{ns}"),
                source,
                f"default-priorities.feature.{ns}",
            )
        property_prios = _properties_table(
            prios.get("property", {}), source, "default-priorities.property"
        )

    top_static = (
        _properties_table(doc.get("static-properties", {}), source, "static-properties")
        if family in ("v0.0.3", "legacy")
        else {}
    )
    providers: dict[str, ProviderInfo] = {}
    notes: list[str] = []
    for ns, entry in _mapping(doc.get("providers", {}), source, "providers").items():
        _names([ns], source, "providers")
        if ns in RESERVED_NAMESPACES:
            # Published files list `abi_dependency: {"plugin-use": "none"}`; the installer
            # itself supplies its values (from what is installed or co-selected).
            notes.append(
                f"{source}: providers.{ns} ignored: `{ns}` is a reserved namespace the "
                "installer fills in itself"
            )
            continue
        providers[ns] = _provider(
            ns,
            _mapping(entry, source, f"providers.{ns}"),
            family,
            top_static,
            property_prios,
            source,
        )

    variants: dict[str, Properties] = {}
    for label, props in _mapping(doc.get("variants"), source, "variants").items():
        try:
            check_label(label)
        except ValueError as err:
            raise _err(source, str(err)) from None
        table = _properties_table(props, source, f"variants.{label}")
        for ns in table:
            if ns != ABI_DEPENDENCY and ns not in namespaces:
                raise _err(
                    source,
                    f"variant {label!r} uses namespace {ns!r}, which "
                    "default-priorities.namespace does not list",
                )
        if label == NULL_LABEL and table:
            raise _err(source, "the 'null' variant must have no properties")
        variants[label] = {
            ns: {f: tuple(sorted(vs)) for f, vs in fs.items()} for ns, fs in table.items()
        }
    return VariantsMetadata(
        schema=doc.get("$schema"),
        family=family,
        namespace_priorities=namespaces,
        feature_priorities=feature_prios,
        property_priorities=property_prios,
        providers=providers,
        variants=variants,
        source=source,
        raw=doc,
        notes=tuple(notes),
    )


def _provider(
    ns: str,
    entry: Mapping[str, Any],
    family: str,
    top_static: Mapping[str, Mapping[str, tuple[str, ...]]],
    property_prios: Mapping[str, Mapping[str, tuple[str, ...]]],
    source: str,
) -> ProviderInfo:
    where = f"providers.{ns}"
    requires = tuple(_str_list(entry.get("requires", []), source, f"{where}.requires"))
    enable_if = entry.get("enable-if")
    if enable_if is not None and not isinstance(enable_if, str):
        raise _err(source, f"{where}.enable-if must be a marker string")
    optional = entry.get("optional", False)
    if not isinstance(optional, bool):
        raise _err(source, f"{where}.optional must be true or false")
    plugin_api = entry.get("plugin-api")
    static: Mapping[str, tuple[str, ...]] | None = None
    if "static-properties" in entry:  # v0.2.0: inside the provider
        table = _properties_table({ns: entry["static-properties"]}, source, where)[ns]
        order = entry.get("feature-order")
        if order is not None:
            names = _str_list(order, source, f"{where}.feature-order")
            table = {f: table[f] for f in names if f in table} | table
        static = table
    elif entry.get("install-time") is False or entry.get("plugin-use") == "none":
        # v0.0.3 keeps the values at top level; v0.0.2 in default-priorities.property.
        static = top_static.get(ns) or property_prios.get(ns)
        if static is None:
            raise _err(source, f"{where} is static (no plugin) but lists no static properties")
    return ProviderInfo(
        namespace=ns,
        optional=optional,
        enable_if=enable_if,
        static=static,
        requires=requires,
        plugin_api=plugin_api if isinstance(plugin_api, str) else None,
    )


def _prefix_merge(a: Sequence[str], b: Sequence[str], what: str, source: str) -> tuple[str, ...]:
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if tuple(long_[: len(short)]) != tuple(short):
        raise _err(source, f"{what} differ between files: {list(a)} vs {list(b)}")
    return tuple(long_)


def merge_metadata(items: Sequence[VariantsMetadata], source: str = "<merged>") -> VariantsMetadata:
    """Combine the metadata of one release (several wheels' variant.json, or several indexes).

    PEP 825: namespace lists must be equal or prefixes of each other (the longer wins); the same
    label must mean the same properties everywhere. Providers for one namespace must agree.
    """
    if not items:
        raise ValueError("merge_metadata needs at least one item")
    first = items[0]
    namespaces = first.namespace_priorities
    features = dict(first.feature_priorities)
    props = {ns: dict(fs) for ns, fs in first.property_priorities.items()}
    providers = dict(first.providers)
    variants = dict(first.variants)
    for other in items[1:]:
        where = f"{source} ({first.source} + {other.source})"
        namespaces = _prefix_merge(
            namespaces, other.namespace_priorities, "default-priorities.namespace", where
        )
        for ns, feats in other.feature_priorities.items():
            features[ns] = _prefix_merge(
                features.get(ns, ()), feats, f"default-priorities.feature.{ns}", where
            )
        for ns, fs in other.property_priorities.items():
            for f, vs in fs.items():
                props.setdefault(ns, {})[f] = _prefix_merge(
                    props.get(ns, {}).get(f, ()), vs, f"default-priorities.property.{ns}.{f}", where
                )
        for ns, prov in other.providers.items():
            if ns in providers and providers[ns] != prov:
                raise _err(where, f"providers.{ns} differs between files")
            providers[ns] = prov
        for label, p in other.variants.items():
            if label in variants and variants[label] != p:
                raise _err(where, f"label {label!r} has different properties in different files")
            variants[label] = p
    return VariantsMetadata(
        schema=first.schema,
        family=first.family,
        namespace_priorities=namespaces,
        feature_priorities=features,
        property_priorities=props,
        providers=providers,
        variants=variants,
        source=source,
        raw=first.raw,
        notes=tuple(dict.fromkeys(n for item in items for n in item.notes)),
    )
