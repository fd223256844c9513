"""Choosing one file per requirement: the newest version with a compatible wheel, then its best wheel.

Pure: the caller brings candidates (from the index layer), the target interpreter's tags and
Python version, and the supported properties (from the providers). Every rejected file keeps its
reason, so `--explain` and error messages can say exactly why a build was not chosen.

PEP 825 only: which packages must share a build, and which labels name one build line, is a
`CompanionPolicy` the caller passes in (PyTorch's is `wheelmagic.pytorch.companions`).

Order (issue 15): the caller may pass a `FitPolicy` that gives each build a *fit level* on
this machine (uses every accelerator < serves some < CPU only < idle < broken; PyTorch's is
`wheelmagic.pytorch.fit`). Files are ranked by level first, then by public version (newest
first; the local label `+cu128` never decides), then by the PEP 825 order. `prefer_newest`
puts the version first again. Without a policy every file has one level, so the newest
version with a compatible file wins, as pip would have it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Protocol

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelmagic.errors import InvalidWheelName
from wheelmagic.variants.filename import WheelName, parse_wheel_name
from wheelmagic.variants.metadata import VariantsMetadata
from wheelmagic.variants.ordering import (
    SupportedProperties,
    VariantKey,
    check_compatible,
    describe_key,
    resolve_supported,
    variant_sort_key,
)
from wheelmagic.variants.properties import Properties, count

#: A label -> the build line it stands for (None: no line), from a `CompanionPolicy`.
LineOf = Callable[[str | None], str | None]


class CompanionPolicy(Protocol):
    """Which packages must end on one build, and which labels are the same build line.

    `select_together` tries the first anchor it is asked for in rank order and keeps every
    other package on that choice's line. The policy is the caller's: PEP 825 itself has none.
    """

    @property
    def anchors(self) -> tuple[str, ...]:
        """Normalized names of the packages the others follow, in order of preference."""
        ...

    def line_of(self, label: str | None) -> str | None:
        """The build line a label stands for (`cu128` and `cuda12.8` alike); None if none."""
        ...


@dataclass(frozen=True)
class Candidate:
    """One file offered by an index for a project."""

    filename: str
    url: str
    index_url: str
    sha256: str | None = None
    requires_python: str | None = None
    #: None: not yanked; a string: yanked, with this reason ("" when none was given).
    yanked: str | None = None
    size: int | None = None
    #: PEP 658 metadata URL, when the index offers one.
    metadata_url: str | None = None
    #: Where the variant metadata for this file's release came from (for messages).
    variants_source: str | None = None
    #: A label given by the index layer to a non-variant file, e.g. `cu128` for a wheel from
    #: PyTorch's per-backend index `/whl/cu128` (a "virtual variant").
    virtual_label: str | None = None
    #: Requires-Dist, when known (PEP 658 metadata), for companion consistency checks.
    requires_dist: tuple[str, ...] | None = None
    #: A plain file the index layer described from a fact table (PyPI's torch: "CUDA 12.8 on
    #: Linux x86_64, per ..."): the words say where the description came from. Such a file
    #: installs wherever its tags allow, so properties this machine lacks rank it last (its fit
    #: level says why) instead of rejecting it.
    known_build: str | None = None

    @cached_property
    def wheel(self) -> WheelName:
        return parse_wheel_name(self.filename)

    @property
    def label(self) -> str | None:
        return self.wheel.label if self.wheel.label is not None else self.virtual_label


@dataclass(frozen=True)
class Rejection:
    filename: str
    index_url: str
    reason: str
    #: short machine-readable kind: invalid-name, not-wheel, yanked, requires-python, tags,
    #: variant-unknown, variant-unsupported, label-not-requested, companion
    kind: str


@dataclass(frozen=True)
class Fit:
    """What one build does on this machine, as a `FitPolicy` judges it; smaller level is better.

    `name` is the level in words ("uses every accelerator"), `detail` says it for this build
    ("uses your Tesla T4"), `hint` the next step when the build cannot use the machine
    ("update the NVIDIA driver to >= 525.60.13"). `prefer` breaks ties after the PEP 825 order
    (smaller first), for builds whose metadata says too little to order them.
    """

    level: int
    name: str
    detail: str = ""
    hint: str = ""
    prefer: float = 0.0


#: The caller's judgement of a build: (candidate, its label, its properties) -> `Fit`.
FitPolicy = Callable[[Candidate, str | None, Properties], Fit]

_SAME_FIT = Fit(0, "")


@dataclass(frozen=True)
class Ranked:
    """A compatible candidate with what decided its place."""

    candidate: Candidate
    version: Version
    label: str | None
    properties: Properties
    why: str
    fit: Fit = _SAME_FIT


@dataclass
class Selection:
    requirement: Requirement
    ranked: list[Ranked] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: namespace this machine has nothing of -> labels of variants that needed it (for messages)
    missing_namespaces: dict[str, list[str]] = field(default_factory=dict)
    #: set when an older release wins on fit: "torch 2.9.0 has no build that ...; installing
    #: 2.7.1+cu118, the newest that uses your Tesla T4" (front ends show it with the choice)
    headline: str | None = None

    @property
    def chosen(self) -> Ranked | None:
        return self.ranked[0] if self.ranked else None

    def explain(self) -> list[str]:
        """Every decision, in words, best choice first."""
        lines = [f"{self.requirement}:"]
        if self.headline:
            lines.append(f"  {self.headline}")
        for i, r in enumerate(self.ranked[:20]):
            mark = "->" if i == 0 else "  "
            level = f"{r.fit.name}: " if r.fit.name else ""
            detail = f" ({r.fit.detail})" if r.fit.detail else ""
            known = f" [described by {r.candidate.known_build}]" if r.candidate.known_build else ""
            lines.append(
                f" {mark} {r.candidate.filename} [{variant_name(r.label)}] "
                f"{level}{r.why}{detail}{known}"
            )
        if len(self.ranked) > 20:
            lines.append(f"    ... {len(self.ranked) - 20} more compatible files")
        for rej in self.rejected:
            lines.append(f"  x {rej.filename}: {rej.reason}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return lines

    def failure(self) -> str:
        """Why nothing was chosen, grouped by reason, for the error message."""
        if not self.rejected:
            return f"no files for {self.requirement} on the index"
        groups: dict[str, list[str]] = {}
        # files for this platform first: wheels for other platforms say least about this one
        for rej in sorted(self.rejected, key=lambda r: r.kind == "tags"):
            groups.setdefault(rej.reason, []).append(rej.filename)
        parts = []
        for reason, files in groups.items():
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            parts.append(f"{shown}: {reason}")
        lead = []
        name = self.requirement.name
        if all(r.kind == "tags" for r in self.rejected):
            lead.append(f"{name} has wheels only for other platforms")
        for ns, labels in self.missing_namespaces.items():
            shown = ", ".join(sorted(set(labels))[:6])
            lead.append(
                f"{name} publishes `{ns}` builds ({shown}); this machine has no `{ns}` device "
                "or driver that the built-in provider recognises"
            )
        return "; ".join(lead + parts)


def label_matches(label: str | None, wanted: str, line_of: LineOf | None = None) -> bool:
    """`--variant` takes a label (`cuda13.0`) or, given `line_of`, another name of the same line
    (`cu130`, `cpu`)."""
    if label == wanted:
        return True
    if line_of is None:
        return False
    line = line_of(label)
    return line is not None and line == line_of(wanted)


def variant_name(label: str | None) -> str:
    return "non-variant" if label is None else label


@dataclass(frozen=True)
class Target:
    """What we know about the interpreter we install into (all plain data)."""

    tags: Sequence[Tag]
    python_version: Version
    marker_env: Mapping[str, str] | None = None


def _tag_ranks(tags: Sequence[Tag]) -> dict[Tag, int]:
    ranks: dict[Tag, int] = {}
    for i, tag in enumerate(tags):
        ranks.setdefault(tag, i)
    return ranks


def _allowed_versions(
    req: Requirement, versions: Iterable[Version], prereleases: bool | None
) -> set[Version]:
    return set(req.specifier.filter(sorted(set(versions)), prereleases=prereleases))


def _is_pinned(req: Requirement) -> bool:
    return any(s.operator in ("==", "===") and "*" not in s.version for s in req.specifier)


def select(
    requirement: Requirement | str,
    candidates: Sequence[Candidate],
    *,
    target: Target,
    supported: SupportedProperties,
    variants: Mapping[Version, VariantsMetadata] | None = None,
    prereleases: bool | None = None,
    variant_label: str | None = None,
    abi_versions: Mapping[str, Version] | None = None,
    enable_optional: Iterable[str] = (),
    allowed_labels: Callable[[str | None], bool] | None = None,
    line_of: LineOf | None = None,
    fit: FitPolicy | None = None,
    prefer_newest: bool = False,
) -> Selection:
    """Rank every file of `requirement` that can be installed on `target`, best first.

    `variants` maps a release to its merged variant metadata (`{name}-{version}-variants.json`).
    `variant_label` narrows the choice to one label (`--variant`), or to one line when
    `line_of` is given; `allowed_labels` lets `select_together` keep companions on the
    anchor's line. `fit` ranks builds by what they do on this machine before versions
    (`prefer_newest`: after them).
    """
    req = Requirement(requirement) if isinstance(requirement, str) else requirement
    name = canonicalize_name(req.name)
    variants = variants or {}
    sel = Selection(req)
    ranks = _tag_ranks(target.tags)
    parsed: list[Candidate] = []
    for cand in candidates:
        if not cand.filename.endswith(".whl"):
            sel.rejected.append(
                Rejection(
                    cand.filename,
                    cand.index_url,
                    "not a wheel: wheelmagic installs wheels only",
                    "not-wheel",
                )
            )
            continue
        try:
            wheel = cand.wheel
        except InvalidWheelName as err:
            sel.rejected.append(
                Rejection(cand.filename, cand.index_url, err.message, "invalid-name")
            )
            continue
        if wheel.name != name:
            continue
        parsed.append(cand)

    pinned = _is_pinned(req)
    unyanked_versions = {c.wheel.version for c in parsed if c.yanked is None}
    # pip decides whether pre-releases are allowed over the files that could be installed at
    # all (tags, Requires-Python, yanked), so those checks come first.
    eligible: list[Candidate] = []
    for cand in parsed:
        reject = _basic_rejection(cand, cand.wheel, target, ranks, pinned, unyanked_versions)
        if reject is None:
            eligible.append(cand)
        elif req.specifier.contains(cand.wheel.version, prereleases=True):
            sel.rejected.append(Rejection(cand.filename, cand.index_url, reject[0], reject[1]))

    allowed = _allowed_versions(req, (c.wheel.version for c in eligible), prereleases)
    skipped = sorted({c.wheel.version for c in eligible} - allowed, reverse=True)
    pre = [v for v in skipped if v.is_prerelease and req.specifier.contains(v, prereleases=True)]
    other = [v for v in skipped if v not in pre]
    if other:
        shown = ", ".join(str(v) for v in other[:6])
        sel.notes.append(
            f"versions not matching '{req.specifier}' were skipped: {shown}"
            + (" ..." if len(other) > 6 else "")
        )
    if pre:
        shown = ", ".join(str(v) for v in pre[:6])
        sel.notes.append(f"pre-releases were skipped (allow them with --pre): {shown}")

    supported_by_version: dict[Version, dict[str, dict[str, list[str]]]] = {}
    scored: list[tuple[tuple[object, ...], Ranked]] = []
    #: public version -> how its files ruled out for this machine fit (by the policy)
    unfit: dict[Version, list[Fit]] = {}
    for cand in eligible:
        wheel = cand.wheel
        if wheel.version not in allowed:
            continue
        label = cand.label
        if variant_label is not None and not label_matches(label, variant_label, line_of):
            sel.rejected.append(
                Rejection(
                    cand.filename,
                    cand.index_url,
                    f"not the requested variant {variant_label!r}",
                    "label-not-requested",
                )
            )
            continue
        if allowed_labels is not None and not allowed_labels(label):
            sel.rejected.append(
                Rejection(
                    cand.filename,
                    cand.index_url,
                    f"variant {variant_name(label)} is on another accelerator line than its "
                    "companions",
                    "companion",
                )
            )
            continue
        props: Properties = {}
        key: VariantKey = ()
        klass: float
        if label is None:
            klass, why = 2, "non-variant wheel (ranked after every variant)"
        else:
            meta = variants.get(wheel.version)
            if meta is None:
                sel.rejected.append(
                    Rejection(
                        cand.filename,
                        cand.index_url,
                        f"variant wheel but the index has no {name}-{wheel.version}-variants.json, "
                        "so its properties are unknown",
                        "variant-unknown",
                    )
                )
                continue
            found = meta.properties(label)
            if found is None:
                sel.rejected.append(
                    Rejection(
                        cand.filename,
                        cand.index_url,
                        f"label {label!r} is missing from {meta.source}",
                        "variant-unknown",
                    )
                )
                continue
            props = found
            sup = supported_by_version.get(wheel.version)
            if sup is None:
                sup = resolve_supported(
                    meta,
                    supported,
                    marker_env=target.marker_env,
                    abi_versions=abi_versions,
                    enable_optional=enable_optional,
                )
                supported_by_version[wheel.version] = sup
            reason = check_compatible(props, sup)
            undeclared: list[str] = []
            if reason is not None:
                undeclared = _undeclared_static(props, meta, sup)
                if undeclared and check_compatible(_without(props, meta, sup), sup) is None:
                    # real metadata: a static value the file forgot to declare is the file's
                    # slip, not this machine's; keep the variant, after the declared ones
                    reason = None
                    sel.notes.append(
                        f"{label} ({wheel.version}): uses {', '.join(undeclared)}, which "
                        f"{meta.source} does not declare among its static properties; "
                        "ordered after the variants that use declared values"
                    )
                else:
                    undeclared = []
            if reason is not None and cand.known_build is None:
                for ns in props:
                    if ns not in sup and ns not in _static_namespaces(meta):
                        sel.missing_namespaces.setdefault(ns, []).append(label)
                sel.rejected.append(
                    Rejection(
                        cand.filename,
                        cand.index_url,
                        f"variant {label}: {reason}",
                        "variant-unsupported",
                    )
                )
                if fit is not None:
                    unfit.setdefault(_public(wheel.version), []).append(fit(cand, label, props))
                continue
            key = variant_sort_key(props, meta.namespace_priorities, sup)
            if reason is not None:
                # the first clause names the property; the fit detail says the rest
                klass, why = 3, f"a plain build that does not fit: {reason.split(';')[0]}"
            elif count(props) == 0:
                klass, why = 1, "null variant (ranked after every other variant)"
            elif undeclared:
                klass, why = 0.5, "uses undeclared static properties: " + ", ".join(undeclared)
            else:
                klass, why = 0, describe_key(props, meta.namespace_priorities, sup)
        tag_rank = min(ranks[t] for t in wheel.tags if t in ranks)
        build = wheel.build
        judged = fit(cand, label, props) if fit is not None else _SAME_FIT
        newest_first = _neg_version(_public(wheel.version))
        first, second = (
            (newest_first, judged.level) if prefer_newest else (judged.level, newest_first)
        )
        sort_key = (
            first,
            second,
            klass,
            key,
            judged.prefer,
            label or "",
            tag_rank,
            -(build[0] if build else 0),
        )
        scored.append((sort_key, Ranked(cand, wheel.version, label, props, why, judged)))
    scored.sort(key=lambda item: item[0])
    sel.ranked = [r for _, r in scored]
    if fit is not None and sel.ranked:
        sel.headline = _older_release_headline(name, sel.ranked, unfit)
    return sel


def _static_namespaces(meta: VariantsMetadata) -> set[str]:
    return {ns for ns, p in meta.providers.items() if p.static is not None}


def _undeclared_static(
    props: Properties, meta: VariantsMetadata, sup: SupportedProperties
) -> list[str]:
    """`ns :: feature :: value` of static namespaces that the metadata does not declare (only
    namespaces whose provider is enabled: a disabled optional one still rules a variant out)."""
    out: list[str] = []
    for ns in sorted(_static_namespaces(meta) & set(props) & set(sup)):
        for feature, values in props[ns].items():
            if not set(values) & set(sup.get(ns, {}).get(feature, ())):
                out.append(f"`{ns} :: {feature} :: {' | '.join(values)}`")
    return out


def _without(props: Properties, meta: VariantsMetadata, sup: SupportedProperties) -> Properties:
    """`props` less its static namespaces (their values were checked by `_undeclared_static`)."""
    static = _static_namespaces(meta) & set(sup)
    return {ns: feats for ns, feats in props.items() if ns not in static}


def _older_release_headline(
    name: str, ranked: Sequence[Ranked], unfit: Mapping[Version, Sequence[Fit]]
) -> str | None:
    """When fit levels put an older release first: what the newer one lacked, in words."""
    chosen = ranked[0]
    public = _public(chosen.version)
    newer = {_public(r.version) for r in ranked} | set(unfit)
    newest = max(newer)
    if newest <= public:
        return None
    best_newest = next((r for r in ranked if _public(r.version) == newest), None)
    if best_newest is not None and best_newest.fit.level <= chosen.fit.level:
        return None
    # the newest release's builds that would have fitted, had the machine let them: one with a
    # next step (a driver to update) first, else the one that fits worst (it says what is missing)
    fits = [*unfit.get(newest, ()), *(r.fit for r in ranked if _public(r.version) == newest)]
    lost = max(fits, key=lambda f: (bool(f.hint), f.level))
    lacks, hint = lost.detail or lost.name, lost.hint
    what = chosen.fit.detail or chosen.fit.name or "fits this machine"
    build = f"{chosen.version} [{variant_name(chosen.label)}]"
    if what.startswith("uses "):  # a clause: "the newest that uses your Tesla T4"
        text = (
            f"{name} {newest} has no build that {what} ({lacks}); installing {build}, "
            f"the newest that {what}"
        )
    else:  # a description: "CPU build: leaves your Tesla T4 idle"
        text = (
            f"{name} {newest} has no build that fits this machine as well ({lacks}); "
            f"installing {build}, the newest at its fit ({what})"
        )
    if hint:
        text += f"; {hint} for {name} {newest}"
    return text


@lru_cache(maxsize=4096)
def _public(version: Version) -> Version:
    """`2.9.0+cu128` -> `2.9.0`: builds of one release from per-backend indexes are variants of
    one version, ordered by the variant rules, never by the local label."""
    return version if version.local is None else Version(version.public)


def _neg_version(version: Version) -> tuple[object, ...]:
    """A key that sorts newer versions first."""
    return (_Reverse(version),)


class _Reverse:
    __slots__ = ("v",)

    def __init__(self, v: Version) -> None:
        self.v = v

    def __lt__(self, other: _Reverse) -> bool:
        return self.v > other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reverse) and self.v == other.v

    def __hash__(self) -> int:
        return hash(self.v)


def _basic_rejection(
    cand: Candidate,
    wheel: WheelName,
    target: Target,
    ranks: Mapping[Tag, int],
    pinned: bool,
    unyanked_versions: set[Version],
) -> tuple[str, str] | None:
    if cand.yanked is not None and not (pinned and wheel.version not in unyanked_versions):
        why = f": {cand.yanked}" if cand.yanked else ""
        return f"yanked{why}", "yanked"
    if not any(t in ranks for t in wheel.tags):
        shown = ", ".join(sorted(str(t) for t in wheel.tags)[:3])
        return f"built for {shown}, which the target interpreter does not support", "tags"
    if cand.requires_python:
        spec = _specifier(cand.requires_python)
        if spec is not None and not spec.contains(target.python_version, prereleases=True):
            return (
                f"requires Python {cand.requires_python}; the target is {target.python_version}",
                "requires-python",
            )
    return None


@lru_cache(maxsize=1024)
def _specifier(text: str) -> SpecifierSet | None:
    """Requires-Python repeats across a release's files: parse each text once."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None  # pip ignores an invalid Requires-Python, and so do we


