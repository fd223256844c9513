"""`wheelmagic enable` / `wheelmagic disable`: load the extension in every kernel, or stop.

IPython has no `.d` config directories and a higher-priority `extensions = [...]` replaces a
lower one, so the robust switch is a *startup file*: IPython runs every `*.py` in
`{sys.prefix}/etc/ipython/startup/`, `/etc/ipython/startup/` and the profile's `startup/`, in
terminals and kernels alike. We write one small file there (the same text as
`jupyter-config/ipython/startup/50-wheelmagic.py`) and remove it again; both are idempotent,
and a file we did not write is never touched.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

FILENAME = "50-wheelmagic.py"
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


def enable(scope: str = "sys-prefix", **kw: Any) -> tuple[str, Path]:
    """Write the startup file; returns (what happened, path): created, updated, unchanged."""
    from wheelmagic.errors import WheelmagicError

    path = startup_dir(scope, **kw) / FILENAME
    try:
        current = path.read_text(encoding="utf-8") if path.exists() else None
    except OSError as err:
        raise WheelmagicError(f"cannot read {path}: {err}") from None
    if current == STARTUP_FILE:
        return "unchanged", path
    if current is not None and MARKER not in current:
        raise WheelmagicError(
            f"{path} exists and was not written by wheelmagic; leaving it alone",
            hint="remove or rename it, then run `wheelmagic enable` again",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{FILENAME}.tmp")
        tmp.write_text(STARTUP_FILE, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        raise WheelmagicError(f"cannot write {path}: {err}", hint=_permission_hint(scope)) from None
    return ("updated" if current is not None else "created"), path


def disable(scope: str = "sys-prefix", **kw: Any) -> tuple[str, Path]:
    """Remove the startup file; returns (what happened, path): removed, absent."""
    from wheelmagic.errors import WheelmagicError

    path = startup_dir(scope, **kw) / FILENAME
    if not path.exists():
        return "absent", path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise WheelmagicError(f"cannot read {path}: {err}") from None
    if MARKER not in text:
        raise WheelmagicError(
            f"{path} was not written by wheelmagic; leaving it alone",
            hint="remove it by hand if it is yours to remove",
        )
    try:
        path.unlink()
    except OSError as err:
        raise WheelmagicError(
            f"cannot remove {path}: {err}", hint=_permission_hint(scope)
        ) from None
    return "removed", path


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
    what, path = action(scope, prefix=prefix)
    print("wheelmagic: " + _MESSAGES[what].format(where=_where(scope, prefix), path=path))
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
