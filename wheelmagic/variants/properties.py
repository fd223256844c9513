"""Variant properties (`namespace :: feature :: value`) and the name rules PEP 825 sets for them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: `\A...\Z`, not `^...$` (`$` also matches before a final newline: `null\n` passed), and
#: the checks below use `fullmatch`; `variants.filename` uses `LABEL_RE.match`, safe with `\Z`.
NAME_RE = re.compile(r"\A[a-z0-9_]+\Z")
VALUE_RE = re.compile(r"\A[a-z0-9_.]+\Z")
LABEL_RE = re.compile(r"\A[0-9a-z_.]+\Z")
NULL_LABEL = "null"
#: Reserved namespace: `abi_dependency :: torch :: 2.9` means torch 2.9.* must be co-installed.
ABI_DEPENDENCY = "abi_dependency"

#: ns -> feature -> values, as stored in variant metadata (values form a set, kept sorted).
Properties = Mapping[str, Mapping[str, tuple[str, ...]]]


@dataclass(frozen=True, order=True)
class VariantProperty:
    namespace: str
    feature: str
    value: str

    def __str__(self) -> str:
        return f"{self.namespace} :: {self.feature} :: {self.value}"

    @classmethod
    def parse(cls, text: str) -> VariantProperty:
        parts = [p.strip() for p in text.split("::")]
        if len(parts) != 3:
            raise ValueError(f"not a variant property (want 'ns :: feature :: value'): {text!r}")
        ns, feature, value = parts
        check_name(ns, "namespace")
        check_name(feature, "feature")
        check_value(value)
        return cls(ns, feature, value)


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValueError(f"invalid variant {what} {name!r}: must match {NAME_RE.pattern}")
    return name


def check_value(value: object) -> str:
    if not isinstance(value, str) or not VALUE_RE.fullmatch(value):
        raise ValueError(f"invalid variant value {value!r}: must match {VALUE_RE.pattern}")
    return value


def check_label(label: object) -> str:
    if not isinstance(label, str) or not LABEL_RE.fullmatch(label):
        raise ValueError(f"invalid variant label {label!r}: must match {LABEL_RE.pattern}")
    return label


def flatten(properties: Properties) -> list[VariantProperty]:
    """All properties of one variant, sorted (the canonical order used in messages)."""
    return sorted(
        VariantProperty(ns, feature, value)
        for ns, features in properties.items()
        for feature, values in features.items()
        for value in values
    )


def from_strings(items: Iterable[str]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Build a `Properties` mapping from `ns :: f :: v` strings."""
    out: dict[str, dict[str, set[str]]] = {}
    for item in items:
        prop = VariantProperty.parse(item)
        out.setdefault(prop.namespace, {}).setdefault(prop.feature, set()).add(prop.value)
    return {ns: {f: tuple(sorted(vs)) for f, vs in fs.items()} for ns, fs in out.items()}


def count(properties: Properties) -> int:
    return sum(len(values) for features in properties.values() for values in features.values())