# Companion consistency -------------------------------------------------------------------


@dataclass
class JointSelection:
    selections: dict[NormalizedName, Selection]
    chosen: dict[NormalizedName, Ranked]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return len(self.chosen) == len(self.selections)


def select_together(
    requirements: Sequence[Requirement | str],
    candidates: Mapping[str, Sequence[Candidate]],
    *,
    target: Target,
    supported: SupportedProperties,
    variants: Mapping[str, Mapping[Version, VariantsMetadata]] | None = None,
    prereleases: bool | None = None,
    variant_label: str | None = None,
    installed: Mapping[str, Version] | None = None,
    enable_optional: Iterable[str] = (),
    companions: CompanionPolicy,
    fit: FitPolicy | None = None,
    prefer_newest: bool = False,
) -> JointSelection:
    """Select several packages so that they end on one build: the same anchor, the same line.

    The anchor (the first of `companions.anchors` requested; torch for PyTorch) is tried in
    rank order; for each of its choices every companion must have a compatible file on the
    same line (`companions.line_of`) whose `abi_dependency` (or pinned Requires-Dist) accepts
    that anchor. The first choice that satisfies everyone wins.
    """
    reqs = [Requirement(r) if isinstance(r, str) else r for r in requirements]
    by_name = {canonicalize_name(r.name): r for r in reqs}
    variants = {canonicalize_name(k): v for k, v in (variants or {}).items()}
    cands = {canonicalize_name(k): v for k, v in candidates.items()}
    installed = {canonicalize_name(k): v for k, v in (installed or {}).items()}
    anchors = [canonicalize_name(a) for a in companions.anchors]

    def run(name: NormalizedName, abi: Mapping[str, Version], line: str | None) -> Selection:
        def same_line(label: str | None) -> bool:
            own = companions.line_of(label)
            return line is None or own is None or own == line

        return select(
            by_name[name],
            cands.get(name, ()),
            target=target,
            supported=supported,
            variants=variants.get(name),
            prereleases=prereleases,
            variant_label=variant_label if name in anchors or len(reqs) == 1 else None,
            abi_versions=abi,
            enable_optional=enable_optional,
            allowed_labels=same_line if line else None,
            line_of=companions.line_of,
            fit=fit,
            prefer_newest=prefer_newest,
        )

    anchor_name = next((a for a in anchors if a in by_name), None)
    if anchor_name is None:
        alone = {n: run(n, installed, None) for n in by_name}
        return JointSelection(alone, {n: s.chosen for n, s in alone.items() if s.chosen})
    anchor = anchor_name

    anchor_sel = run(anchor, installed, None)
    last: dict[NormalizedName, Selection] = {anchor: anchor_sel}
    for choice in anchor_sel.ranked:
        abi = {**installed, anchor: choice.version}
        line = companions.line_of(choice.label)
        sels: dict[NormalizedName, Selection] = {anchor: anchor_sel}
        chosen: dict[NormalizedName, Ranked] = {anchor: choice}
        for name in by_name:
            if name == anchor:
                continue
            sel = run(name, abi, line)
            sel.ranked = [
                r for r in sel.ranked if _pins_accept(r.candidate, anchor, choice.version)
            ]
            sels[name] = sel
            if sel.chosen is None:
                break
            chosen[name] = sel.chosen
        last = sels
        if len(chosen) == len(by_name):
            notes = []
            if choice is not anchor_sel.chosen:
                notes.append(
                    f"{anchor} {choice.version} [{variant_name(choice.label)}] was chosen "
                    f"over {anchor_sel.ranked[0].candidate.filename} so that "
                    + ", ".join(n for n in by_name if n != anchor)
                    + " match it"
                )
            return JointSelection(sels, chosen, notes)
    missing = [n for n, s in last.items() if s.chosen is None]
    return JointSelection(
        last,
        {},
        [
            "no consistent set: " + ", ".join(missing) + f" has no build that matches any {anchor} "
            "build that fits this machine"
        ]
        if anchor_sel.ranked
        else [],
    )


def _pins_accept(cand: Candidate, anchor: str, version: Version) -> bool:
    """A companion whose known Requires-Dist pins the anchor must pin this version."""
    if not cand.requires_dist:
        return True
    for line in cand.requires_dist:
        try:
            req = Requirement(line)
        except Exception:
            continue
        if canonicalize_name(req.name) == anchor and req.marker is None and req.specifier:
            return req.specifier.contains(version, prereleases=True)
    return True
