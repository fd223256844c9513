"""The one plan every front end shares: what to install, from where, and why.

`make_plan` asks a candidate source (the index client) for each requested project, lets the
pure engine choose one consistent set of builds for this platform and interpreter, and returns
a `Plan` that says what will be installed, what is already in place, and the reasons. Nothing
is downloaded or installed here: `wheelmagic.install.execute` does that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelmagic.errors import SelectionError, WheelmagicError
from wheelmagic.index.urls import redact
from wheelmagic.install.accelerator import UnusedAccelerator, unused_accelerator
from wheelmagic.install.failure import failure
from wheelmagic.install.resolve import pep825_rank, resolve
from wheelmagic.interpreter import platform_mismatch
from wheelmagic.variants.markers import VariantEnvironment
from wheelmagic.variants.metadata import VariantsMetadata
from wheelmagic.variants.ordering import SupportedProperties, resolve_supported
from wheelmagic.variants.properties import Properties
from wheelmagic.variants.selection import (
    Candidate,
    CompanionPolicy,
    FitPolicy,
    Ranked,
    Target,
    variant_name,
)

if TYPE_CHECKING:
    from wheelmagic.index.client import IndexClient, ProjectFiles
    from wheelmagic.interpreter import Interpreter
    from wheelmagic.platform import Platform


@dataclass(frozen=True)
class PlannedFile:
    name: NormalizedName
    version: Version
    filename: str
    label: str | None
    url: str
    index_url: str
    sha256: str | None
    size: int | None
    properties: Properties
    #: the supported properties this file was judged with (for its variant markers)
    supported: SupportedProperties
    why: str = ""

    @property
    def variant(self) -> str:
        """`null` for the null variant, '' for a non-variant wheel (the JSON contract): a
        per-backend index's `+cpu` wheel is non-variant, whatever line it was filed under."""
        return self.label if self.label is not None and self.is_variant_file else ""

    @property
    def build(self) -> dict[str, str] | None:
        """Where the build's accelerator line was read: the wheel's variant label, or (for a
        non-variant wheel) its local version label (`+cu128`, `+cpu`); None: neither."""
        if self.label is not None and self.is_variant_file:
            return {"from": "variant label", "label": self.label}
        if self.version.local:
            return {"from": "local version label", "label": self.version.local}
        return None

    @property
    def is_variant_file(self) -> bool:
        """A real variant wheel (label in the filename), not a virtual per-backend one."""
        return self.filename.endswith(f"-{self.label}.whl") if self.label else False

    def variant_environment(self) -> VariantEnvironment:
        return VariantEnvironment.for_wheel(self.label, self.properties, self.supported)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": str(self.name),
            "version": str(self.version),
            "filename": self.filename,
            "variant": self.variant,
            "build": self.build,
            "url": redact(self.url),
            "sha256": self.sha256,
        }


@dataclass
class Plan:
    requirements: list[str]
    packages: list[PlannedFile]
    satisfied: list[PlannedFile]
    platform: Platform
    interpreter: Interpreter
    reasons: list[str] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    #: indexes that could not be read (the plan was made from the others)
    warnings: list[str] = field(default_factory=list)
    #: the chosen build leaves a GPU of this machine unused (why, and the next step)
    unused_accelerator: UnusedAccelerator | None = None

    @property
    def nothing_to_do(self) -> bool:
        return not self.packages

    def summary(self) -> str:
        """One line per front end: what will happen."""
        if self.nothing_to_do:
            done = ", ".join(_describe(p) for p in self.satisfied)
            return f"already installed and fitting: {done}"
        return "will install " + ", ".join(_describe(p) for p in self.packages)

    def to_json(self) -> dict[str, Any]:
        return {
            "packages": [p.to_json() for p in self.packages],
            "satisfied": [p.to_json() for p in self.satisfied],
            "platform": self.platform.to_json(),
            "python": self.interpreter.executable,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "unused_accelerator": str(self.unused_accelerator) if self.unused_accelerator else None,
        }


def _describe(p: PlannedFile) -> str:
    return f"{p.name} {p.version} [{variant_name(p.label)}]"


def parse_requirements(requirements: Sequence[str]) -> list[Requirement]:
    out = []
    for text in requirements:
        try:
            out.append(Requirement(text))
        except InvalidRequirement as err:
            raise WheelmagicError(
                f"{text!r} is not a valid requirement: {err}",
                hint="write it as pip would, for example: torch, 'torch>=2.8', torch==2.14.1",
            ) from None
        if out[-1].url:
            raise WheelmagicError(
                f"{text!r} is a direct URL requirement",
                hint="wheelmagic chooses among an index's files; use pip for direct URLs",
            )
    return out


