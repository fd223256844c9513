"""Variant-aware dependency resolution: one consistent set of builds for a request's closure.

`make_plan` asks this module which build of every *variant-enabled* package in the closure of
the request to install. The search and backtracking are pip's own resolver library,
`resolvelib`; this module is its provider:

* a candidate is one (version, build) of a project, in the order `variants.selection.select`
  ranks them (the PEP 825 order and the fit levels; we never re-rank), or the build already
  installed;
* a candidate's requirements are its `Requires-Dist` (PEP 658 metadata from the index) with
  its own variant markers evaluated for that very build, plus one requirement per
  `abi_dependency :: P :: X` property (P must be co-installed at release X) and one on the
  shared accelerator line (a virtual project, `LINE`: a CUDA 12 build and a CUDA 13 build
  cannot be installed together);
* a dependency is followed only when its project has variant wheels (real or per-backend
  virtual ones) on the configured indexes; plain dependencies stay with pip or uv, which
  install them from the staged wheels' (variant-free) `Requires-Dist`;
* an installed package the user did not name is kept: it is that project's only candidate.
  When no consistent set exists with it, the search is run again without that pin, and the
  error says which build the set needs and gives the command that changes it.

`abi_dependency` compatibility is decided by `select` itself: the files of a project whose
variants depend on P are ranked once per release of P that could be co-installed ("worlds":
the installed one first, then the index's, newest first), so a build for the installed
torch comes before a build for another torch of the same version.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import BaseReporter, Resolver
from resolvelib.providers import AbstractProvider
from resolvelib.resolvers import ResolutionImpossible, ResolutionTooDeep
from resolvelib.structs import RequirementInformation

from wheelmagic.errors import IndexError_, InvalidWheelName, SelectionError
from wheelmagic.pytorch.facts import PYTORCH_PACKAGES
from wheelmagic.variants.markers import MarkerSyntaxError, VariantEnvironment, evaluate
from wheelmagic.variants.metadata import VariantsMetadata
from wheelmagic.variants.ordering import (
    SupportedProperties,
    abi_feature,
    abi_values,
    resolve_supported,
)
from wheelmagic.variants.properties import ABI_DEPENDENCY, Properties
from wheelmagic.variants.selection import (
    Candidate,
    CompanionPolicy,
    JointSelection,
    Ranked,
    Rejection,
    Selection,
    Target,
    select,
    variant_name,
)

if TYPE_CHECKING:
    from wheelmagic.index.client import ProjectFiles

#: The virtual project every accelerator-specific build depends on (never installed).
LINE = NormalizedName("<accelerator line>")
#: More variant-enabled packages than this in one closure is refused (a runaway chain).
MAX_PACKAGES = 200
#: resolvelib rounds (one pin or one backtrack each) before giving up.
MAX_ROUNDS = 5000
#: How `check_compatible` words an `abi_dependency` mismatch (variants.ordering).
_ABI_REASON = "installed or being installed"
#: `nvidia :: cuda_version_lower_bound` (providers.nvidia): its major is a build's CUDA line.
_CUDA_FEATURE = ("nvidia", "cuda_version_lower_bound")


#: The per-package ranking the search builds on: (requirement, files, variant metadata,
#: co-installed releases for `abi_dependency`, `--variant` label) -> every file, best first.
Rank = Callable[
    [
        Requirement,
        Sequence[Candidate],
        Mapping[Version, VariantsMetadata],
        Mapping[str, Version] | None,
        str | None,
    ],
    Selection,
]


def pep825_rank(
    target: Target,
    supported: SupportedProperties,
    companions: CompanionPolicy,
    prereleases: bool | None = None,
    **options: object,
) -> Rank:
    """`variants.selection.select` as a `Rank`; `options` go to it unchanged (fit levels)."""

    def rank(
        req: Requirement,
        cands: Sequence[Candidate],
        metas: Mapping[Version, VariantsMetadata],
        abi: Mapping[str, Version] | None,
        label: str | None,
    ) -> Selection:
        return select(
            req,
            cands,
            target=target,
            supported=supported,
            variants=metas,
            prereleases=prereleases,
            variant_label=label,
            abi_versions=abi,
            line_of=companions.line_of,
            **options,  # type: ignore[arg-type]
        )

    return rank


class Source(Protocol):
    """What the resolver reads from the indexes (`wheelmagic.index.IndexClient`)."""

    def project(self, name: str) -> ProjectFiles: ...

    def requires_dist(self, cand: Candidate) -> tuple[str, ...] | None: ...


@dataclass(frozen=True)
class Need:
    """A requirement in the search: a version range, an ABI release, or a line to agree with."""

    name: NormalizedName
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    #: `abi_dependency` values (`2.8.0`, `2.8`): one must name the co-installed release
    abi: tuple[str, ...] = ()
    #: for `LINE`: the accelerator line the declaring build is on (`cuda12`, `cuda12.8`, `cpu`)
    line: str | None = None
    #: the text the user typed (root requirements only)
    root: str | None = None

    def describe(self) -> str:
        if self.name == LINE:
            return f"the {self.line} accelerator line"
        if self.abi:
            return f"{self.name} " + " or ".join(f"{v}.*" for v in self.abi) + " (abi_dependency)"
        return f"{self.name}{self.specifier}" if self.specifier else str(self.name)


@dataclass(frozen=True, eq=False)
class Build:
    """A candidate: one (version, build) of a project, an installed build, or a line."""

    name: NormalizedName
    version: Version
    label: str | None
    line: str | None
    ranked: Ranked | None = None
    #: the supported properties this build was judged with (its variant markers use them)
    supported: SupportedProperties | None = None
    installed: bool = False
    #: the ranking it came from (every file considered, with reasons), for `--explain`
    selection: Selection | None = None

    def describe(self) -> str:
        if self.name == LINE:
            return f"the {self.line} line"
        where = " (installed)" if self.installed else ""
        return f"{self.name} {self.version} [{variant_name(self.label)}]{where}"

    @property
    def properties(self) -> Properties:
        return self.ranked.properties if self.ranked is not None else {}


@dataclass
class Resolution:
    """What the search chose: every variant-enabled package of the closure, by name."""

    chosen: dict[NormalizedName, Build]
    selections: dict[NormalizedName, Selection]
    variants: dict[str, Mapping[Version, VariantsMetadata]]
    #: plain dependencies the chosen builds declare, left to pip/uv
    plain: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)

    def joint(self) -> JointSelection:
        """The chosen index builds as the engine's `JointSelection` (kept installed ones left out)."""
        picked = {
            n: b for n, b in self.chosen.items() if b.ranked is not None and b.selection is not None
        }
        return JointSelection(
            {n: b.selection for n, b in picked.items() if b.selection is not None},
            {n: b.ranked for n, b in picked.items() if b.ranked is not None},
            list(self.notes),
        )

    def abi_versions(self, installed: Mapping[str, Version]) -> dict[str, Version]:
        """Co-installed releases after the install: the installed ones, then the chosen."""
        return {**installed, **{n: b.version for n, b in self.chosen.items()}}


