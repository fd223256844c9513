"""pip's and uv's constraint files, applied when planning.

An administrator's `constraint = FILE` in pip.conf, `PIP_CONSTRAINT`, or (when uv installs)
`UV_CONSTRAINT` caps versions: `pip download torch==2.15.0` refuses a version a constraint
excludes, so a plan must not choose it. `constraint_files` says which files apply and where
the setting came from (pip's order: `PIP_CONSTRAINT` over the config files); `read_constraints`
parses them as pip does (one requirement per line, `#` comments, `-c`/`-r` includes relative
to the file; URLs and options pip would pass on are skipped with a note); `apply_constraints`
removes the candidates they exclude and says which constraint excluded what.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelmagic.errors import WheelmagicError

ENV_PIP_CONSTRAINT = "PIP_CONSTRAINT"
ENV_UV_CONSTRAINT = "UV_CONSTRAINT"


@dataclass(frozen=True)
class ConstraintFile:
    path: str
    #: where the setting came from: "PIP_CONSTRAINT", "pip config constraint", "UV_CONSTRAINT"
    origin: str


@dataclass(frozen=True)
class Constraint:
    requirement: Requirement
    #: "FILE line N (from ORIGIN)"
    where: str

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    def __str__(self) -> str:
        return f"{self.requirement} ({self.where})"


def constraint_files(
    env: Mapping[str, str], pip_config: Mapping[str, str], *, uv: bool
) -> tuple[ConstraintFile, ...]:
    """pip's constraint files (`PIP_CONSTRAINT` wins over pip.conf's `constraint`), plus
    `UV_CONSTRAINT` when uv is the installer (uv does not read pip's settings)."""
    out: list[ConstraintFile] = []
    if env.get(ENV_PIP_CONSTRAINT, "").strip():
        out += [ConstraintFile(p, ENV_PIP_CONSTRAINT) for p in env[ENV_PIP_CONSTRAINT].split()]
    elif pip_config.get("constraint", "").strip():
        out += [
            ConstraintFile(p, "pip config constraint") for p in pip_config["constraint"].split()
        ]
    if uv and env.get(ENV_UV_CONSTRAINT, "").strip():
        out += [ConstraintFile(p, ENV_UV_CONSTRAINT) for p in env[ENV_UV_CONSTRAINT].split()]
    return tuple(out)


def read_constraints(files: Sequence[ConstraintFile]) -> tuple[list[Constraint], list[str]]:
    """(constraints, notes). A missing or unreadable file is an error, as it is for pip."""
    constraints: list[Constraint] = []
    notes: list[str] = []
    seen: set[Path] = set()

    def read(path: Path, origin: str) -> None:
        if path in seen:
            return
        seen.add(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise WheelmagicError(
                f"cannot read the constraint file {path} (from {origin}): {err.strerror or err}",
                hint=f"fix or unset {origin}; pip would refuse to install with it too",
            ) from None
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            for flag in ("-c", "--constraint", "-r", "--requirement"):
                if line.startswith(flag + " ") or line.startswith(flag + "="):
                    target = line[len(flag) :].lstrip(" =")
                    if "://" in target:
                        notes.append(f"{path} line {number}: {target} is a URL; not read")
                    else:
                        read((path.parent / target).resolve(), origin)
                    break
            else:
                if line.startswith("-"):
                    notes.append(f"{path} line {number}: option {line.split()[0]} not used")
                    continue
                try:
                    req = Requirement(line)
                except InvalidRequirement as err:
                    raise WheelmagicError(
                        f"{path} line {number} (from {origin}): {line!r} is not a valid "
                        f"constraint: {err}",
                        hint="write one requirement per line, e.g. torch<=2.14.1",
                    ) from None
                constraints.append(Constraint(req, f"{path} line {number}, from {origin}"))

    for f in files:
        if "://" in f.path:
            notes.append(f"constraint {f.path} (from {f.origin}) is a URL; not read")
            continue
        read(Path(f.path).expanduser().resolve(), f.origin)
    return constraints, notes


T = TypeVar("T")


def apply_constraints(
    name: str,
    candidates: Sequence[T],
    version_of: Callable[[T], Version | None],
    constraints: Sequence[Constraint],
) -> tuple[list[T], list[str], dict[Version, Constraint]]:
    """(the candidates the constraints on `name` allow, one line per constraint that excluded
    versions: "constraint torch<=2.14.1 (FILE line 2, from pip config constraint) excluded
    2.15.0, 2.16.0", each excluded version -> the first constraint that excluded it)."""
    mine = [c for c in constraints if c.name == canonicalize_name(name)]
    if not mine:
        return list(candidates), [], {}
    kept: list[T] = []
    excluded: dict[Constraint, set[Version]] = {}
    for cand in candidates:
        try:
            version = version_of(cand)
        except (InvalidVersion, WheelmagicError):  # an unparsable name: selection reports it
            version = None
        if version is None:
            kept.append(cand)
            continue
        refusing = [c for c in mine if not c.requirement.specifier.contains(version, True)]
        if refusing:
            for c in refusing:
                excluded.setdefault(c, set()).add(version)
        else:
            kept.append(cand)
    by_version = {v: c for c, vs in reversed(list(excluded.items())) for v in vs}
    lines = [
        f"{name}: constraint {c.requirement} ({c.where}) excluded "
        + ", ".join(str(v) for v in sorted(vs, reverse=True))
        for c, vs in excluded.items()
    ]
    return kept, lines, by_version
