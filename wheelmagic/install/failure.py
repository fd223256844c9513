"""Why nothing could be planned, naming the package, what exists and why it does not fit.

`torch==9.9` -> "torch has 2.13.0, 2.14.1 on <index>; none matches ==9.9"; an unknown package
-> "nosuchpkg is not on <index>" (nothing about this machine: another `--platform` would not
help); a constraint file that excludes every version says which constraint; only when files
exist that match the request but not this machine does the message speak of the machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelmagic.errors import WheelmagicError
from wheelmagic.index.urls import redact
from wheelmagic.variants.selection import JointSelection, Selection

if TYPE_CHECKING:
    from wheelmagic.index.client import ProjectFiles

MACHINE_HINT = (
    "run again with --explain to see every file considered; --platform FILE plans for "
    "another machine; --index-url/--extra-index-url choose other indexes"
)
VERSION_HINT = (
    "ask for one of the versions above; --index-url/--extra-index-url choose other indexes"
)
NAME_HINT = "check the spelling; --index-url/--extra-index-url choose other indexes"
CONSTRAINT_HINT = (
    "the constraint file caps what pip may install here too; change it (or unset the setting "
    "named above) to allow a newer version"
)


@dataclass(frozen=True)
class Failure:
    message: str
    #: the files exist but do not fit this machine (else: the name or version is wrong)
    about_machine: bool
    hint: str = MACHINE_HINT


def describe(sel: Selection, files: ProjectFiles, index_urls: Sequence[str]) -> Failure:
    """One failing requirement, in words."""
    req = sel.requirement
    name = canonicalize_name(req.name)
    versions: set[Version] = set(files.excluded)
    where_urls: list[str] = []
    for cand in files.candidates:
        try:
            versions.add(cand.wheel.version)
        except WheelmagicError:
            continue
        if cand.index_url not in where_urls:
            where_urls.append(cand.index_url)
    where = ", ".join(redact(u) for u in (where_urls or list(index_urls))) or "the index"
    public = sorted({Version(v.public) for v in versions})
    if not public:
        return Failure(f"{name} is not on {where}", about_machine=False, hint=NAME_HINT)
    shown = ", ".join(str(v) for v in public[-12:])
    if len(public) > 12:
        shown = f"{len(public) - 12} older and " + shown
    has = f"{name} has {shown} on {where}"
    matching = [v for v in versions if req.specifier.contains(v, prereleases=True)]
    if not matching:
        return Failure(
            f"{has}; none matches {req.specifier}", about_machine=False, hint=VERSION_HINT
        )
    if all(v in files.excluded for v in matching):
        why = sorted({str(files.excluded[v]) for v in matching})
        return Failure(
            f"{has}; the constraint {'; '.join(why)} excludes every one that matches "
            f"{req.specifier or name}",
            about_machine=False,
            hint=CONSTRAINT_HINT,
        )
    return Failure(
        f"no installable build of {req} for this machine: {sel.failure()}", about_machine=True
    )


def failure(
    joint: JointSelection, files: Mapping[NormalizedName, ProjectFiles], index_urls: Sequence[str]
) -> Failure:
    """Every failing requirement of `joint`, one line each (the joint notes after them)."""
    found: list[Failure] = []
    for name, sel in joint.selections.items():
        if sel.chosen is None or name not in joint.chosen:
            got = files.get(name)
            if got is None:
                found.append(
                    Failure(
                        f"no installable build of {sel.requirement} for this machine: "
                        + sel.failure(),
                        about_machine=True,
                    )
                )
            else:
                found.append(describe(sel, got, index_urls))
    lines = [f.message for f in found] + list(joint.notes)
    machine = any(f.about_machine for f in found) or not found
    return Failure(
        "\n  ".join(lines) if lines else "no consistent set of builds was found",
        about_machine=machine,
        hint=MACHINE_HINT if machine else found[0].hint,
    )