def lines_agree(a: str | None, b: str | None) -> bool:
    """`cuda12` agrees with `cuda12.8`; `cuda12.8` not with `cuda12.6`; None with anything."""
    if a is None or b is None or a == b:
        return True
    return a.startswith(b + ".") or b.startswith(a + ".")


def _cuda_line(props: Properties) -> str | None:
    bounds = props.get(_CUDA_FEATURE[0], {}).get(_CUDA_FEATURE[1], ())
    majors = {v.split(".")[0] for v in bounds}
    return f"cuda{majors.pop()}" if len(majors) == 1 else None


class _Reporter(BaseReporter):  # type: ignore[type-arg]
    """The search, in words, for `--explain`."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        #: every conflict met on the way, for the error message
        self.causes: list[RequirementInformation[Need, Build]] = []

    def pinning(self, candidate: Build) -> None:
        self.lines.append(f"  pin {candidate.describe()}")

    def rejecting_candidate(self, criterion: object, candidate: Build) -> None:
        causes = getattr(criterion, "information", [])
        why = "; ".join(_cause(c) for c in causes[:3])
        self.lines.append(f"  reject {candidate.describe()}: conflicts with {why}")

    def resolving_conflicts(self, causes: Collection[RequirementInformation[Need, Build]]) -> None:
        self.causes.extend(causes)
        self.lines.append("  backtrack: " + "; ".join(_cause(c) for c in list(causes)[:4]))


def _cause(info: RequirementInformation[Need, Build]) -> str:
    req, parent = info.requirement, info.parent
    who = parent.describe() if parent is not None else "the request"
    return f"{who} needs {req.describe()}"


class _Provider(AbstractProvider):  # type: ignore[type-arg]
    def __init__(
        self,
        *,
        source: Source,
        rank: Rank,
        target: Target,
        supported: SupportedProperties,
        companions: CompanionPolicy,
        requested: Mapping[NormalizedName, Requirement],
        installed: Mapping[NormalizedName, tuple[Version, str | None]],
        keep_installed: bool,
        prereleases: bool | None,
        variant_label: str | None,
    ) -> None:
        self.source = source
        self.rank = rank
        self.target = target
        self.supported = supported
        self.companions = companions
        self.requested = requested
        self.installed = installed
        self.keep_installed = keep_installed
        self.prereleases = prereleases
        self.variant_label = variant_label
        self.files: dict[NormalizedName, ProjectFiles] = {}
        self.builds: dict[NormalizedName, list[Build]] = {}
        self.selections: dict[NormalizedName, Selection] = {}
        self.deps: dict[int, list[Need]] = {}
        self.plain: dict[str, None] = {}
        self.notes: dict[str, None] = {}
        self.warnings: dict[str, None] = {}
        self.parent_of: dict[NormalizedName, NormalizedName | None] = dict.fromkeys(requested)

    # -- the indexes ----------------------------------------------------------------------
    def project(self, name: NormalizedName) -> ProjectFiles | None:
        if name not in self.files:
            self.prefetch([name])
        return self.files.get(name)

    def prefetch(self, names: Iterable[NormalizedName]) -> None:
        todo = [n for n in dict.fromkeys(names) if n not in self.files and n != LINE]
        if not todo:
            return

        def one(name: NormalizedName) -> ProjectFiles | str:
            try:
                return self.source.project(name)
            except IndexError_ as err:
                return f"{name}: {err.message}"

        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            for name, got in zip(todo, pool.map(one, todo), strict=True):
                if isinstance(got, str):
                    self.warnings[got] = None
                    continue
                self.files[name] = got
                for e in got.errors:
                    self.warnings[e if e.startswith(f"{name}:") else f"{name}: {e}"] = None
                for n in got.notes:
                    if n not in got.errors:
                        self.notes[n if n.startswith(f"{name}:") else f"{name}: {n}"] = None

    def variant_enabled(self, name: NormalizedName) -> bool:
        """Real variant wheels on the indexes; or, for PyTorch's own packages, per-backend
        builds (virtual variants). A plain package on a per-backend index (`filelock` on
        `/whl/cu128`) stays with pip/uv."""
        files = self.project(name)
        if files is None:
            return False
        return any(
            _has_label(c) or (c.virtual_label is not None and name in PYTORCH_PACKAGES)
            for c in files.candidates
        )

    # -- candidates -------------------------------------------------------------------------
    def candidates(self, name: NormalizedName) -> list[Build]:
        known = self.builds.get(name)
        if known is not None:
            return known
        have = self.installed.get(name)
        kept: list[Build] = []
        if have is not None and name not in self.requested:
            version, line = have
            kept = [Build(name, version, line, line, installed=True)]
            if self.keep_installed:
                self.builds[name] = kept
                return kept
        files = self.project(name)
        req = self.requested.get(name) or Requirement(name)
        cands = files.candidates if files is not None else []
        metas = files.variants if files is not None else {}
        worlds = self._worlds(name, metas)
        label = self.variant_label if self._label_applies(name) else None
        seen: dict[str, Build] = {}
        first: Selection | None = None
        sels: list[Selection] = []
        for world in worlds:  # builds for the most wanted co-installed release first
            sel = self.rank(req, cands, metas, world or None, label)
            sels.append(sel)
            if first is None or (sel.ranked and not first.ranked):
                first = sel
            for r in sel.ranked:
                if r.candidate.filename in seen:
                    continue
                meta = metas.get(r.version)
                sup = (
                    resolve_supported(
                        meta,
                        self.supported,
                        marker_env=self.target.marker_env,
                        abi_versions=world or None,
                    )
                    if meta is not None
                    else self.supported
                )
                seen[r.candidate.filename] = Build(
                    name, r.version, r.label, None, r, sup, selection=sel
                )
        if first is not None:
            self.selections[name] = first if first.ranked else _merged_failure(sels)
        ordered = list(seen.values())
        styled = any(
            self.companions.line_of(b.label) is not None for b in ordered if b.label != "null"
        )
        builds = kept + [_with_line(b, self._line(b, styled)) for b in ordered]
        self.builds[name] = builds
        return builds

    def _label_applies(self, name: NormalizedName) -> bool:
        anchors = {canonicalize_name(a) for a in self.companions.anchors}
        return name in self.requested and (name in anchors or len(self.requested) == 1)

    def _line(self, build: Build, styled: bool) -> str | None:
        if build.label is not None and (build.label != "null" or styled):
            line = self.companions.line_of(build.label)
            if line is not None:
                return line
        return _cuda_line(build.properties)

    def _worlds(
        self, name: NormalizedName, metas: Mapping[Version, VariantsMetadata]
    ) -> list[dict[str, Version]]:
        """The co-installed releases to rank `name`'s files against, most wanted first."""
        wanted: dict[NormalizedName, set[str]] = {}
        for meta in metas.values():
            for props in meta.variants.values():
                for feature, values in props.get(ABI_DEPENDENCY, {}).items():
                    wanted.setdefault(canonicalize_name(feature), set()).update(values)
        if not wanted:
            return [{}]
        per_project: list[list[tuple[NormalizedName, Version]]] = []
        for dep, accepted in wanted.items():
            options: dict[tuple[str, ...], Version] = {}
            versions: list[Version] = []
            have = self.installed.get(dep) if dep not in self.requested else None
            if have is not None:
                versions.append(have[0])
            files = self.project(dep) if dep != name else None
            if files is not None and not (have is not None and self.keep_installed):
                versions += sorted({c.wheel.version for c in _wheels(files)}, reverse=True)
            for v in versions:  # one world per set of matching values, the first version wins
                key = tuple(sorted(set(abi_values(v)) & accepted))
                if key and key not in options:
                    options[key] = v
            per_project.append([(dep, v) for v in options.values()])
        worlds = [
            {abi_feature(d): v for d, v in combo}
            for combo in itertools.islice(itertools.product(*per_project), 64)
        ]
        return worlds or [{}]

    # -- resolvelib's provider interface ---------------------------------------------------
    def identify(self, requirement_or_candidate: Need | Build) -> NormalizedName:
        return requirement_or_candidate.name

    def get_preference(
        self,
        identifier: NormalizedName,
        resolutions: Mapping[NormalizedName, Build],
        candidates: Mapping[NormalizedName, Iterator[Build]],
        information: Mapping[NormalizedName, Iterator[RequirementInformation[Need, Build]]],
        backtrack_causes: Sequence[RequirementInformation[Need, Build]],
    ) -> tuple[bool, bool, bool, int, str]:
        infos = list(information[identifier])
        causes = {c.requirement.name for c in backtrack_causes}
        root = any(i.parent is None for i in infos)
        # Lines last (they follow the builds), conflicts and the request first, then the
        # packages many others depend on (torch before what is built against it).
        return (
            identifier == LINE,
            identifier not in causes,
            not root,
            -len(infos),
            str(identifier),
        )

    def find_matches(
        self,
        identifier: NormalizedName,
        requirements: Mapping[NormalizedName, Iterator[Need]],
        incompatibilities: Mapping[NormalizedName, Iterator[Build]],
    ) -> list[Build]:
        needs = list(requirements[identifier])
        bad = {id(b) for b in incompatibilities[identifier]}
        if identifier == LINE:
            lines = sorted({n.line for n in needs if n.line}, key=lambda s: (-len(s), s))
            pool = [Build(LINE, Version("0"), None, line) for line in lines]
            bad_lines = {b.line for b in incompatibilities[identifier]}
            return [
                b
                for b in pool
                if b.line not in bad_lines and all(self.is_satisfied_by(n, b) for n in needs)
            ]
        return [
            b
            for b in self.candidates(identifier)
            if id(b) not in bad and all(self.is_satisfied_by(n, b) for n in needs)
        ]

    def is_satisfied_by(self, requirement: Need, candidate: Build) -> bool:
        if requirement.name == LINE:
            return lines_agree(requirement.line, candidate.line)
        if requirement.specifier and not requirement.specifier.contains(
            candidate.version, prereleases=True
        ):
            return False
        return not requirement.abi or bool(
            set(requirement.abi) & set(abi_values(candidate.version))
        )

    def get_dependencies(self, candidate: Build) -> list[Need]:
        key = id(candidate)
        known = self.deps.get(key)
        if known is None:
            known = self._dependencies(candidate)
            self.deps[key] = known
        return known

    def _dependencies(self, build: Build) -> list[Need]:
        needs: list[Need] = []
        if build.line is not None and build.name != LINE:
            needs.append(Need(LINE, line=build.line))
        if build.ranked is None:
            return needs
        for feature, values in build.properties.get(ABI_DEPENDENCY, {}).items():
            needs.append(Need(canonicalize_name(feature), abi=tuple(values)))
        deps: list[Requirement] = []
        env = VariantEnvironment.for_wheel(build.label, build.properties, build.supported or {})
        marker_env = dict(self.target.marker_env or {})
        for text in self._requires_dist(build):
            try:
                applies = evaluate(text, env, marker_env)
                req = Requirement(text.split(";", 1)[0]) if ";" in text else Requirement(text)
            except (MarkerSyntaxError, InvalidRequirement, ValueError) as err:
                self.notes[f"{build.name}: ignored Requires-Dist {text!r} ({err})"] = None
                continue
            if applies and canonicalize_name(req.name) != build.name:
                deps.append(req)
        self.prefetch(canonicalize_name(r.name) for r in deps)
        for req in deps:
            name = canonicalize_name(req.name)
            if not self.variant_enabled(name):
                self.plain[str(req)] = None
                continue
            needs.append(Need(name, specifier=req.specifier))
        for need in needs:
            if need.name != LINE and need.name not in self.parent_of:
                self.parent_of[need.name] = build.name
                if len(self.parent_of) > MAX_PACKAGES:
                    raise SelectionError(
                        f"{need.name}: the dependencies of "
                        + " -> ".join(self._chain(need.name)[:4])
                        + f" ... go on past {MAX_PACKAGES} variant-enabled packages; "
                        "wheelmagic refuses a closure that large",
                        hint="install the packages in smaller groups, or report the "
                        "dependency chain to the packages' maintainers",
                    )
        return needs

    def _chain(self, name: NormalizedName) -> list[str]:
        chain: list[str] = []
        seen: set[NormalizedName] = set()
        at: NormalizedName | None = name
        while at is not None and at not in seen:
            seen.add(at)
            chain.append(str(at))
            at = self.parent_of.get(at)
        return chain[::-1]

    def _requires_dist(self, build: Build) -> tuple[str, ...]:
        assert build.ranked is not None
        cand = build.ranked.candidate
        try:
            lines = self.source.requires_dist(cand)
        except IndexError_ as err:
            self.warnings[f"{build.name}: {err.message}"] = None
            return ()
        if lines is None:
            self.notes[
                f"{build.name}: the index offers no metadata (PEP 658) for {cand.filename}; "
                "its dependencies are left to the installer"
            ] = None
            return ()
        return lines