def make_plan(
    requirements: Sequence[str],
    *,
    platform: Platform,
    interpreter: Interpreter,
    source: IndexClient,
    companions: CompanionPolicy,
    supported: SupportedProperties | None = None,
    variant_label: str | None = None,
    prereleases: bool | None = None,
    installed: Mapping[str, tuple[Version, str | None]] | None = None,
    reinstall: bool = False,
    fit: FitPolicy | None = None,
    prefer_newest: bool = False,
) -> Plan:
    """Choose one consistent set of builds for `requirements` on this platform.

    `installed` maps a project to its installed version and accelerator line (`cuda13.0`,
    `cpu`, ...): a choice that matches it is `satisfied` rather than reinstalled, and an
    installed torch counts for companions' `abi_dependency` when torch itself is not requested.
    `companions` says which package anchors the others and which accelerator line a label is
    on (`wheelmagic.pytorch.companions.PYTORCH_COMPANIONS`; the engine knows no PyTorch).
    `fit` ranks builds by what they do on this machine before versions
    (`wheelmagic.pytorch.fit.fit_policy`); `prefer_newest` puts the newest version first.
    """
    from wheelmagic.providers import supported_properties

    reqs = parse_requirements(requirements)
    if not reqs:
        raise WheelmagicError("nothing to install", hint="name at least one package, e.g. torch")
    sup = supported if supported is not None else supported_properties(platform)
    installed = {canonicalize_name(k): v for k, v in (installed or {}).items()}
    names = [canonicalize_name(r.name) for r in reqs]
    candidates: dict[str, Sequence[Candidate]] = {}
    variants: dict[str, Mapping[Version, VariantsMetadata]] = {}
    reasons: list[str] = []
    warnings: list[str] = []
    mismatch = platform_mismatch(platform.os, platform.arch, interpreter)
    if mismatch:
        warnings.append(mismatch)
    read: dict[str, ProjectFiles] = {}
    for name in names:
        files = read[name] = source.project(name)
        candidates[name] = files.candidates
        variants[name] = files.variants
        errors = list(files.errors)
        warnings.extend(_prefixed(name, e) for e in errors)
        reasons.extend(_prefixed(name, note) for note in files.notes if note not in errors)
    target = Target(
        tags=interpreter.tags,
        python_version=interpreter.python_version,
        marker_env=interpreter.marker_env,
    )
    # Every variant-enabled package of the request's closure, chosen together (issue 16).
    try:
        resolution = resolve(
            reqs,
            source=source,
            target=target,
            supported=sup,
            companions=companions,
            installed=installed,
            prereleases=prereleases,
            variant_label=variant_label,
            rank=pep825_rank(
                target, sup, companions, prereleases, fit=fit, prefer_newest=prefer_newest
            ),
            known=read,
        )
    except SelectionError as err:
        # the resolver's own failure: the indexes that could not be read still belong to it
        if not warnings:
            raise
        told = SelectionError(_with_unreadable(err.message, warnings), hint=err.hint)
        told.explanation = err.explanation
        raise told from None
    joint = resolution.joint()
    variants.update(resolution.variants)
    warnings.extend(resolution.warnings)
    abi = resolution.abi_versions({n: v for n, (v, _) in installed.items()})
    explanation = [line for sel in joint.selections.values() for line in sel.explain()]
    explanation.extend(joint.notes)
    explanation.extend(resolution.explanation)
    if not joint.ok:
        # what each failing project has (read again: the failure path only), and why not
        offered = {n: source.project(n) for n in joint.selections if n not in joint.chosen}
        config = getattr(source, "config", None)
        fail = failure(joint, offered, config.index_urls if config else ())
        raise SelectionError(_with_unreadable(fail.message, warnings), hint=fail.hint)
    reasons.extend(joint.notes)
    packages: list[PlannedFile] = []
    satisfied: list[PlannedFile] = []
    for name in joint.chosen:
        chosen = joint.chosen[name]
        meta = variants[name].get(chosen.version)
        planned = _planned(name, chosen, meta, sup, target, abi, joint.selections[name].headline)
        reasons.append(
            f"{name}: chose {chosen.candidate.filename} [{variant_name(chosen.label)}]"
            f" from {redact(chosen.candidate.index_url)}: {chosen.why}"
        )
        have = installed.get(name)
        if not reinstall and have is not None and _same_build(have, chosen, companions):
            satisfied.append(planned)
        else:
            packages.append(planned)
    unused = unused_accelerator(
        platform=platform,
        requested=names,
        selections=joint.selections,
        chosen=joint.chosen,
        variants=variants,
        supported=sup,
        companions=companions,
        variant_label=variant_label,
    )
    return Plan(
        list(requirements),
        packages,
        satisfied,
        platform,
        interpreter,
        reasons,
        explanation,
        warnings,
        unused,
    )


def _with_unreadable(message: str, warnings: Sequence[str]) -> str:
    """A failure, then what could not be read (a broken variants.json is often the cause)."""
    if not warnings:
        return message
    return message + "\n  and some indexes could not be read:\n  " + "\n  ".join(warnings)


def _prefixed(name: str, text: str) -> str:
    return text if text.startswith(f"{name}:") else f"{name}: {text}"


def _planned(
    name: NormalizedName,
    chosen: Ranked,
    meta: VariantsMetadata | None,
    sup: SupportedProperties,
    target: Target,
    abi: Mapping[str, Version],
    headline: str | None = None,
) -> PlannedFile:
    resolved: SupportedProperties = (
        resolve_supported(meta, sup, marker_env=target.marker_env, abi_versions=abi)
        if meta is not None
        else sup
    )
    cand = chosen.candidate
    return PlannedFile(
        name=name,
        version=chosen.version,
        filename=cand.filename,
        label=chosen.label,
        url=cand.url,
        index_url=redact(cand.index_url),  # for messages only: never print a password
        sha256=cand.sha256,
        size=cand.size,
        properties=chosen.properties,
        supported=resolved,
        why=headline or (f"{chosen.fit.detail}; {chosen.why}" if chosen.fit.detail else chosen.why),
    )


def _same_build(
    have: tuple[Version, str | None], chosen: Ranked, companions: CompanionPolicy
) -> bool:
    version, line = have
    if version.release != chosen.version.release or version.pre != chosen.version.pre:
        return False
    want = companions.line_of(chosen.label)
    if want is None:  # a non-variant file: the local label (+cu128) is all we know
        want = companions.line_of(chosen.version.local)
    return want is None or line == want
