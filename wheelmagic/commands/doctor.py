"""`wheelmagic doctor`: does the installed torch fit this machine, and if not, the fix.

Reads the target interpreter's installed builds from files (nothing is imported), judges them
against the platform snapshot and prints the verdict. Exit status: 0 fits, 1 suboptimal,
2 broken, 3 not installed (4 is the CLI's "wheelmagic itself failed").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from wheelmagic.installed import InstalledBuild
    from wheelmagic.interpreter import Interpreter
    from wheelmagic.platform.model import Platform
    from wheelmagic.pytorch.diagnose import Diagnosis


def register(subparsers: Any) -> None:
    from wheelmagic.options import add_target_arguments

    parser = subparsers.add_parser(
        "doctor",
        help="check that the installed torch build fits this machine",
        description="Check the installed torch (and torchvision, torchaudio) against this "
        "machine without importing them: the verdict, the error PyTorch would give, and the "
        "command that fixes it. Exit status: 0 fits, 1 suboptimal, 2 broken, 3 not installed.",
    )
    parser.add_argument(
        "packages",
        nargs="*",
        metavar="PACKAGE",
        help="packages to check (default: torch torchvision torchaudio)",
    )
    add_target_arguments(parser)
    parser.set_defaults(func=run)


def report_json(
    diagnosis: Diagnosis,
    installed: Mapping[str, InstalledBuild],
    platform: Platform,
    interpreter: Interpreter,
) -> dict[str, Any]:
    """The `--json` document: the verdict first, then what it was judged on."""
    out = diagnosis.to_json()
    return {
        "status": out.pop("status"),
        "python": interpreter.to_json(),
        "installed": {name: b.to_json() for name, b in installed.items()},
        "platform": platform.to_json(),
        **out,
    }


def report_text(
    diagnosis: Diagnosis,
    installed: Mapping[str, InstalledBuild],
    platform_summary: str,
    interpreter: Interpreter,
    names: list[str],
    stream: TextIO,
) -> None:
    """A short table: platform, installed builds, verdict, reasons, predicted error, fix."""

    def row(label: str, lines: list[str]) -> None:
        for i, line in enumerate(lines or ["-"]):
            for j, part in enumerate(line.splitlines() or [""]):
                head = label if i == 0 and j == 0 else ""
                pad = "" if j == 0 else "  "
                print(f"  {head:<10} {pad}{part}", file=stream)

    venv = ", venv" if interpreter.is_venv else ""
    row("python", [f"{interpreter.executable} ({interpreter.python_version}{venv})"])
    row("platform", [platform_summary])
    row(
        "installed",
        [installed[n].describe() if n in installed else f"{n}: not installed" for n in names],
    )
    row("verdict", [diagnosis.status])
    row("why", [f"- {r}" for r in diagnosis.reasons])
    if diagnosis.predicted:
        row("pytorch", [f"- {p}" for p in diagnosis.predicted])
    if diagnosis.fix_command:
        row("fix", [diagnosis.fix_command, f"in a notebook: {diagnosis.fix_magic}"])
    if diagnosis.notes:
        row("notes", [f"- {n}" for n in diagnosis.notes])


def run(args: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name

    from wheelmagic.app import Session
    from wheelmagic.installed import DEFAULT_PACKAGES
    from wheelmagic.options import target_from_arguments
    from wheelmagic.pytorch.diagnose import EXIT_CODES, describe_platform

    names: list[str] = [canonicalize_name(n) for n in (args.packages or DEFAULT_PACKAGES)]
    session = Session(target_from_arguments(args))
    checkup = session.doctor(names)
    diagnosis, installed, platform = checkup.diagnosis, checkup.installed, checkup.platform
    if args.json:
        doc = report_json(diagnosis, installed, platform, session.interpreter)
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        report_text(
            diagnosis,
            installed,
            describe_platform(platform, session.supported),
            session.interpreter,
            names,
            sys.stdout,
        )
    return EXIT_CODES[diagnosis.status]