def _has_label(cand: Candidate) -> bool:
    try:
        return cand.wheel.label is not None
    except InvalidWheelName:
        return False


def _merged_failure(sels: Sequence[Selection]) -> Selection:
    """One failed selection from several worlds: each file keeps the reason of the world whose
    `abi_dependency` it matched (its real obstacle, e.g. CUDA), not "torch X is installed"."""
    merged = Selection(sels[0].requirement, [], [], list(sels[0].notes))
    by_file: dict[str, Rejection] = {}
    for sel in sels:
        for rej in sel.rejected:
            have = by_file.get(rej.filename)
            if have is None or (_ABI_REASON in have.reason and _ABI_REASON not in rej.reason):
                by_file[rej.filename] = rej
    merged.rejected = list(by_file.values())
    return merged


def _with_line(build: Build, line: str | None) -> Build:
    return Build(
        build.name,
        build.version,
        build.label,
        line,
        build.ranked,
        build.supported,
        build.installed,
        build.selection,
    )


def _wheels(files: ProjectFiles) -> Iterator[Candidate]:
    for c in files.candidates:
        if c.filename.endswith(".whl"):
            try:
                c.wheel  # noqa: B018 - parse once; invalid names are skipped
            except InvalidWheelName:
                continue
            yield c


def resolve(
    requirements: Sequence[Requirement],
    *,
    source: Source,
    target: Target,
    supported: SupportedProperties,
    companions: CompanionPolicy,
    installed: Mapping[str, tuple[Version, str | None]] | None = None,
    prereleases: bool | None = None,
    variant_label: str | None = None,
    rank: Rank | None = None,
    known: Mapping[str, ProjectFiles] | None = None,
) -> Resolution:
    """Choose a build for every variant-enabled package the request needs; raise if none fits.

    `installed` maps a project to its installed version and accelerator line; one the user
    did not name is kept (see the module docstring). `rank` is the per-package ranking
    (default: `select` in the PEP 825 order); `known` holds projects the caller already read.
    Raises `SelectionError` naming the package a failure is about.
    """
    inst = {canonicalize_name(k): v for k, v in (installed or {}).items()}
    if rank is None:
        rank = pep825_rank(target, supported, companions, prereleases)
    requested = {canonicalize_name(r.name): r for r in requirements}
    roots = [Need(n, specifier=r.specifier, root=str(r)) for n, r in requested.items()]

    def attempt(keep: bool, log: list[str]) -> tuple[_Provider, dict[NormalizedName, Build]]:
        provider = _Provider(
            source=source,
            rank=rank,
            target=target,
            supported=supported,
            companions=companions,
            requested=requested,
            installed=inst,
            keep_installed=keep,
            prereleases=prereleases,
            variant_label=variant_label,
        )
        last.append(provider)
        reporter = _Reporter(log)
        reporters.append(reporter)
        provider.files.update({canonicalize_name(k): v for k, v in (known or {}).items()})
        provider.prefetch(requested)
        resolver: Resolver[Need, Build, NormalizedName] = Resolver(provider, reporter)
        try:
            result = resolver.resolve(roots, max_rounds=MAX_ROUNDS)
        except RecursionError:  # resolvelib walks the graph recursively when building results
            raise SelectionError(
                "the dependency chain of " + ", ".join(requested) + " is too deep to resolve",
                hint="install the packages in smaller groups",
            ) from None
        return provider, {n: b for n, b in result.mapping.items() if n != LINE}

    search: list[str] = ["the search:"]
    last: list[_Provider] = []
    reporters: list[_Reporter] = []
    try:
        provider, chosen = attempt(True, search)
    except ResolutionImpossible as err:
        causes = [*reporters[0].causes, *err.causes]
        retry: list[str] = ["the search without keeping installed builds:"]
        kept = {n for n in inst if n not in requested}
        if kept:
            try:
                _p, alt = attempt(False, retry)
            except (ResolutionImpossible, ResolutionTooDeep):
                alt = {}
            changed = [b for n, b in alt.items() if n in kept and not b.installed]
            if changed:
                raise _keep_installed_error(requirements, changed, inst, causes) from None
        failure = _conflict_error(list(err.causes), causes, requested, last[0])
        failure.explanation = tuple(search)
        raise failure from None
    except ResolutionTooDeep:
        raise SelectionError(
            "no consistent set of builds for " + ", ".join(requested) + f" was found within "
            f"{MAX_ROUNDS} steps of the search",
            hint="pin versions (torch==2.8.0) to narrow the search; --explain shows it",
        ) from None

    notes = list(provider.notes)
    for name, build in chosen.items():
        best = provider.candidates(name)
        if best and best[0] is not build and not build.installed:
            notes.append(
                f"{name} {build.version} [{variant_name(build.label)}] was chosen over "
                f"{best[0].describe()} so that the set is consistent"
            )
        if build.installed:
            notes.append(f"{name}: the installed build is kept ({build.describe()})")
    plain = list(provider.plain)
    if plain:
        notes.append(
            "left to the installer (no variant wheels on the indexes): "
            + ", ".join(plain[:8])
            + (" ..." if len(plain) > 8 else "")
        )
    order = list(requested) + [n for n in chosen if n not in requested]
    return Resolution(
        chosen={n: chosen[n] for n in order if n in chosen},
        selections=provider.selections,
        variants={n: f.variants for n, f in provider.files.items()},
        plain=plain,
        notes=notes,
        warnings=list(provider.warnings),
        explanation=search,
    )


