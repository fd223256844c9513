"""`wheelmagic enable` / `wheelmagic disable`: load the extension in every kernel, or stop.

IPython has no `.d` config directories and a higher-priority `extensions = [...]` replaces a
lower one, so the robust switch is a *startup file*: IPython runs every `*.py` in
`{sys.prefix}/etc/ipython/startup/`, `/etc/ipython/startup/` and the profile's `startup/`, in
terminals and kernels alike. We write one small file there (the same text as
`jupyter-config/ipython/startup/50-wheelmagic.py`) and remove it again; both are idempotent.

What `enable` wrote is recorded beside it, in `.50-wheelmagic.json` (IPython runs only `*.py`
and `*.ipy` files): the file's path and sha256, and the directories `enable` had to create.
A file is ours only while its bytes are what we wrote (the recorded hash, or this version's
text): `enable` never overwrites a file the user edited (or one that merely quotes our marker
line), and `disable` removes only a file that is still ours, then the directories `enable`
created if they are empty, and says what it left.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

FILENAME = "50-wheelmagic.py"
#: the record of what `enable` wrote, beside the startup file (not run by IPython)
RECORD = ".50-wheelmagic.json"
MARKER = "# Installed by wheelmagic (`wheelmagic enable`)"
SCOPES = ("sys-prefix", "user", "system")

#: The startup file, shipped in the package (jupyter-config/ipython/startup/50-wheelmagic.py
#: is a link to the same file, for admins who copy it by hand).
STARTUP_FILE = (files("wheelmagic") / "data" / "startup_file.py.txt").read_text(encoding="utf-8")


def startup_dir(
    scope: str, *, prefix: str | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """Where IPython looks for startup files for `scope` (see IPython's `config_file_paths`)."""
    env = os.environ if environ is None else environ
    if scope == "sys-prefix":
        return Path(prefix or sys.prefix) / "etc" / "ipython" / "startup"
    if scope == "user":
        base = env.get("IPYTHONDIR") or os.path.join(os.path.expanduser("~"), ".ipython")
        return Path(base) / "profile_default" / "startup"
    if scope == "system":
        if os.name == "nt":
            return Path(env.get("PROGRAMDATA", r"C:\ProgramData")) / "ipython" / "startup"
        return Path("/etc/ipython/startup")
    raise ValueError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")


@dataclass(frozen=True)
class Record:
    """What `enable` wrote: the file, its sha256, and the directories it created (outermost
    first)."""

    path: str
    sha256: str
    created_dirs: tuple[str, ...] = ()

    @classmethod
    def read(cls, directory: Path) -> Record | None:
        try:
            data = json.loads((directory / RECORD).read_text(encoding="utf-8"))
            return cls(
                str(data["path"]),
                str(data["sha256"]),
                tuple(str(d) for d in data.get("created_dirs", [])),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, directory: Path) -> None:
        body = {"path": self.path, "sha256": self.sha256, "created_dirs": list(self.created_dirs)}
        tmp = directory / f"{RECORD}.tmp"
        tmp.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, directory / RECORD)


@dataclass(frozen=True)
class Outcome:
    """What `enable` or `disable` did: created, updated, unchanged, removed, absent, left."""

    what: str
    path: Path
    removed_dirs: tuple[Path, ...] = ()
    #: what was left in place, and why (one line each)
    left: tuple[str, ...] = field(default_factory=tuple)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ours(content: bytes, record: Record | None, path: Path) -> bool:
    """The file's bytes are what wheelmagic wrote: this version's text or the recorded hash."""
    digest = _sha256(content)
    if digest == _sha256(STARTUP_FILE.encode("utf-8")):
        return True
    return record is not None and record.path == str(path) and record.sha256 == digest


def _missing_dirs(directory: Path) -> list[Path]:
    """The directories `mkdir(parents=True)` would create for `directory`, outermost first."""
    out: list[Path] = []
    d = directory
    while not d.exists() and d != d.parent:
        out.append(d)
        d = d.parent
    return out[::-1]


