"""Variant environment markers (PEP 825), which stock `packaging` rejects.

A variant wheel's `Requires-Dist` may say `nvidia-cublas==12.8.4.1; platform_system == 'Linux'
and variant_label == 'cuda12.8'`. We decide the `variant_*` comparisons ourselves, hand every
other comparison to `packaging.markers`, and can rewrite the requirement into one that stock
pip and uv accept (the variant part folded away), for the metadata of the staged wheel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.markers import Marker
from packaging.requirements import Requirement

from wheelmagic.variants.ordering import SupportedProperties
from wheelmagic.variants.properties import NULL_LABEL, Properties

VARIANT_VARIABLES = frozenset(
    {"variant_label", "variant_properties", "variant_features", "variant_namespaces"}
)


@dataclass(frozen=True)
class VariantEnvironment:
    """The values the variant markers see for one installed wheel."""

    label: str
    properties: frozenset[str]
    features: frozenset[str]
    namespaces: frozenset[str]

    @classmethod
    def for_wheel(
        cls, label: str | None, properties: Properties, supported: SupportedProperties
    ) -> VariantEnvironment:
        """PEP 825: properties filtered to those the platform supports; '' for non-variant."""
        if label is None:
            return cls("", frozenset(), frozenset(), frozenset())
        props = {
            (ns, f, v)
            for ns, fs in properties.items()
            for f, vs in fs.items()
            for v in vs
            if v in supported.get(ns, {}).get(f, ())
        }
        return cls(
            label,
            frozenset(f"{ns} :: {f} :: {v}" for ns, f, v in props),
            frozenset(f"{ns} :: {f}" for ns, f, _ in props),
            frozenset(ns for ns, _, _ in props),
        )

    @classmethod
    def null(cls) -> VariantEnvironment:
        return cls(NULL_LABEL, frozenset(), frozenset(), frozenset())


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'[^']*'|"[^"]*")
      | (?P<op>===|==|!=|<=|>=|~=|<|>|not\s+in\b|in\b)
      | (?P<bool>and\b|or\b)
      | (?P<paren>[()])
      | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


class MarkerSyntaxError(ValueError):
    pass


#: A Requires-Dist line longer than this is refused (real ones are under 300 characters).
MAX_REQUIREMENT_LENGTH = 8192
#: Parentheses nested deeper than this are refused (the parsers here and in `packaging`
#: recurse per level: 2,000 levels raised RecursionError).
MAX_MARKER_DEPTH = 32
#: `and` / `or` per marker (a 5,000-long chain overflowed the stack when simplified).
MAX_MARKER_CLAUSES = 256
_BOOL_WORD = re.compile(r"\b(?:and|or)\b")


def check_marker_size(text: str) -> None:
    """Refuse a requirement or marker too long, too deeply nested or with too many clauses.

    Cheap (one scan), applied to every Requires-Dist line before anything parses it, so a
    hostile METADATA gives a clear error instead of a `RecursionError` traceback.
    """
    if len(text) > MAX_REQUIREMENT_LENGTH:
        raise MarkerSyntaxError(
            f"a requirement of {len(text):,} characters is longer than the "
            f"{MAX_REQUIREMENT_LENGTH:,} allowed: {text[:60]!r}..."
        )
    depth = deepest = 0
    quote = ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    if deepest > MAX_MARKER_DEPTH:
        raise MarkerSyntaxError(
            f"a requirement nests parentheses {deepest} deep, more than the "
            f"{MAX_MARKER_DEPTH} allowed: {text[:60]!r}..."
        )
    clauses = len(_BOOL_WORD.findall(text))
    if clauses > MAX_MARKER_CLAUSES:
        raise MarkerSyntaxError(
            f"a requirement chains {clauses:,} 'and'/'or' clauses, more than the "
            f"{MAX_MARKER_CLAUSES} allowed: {text[:60]!r}..."
        )


def _tokenize(text: str) -> list[tuple[str, str]]:
    check_marker_size(text)
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise MarkerSyntaxError(f"cannot parse marker {text!r} at {text[pos:]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


# A tiny boolean tree: ("and"|"or", left, right), ("const", bool), ("atom", text)
Node = tuple


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], env: VariantEnvironment) -> None:
        self.tokens = tokens
        self.i = 0
        self.env = env

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise MarkerSyntaxError("marker ends too early")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise MarkerSyntaxError(f"unexpected {self.peek()[1]!r} in marker")  # type: ignore[index]
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.peek() == ("bool", "or"):
            self.take()
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.atom()
        while self.peek() == ("bool", "and"):
            self.take()
            node = ("and", node, self.atom())
        return node

    def atom(self) -> Node:
        if self.peek() == ("paren", "("):
            self.take()
            node = self.or_expr()
            if self.take() != ("paren", ")"):
                raise MarkerSyntaxError("unbalanced parentheses in marker")
            return node
        left, op, right = self.take(), self.take(), self.take()
        if op[0] != "op" or left[0] not in ("str", "name") or right[0] not in ("str", "name"):
            raise MarkerSyntaxError(f"bad comparison {left[1]} {op[1]} {right[1]}")
        names = {t[1] for t in (left, right) if t[0] == "name"}
        if names & VARIANT_VARIABLES:
            return ("const", self.compare(left, " ".join(op[1].split()), right))
        return ("atom", f"{left[1]} {' '.join(op[1].split())} {right[1]}")

    def compare(self, left: tuple[str, str], op: str, right: tuple[str, str]) -> bool:
        def value(tok: tuple[str, str]) -> str | frozenset[str]:
            if tok[0] == "str":
                return _normalise(tok[1][1:-1])
            table: dict[str, str | frozenset[str]] = {
                "variant_label": self.env.label,
                "variant_properties": self.env.properties,
                "variant_features": self.env.features,
                "variant_namespaces": self.env.namespaces,
            }
            return table.get(tok[1], tok[1])

        lhs, rhs = value(left), value(right)
        if op in ("in", "not in"):
            if not isinstance(lhs, str):
                raise MarkerSyntaxError(f"cannot test a set with {op!r}")
            found = lhs in rhs
            return found if op == "in" else not found
        if isinstance(lhs, frozenset) or isinstance(rhs, frozenset):
            raise MarkerSyntaxError("variant sets can only be tested with 'in' / 'not in'")
        if op in ("==", "==="):
            return lhs == rhs
        if op == "!=":
            return lhs != rhs
        raise MarkerSyntaxError(f"operator {op!r} is not defined for variant markers")


def _normalise(text: str) -> str:
    """`nvidia::sm_arch` and `nvidia :: sm_arch` mean the same."""
    return " :: ".join(p.strip() for p in text.split("::")) if "::" in text else text


def _simplify(node: Node) -> Node:
    kind = node[0]
    if kind in ("const", "atom"):
        return node
    left, right = _simplify(node[1]), _simplify(node[2])
    for a, b in ((left, right), (right, left)):
        if a[0] == "const":
            if kind == "and":
                return b if a[1] else ("const", False)
            return ("const", True) if a[1] else b
    return (kind, left, right)


def _render(node: Node, parent: str | None = None) -> str:
    if node[0] == "atom":
        return str(node[1])
    if node[0] == "const":  # pragma: no cover - simplified away
        return "python_version >= '0'" if node[1] else "python_version < '0'"
    text = f"{_render(node[1], node[0])} {node[0]} {_render(node[2], node[0])}"
    return f"({text})" if parent is not None and parent != node[0] else text


def fold_marker(marker: str, env: VariantEnvironment) -> bool | str:
    """Decide the variant comparisons in `marker`: True, False, or the marker that remains."""
    tree = _simplify(_Parser(_tokenize(marker), env).parse())
    if tree[0] == "const":
        return bool(tree[1])
    return _render(tree)


def has_variant_markers(requirement: str) -> bool:
    _, _, marker = requirement.partition(";")
    return any(name in marker for name in VARIANT_VARIABLES)


def evaluate(requirement: str, env: VariantEnvironment, marker_env: Mapping[str, str]) -> bool:
    """Does this Requires-Dist line apply to a wheel installed with `env` on `marker_env`?"""
    spec, _, marker = requirement.partition(";")
    if not marker.strip():
        return True
    folded = fold_marker(marker, env)
    if isinstance(folded, bool):
        return folded
    return Marker(folded).evaluate(dict(marker_env))


def rewrite_requires_dist(lines: Sequence[str], env: VariantEnvironment) -> list[str]:
    """Requires-Dist lines that stock installers accept: variant parts folded away.

    Lines whose variant condition is false are dropped (they can never apply to this installed
    wheel); the rest keep their other markers (`platform_system`, `extra`, ...), so pip still
    evaluates those for the target interpreter. Each result parses with `packaging`.
    Raises `MarkerSyntaxError` (a `ValueError`) for a line over the caps of
    `check_marker_size`, variant markers or not.
    """
    out: list[str] = []
    for line in lines:
        check_marker_size(line)
        if not has_variant_markers(line):
            out.append(line)
            continue
        spec, _, marker = line.partition(";")
        folded = fold_marker(marker, env)
        if folded is False:
            continue
        new = spec.strip() if folded is True else f"{spec.strip()}; {folded}"
        Requirement(new)  # must be acceptable to stock tools
        out.append(new)
    return out