def _keep_installed_error(
    requirements: Sequence[Requirement],
    changed: Sequence[Build],
    installed: Mapping[NormalizedName, tuple[Version, str | None]],
    causes: Sequence[RequirementInformation[Need, Build]],
) -> SelectionError:
    first = changed[0]
    have_version, have_line = installed[first.name]
    who = sorted(
        {c.parent.describe() for c in causes if c.parent is not None and not c.parent.installed}
    )
    need = f"{first.name}=={first.version}"
    words = [str(r) for r in requirements] + [need]
    return SelectionError(
        f"{first.name}: no build of {', '.join(str(r.name) for r in requirements)} works with "
        f"the installed {first.name} {have_version} [{have_line or 'unknown line'}]"
        + (f" ({'; '.join(who[:2])})" if who else "")
        + f"; a consistent set needs {first.describe()}",
        hint="wheelmagic keeps an installed package you did not name; to change it, run: "
        "wheelmagic install " + " ".join(_quote(w) for w in words),
    )


def _offered(name: str, builds: Sequence[Build]) -> str | None:
    """ "vllm 0.11.0 has builds only for torch 2.8.0 on cuda12", when that is short."""
    if not builds or any(b.installed for b in builds):
        return None
    combos: dict[str, None] = {}
    for b in builds:
        abi = [
            f"{f} {' or '.join(vs)}"
            for f, vs in sorted(b.properties.get(ABI_DEPENDENCY, {}).items())
        ]
        what = " and ".join(abi) or "any release"
        combos[what + (f" on {b.line}" if b.line else "")] = None
    if len(combos) > 3:
        return None
    versions = sorted({str(b.version) for b in builds})
    head = f"{name} {versions[0]}" if len(versions) == 1 else str(name)
    return f"{head} has builds for this machine only for " + ", ".join(combos)