def enable(scope: str = "sys-prefix", **kw: Any) -> Outcome:
    """Write the startup file and its record; never overwrite a file that is not ours."""
    from wheelmagic.errors import WheelmagicError

    directory = startup_dir(scope, **kw)
    path = directory / FILENAME
    record = Record.read(directory)
    try:
        current = path.read_bytes() if path.exists() else None
    except OSError as err:
        raise WheelmagicError(f"cannot read {path}: {err}") from None
    wanted = STARTUP_FILE.encode("utf-8")
    if current == wanted and record is not None and record.sha256 == _sha256(wanted):
        return Outcome("unchanged", path)
    if current is not None and not _ours(current, record, path):
        edited = record is not None or MARKER.encode() in current
        raise WheelmagicError(
            f"{path} exists and "
            + (
                "was changed since wheelmagic wrote it; leaving your edits alone"
                if edited
                else "was not written by wheelmagic; leaving it alone"
            ),
            hint="remove or rename it, then run `wheelmagic enable` again",
        )
    created = _missing_dirs(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if current != wanted:
            tmp = directory / f".{FILENAME}.tmp"
            tmp.write_bytes(wanted)
            os.replace(tmp, path)
        kept = record.created_dirs if record is not None else ()
        Record(str(path), _sha256(wanted), kept or tuple(str(d) for d in created)).write(directory)
    except OSError as err:
        raise WheelmagicError(f"cannot write {path}: {err}", hint=_permission_hint(scope)) from None
    if current == wanted:
        return Outcome("unchanged", path)
    return Outcome("updated" if current is not None else "created", path)


def disable(scope: str = "sys-prefix", **kw: Any) -> Outcome:
    """Remove the startup file if it is still ours, its record, and the directories `enable`
    created (when empty); say what was left."""
    from wheelmagic.errors import WheelmagicError

    directory = startup_dir(scope, **kw)
    path = directory / FILENAME
    record = Record.read(directory)
    left: list[str] = []
    what = "absent"
    if path.exists():
        try:
            content = path.read_bytes()
        except OSError as err:
            raise WheelmagicError(f"cannot read {path}: {err}") from None
        if not _ours(content, record, path):
            why = (
                "was changed since wheelmagic wrote it"
                if record is not None or MARKER.encode() in content
                else "was not written by wheelmagic"
            )
            raise WheelmagicError(
                f"{path} {why}; leaving it alone (not removed)",
                hint="remove it by hand if it is yours to remove",
            )
        try:
            path.unlink()
        except OSError as err:
            raise WheelmagicError(
                f"cannot remove {path}: {err}", hint=_permission_hint(scope)
            ) from None
        what = "removed"
    removed: list[Path] = []
    if record is not None:
        try:
            (directory / RECORD).unlink()
        except FileNotFoundError:
            pass
        except OSError as err:
            left.append(f"{directory / RECORD} ({err.strerror or err})")
        for d in map(Path, reversed(record.created_dirs)):
            try:
                d.rmdir()  # only when empty: other startup files stay, and so does their dir
                removed.append(d)
            except FileNotFoundError:
                pass
            except OSError:
                others = sorted(p.name for p in d.iterdir()) if d.is_dir() else []
                left.append(f"{d} (not empty: {', '.join(others[:5])})")
                break  # its parents are not empty either
    return Outcome(what, path, tuple(removed), tuple(left))


def _permission_hint(scope: str) -> str:
    if scope == "system":
        return "the system directory needs administrator rights (sudo), or use --sys-prefix/--user"
    return "check the directory's permissions, or choose another scope (--user)"


_MESSAGES = {
    "created": "enabled: every IPython and Jupyter kernel of {where} now loads wheelmagic ({path})",
    "updated": "enabled (startup file updated): {path}",
    "unchanged": "already enabled: {path}",
    "removed": "disabled: removed {path}",
    "absent": "not enabled for {where}: nothing to remove ({path})",
}


def _where(scope: str, prefix: str | None) -> str:
    return {
        "sys-prefix": f"the environment {prefix or sys.prefix}",
        "user": "this user",
        "system": "this machine",
    }[scope]


def run(args: argparse.Namespace) -> int:
    scope = args.scope or "sys-prefix"
    prefix = getattr(args, "prefix", None)
    action = enable if args.command == "enable" else disable
    done = action(scope, prefix=prefix)
    what, path = done.what, done.path
    print("wheelmagic: " + _MESSAGES[what].format(where=_where(scope, prefix), path=path))
    for d in done.removed_dirs:
        print(f"wheelmagic: removed the directory {d} (enable had created it)")
    for line in done.left:
        print(f"wheelmagic: left {line}")
    if what in ("created", "updated") and scope == "user":
        print("wheelmagic: note: this applies to every environment this user runs IPython from")
    return 0


def _add_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--sys-prefix",
        dest="scope",
        action="store_const",
        const="sys-prefix",
        help="this environment: {sys.prefix}/etc/ipython/startup (default)",
    )
    group.add_argument(
        "--user",
        dest="scope",
        action="store_const",
        const="user",
        help="this user: $IPYTHONDIR or ~/.ipython, profile_default/startup",
    )
    group.add_argument(
        "--system",
        dest="scope",
        action="store_const",
        const="system",
        help="the whole machine: /etc/ipython/startup",
    )
    p.add_argument(
        "--prefix",
        metavar="DIR",
        help="with --sys-prefix: another environment's prefix (default: this one)",
    )
    p.set_defaults(func=run, scope=None)


def register(sub: Any) -> None:
    """Both subcommands live here: `enable` and `disable` share their options."""
    _add_options(
        sub.add_parser(
            "enable",
            help="load wheelmagic in every kernel (installs an IPython startup file)",
            description="Load the wheelmagic extension in every IPython/Jupyter kernel, by "
            "installing an IPython startup file. Idempotent.",
        )
    )
    _add_options(
        sub.add_parser(
            "disable",
            help="stop loading wheelmagic in every kernel (removes the startup file)",
            description="Remove the startup file `wheelmagic enable` installed. Idempotent.",
        )
    )