def _quote(text: str) -> str:
    return f"'{text}'" if any(ch in text for ch in "<>=!~; *[") else text


def _conflict_error(
    final: Sequence[RequirementInformation[Need, Build]],
    causes: Sequence[RequirementInformation[Need, Build]],
    requested: Mapping[NormalizedName, Requirement],
    provider: _Provider,
) -> SelectionError:
    """One or two lines that name the packages in conflict.

    `final` is what the search ended on; `causes` every conflict met on the way (the ones
    between packages say more than the accelerator lines that follow them).
    """
    names = list(dict.fromkeys(c.requirement.name for c in final))
    empty = [n for n in names if n != LINE and not provider.builds.get(n)]
    roots_only = all(c.parent is None for c in final)
    if empty and (roots_only or len(names) == 1):
        name = empty[0]
        sel = provider.selections.get(name)
        what = requested.get(name) or name
        files = provider.files.get(name)
        if sel is not None and files is not None:
            # names what exists and why it does not fit (issue 13 item 5)
            from wheelmagic.install.failure import describe

            config = getattr(provider.source, "config", None)
            fail = describe(sel, files, config.index_urls if config else ())
            return SelectionError(fail.message, hint=fail.hint)
        why = sel.failure() if sel is not None else f"{name} is not on the configured indexes"
        return SelectionError(
            f"no installable build of {what} for this machine: {why}",
            hint="run again with --explain to see every file considered; --platform FILE plans "
            "for another machine; --index-url/--extra-index-url choose other indexes",
        )
    ranked = sorted([*causes, *final], key=lambda c: (c.requirement.name == LINE, c.parent is None))
    between = [c for c in ranked if c.requirement.name != LINE] or ranked
    # the package it is about: the most constrained one in the conflict (fewest builds)
    parents = [c.parent.name for c in between if c.parent is not None and not c.parent.installed]
    about: str = min(
        dict.fromkeys(parents),
        key=lambda n: len(provider.builds.get(n, ())),
        default=next((n for n in names if n != LINE), "the request"),
    )
    between.sort(key=lambda c: (c.parent is None or c.parent.name != about, c.parent is not None))
    parts = list(dict.fromkeys(_cause(c) for c in between))[:3]
    for name in empty:
        sel = provider.selections.get(name)
        parts.append(
            f"{name} has no build for this machine" + (f" ({sel.failure()})" if sel else "")
        )
    offer = _offered(about, provider.builds.get(NormalizedName(about), []))
    return SelectionError(
        f"{about}: no consistent set of builds: "
        + "; ".join(parts)
        + (f"\n  ({offer})" if offer else ""),
        hint="run again with --explain to see the search; pin a version or choose a build "
        "with --variant",
    )
