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
from typing import TYPE_CHECKING, Any

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


def run(args: argparse.Namespace) -> int:
    from packaging.utils import canonicalize_name

    from wheelmagic.app import Session
    from wheelmagic.installed import DEFAULT_PACKAGES
    from wheelmagic.options import target_from_arguments
    from wheelmagic.pytorch.diagnose import EXIT_CODES
    from wheelmagic.ui.reports import doctor_text

    names: list[str] = [canonicalize_name(n) for n in (args.packages or DEFAULT_PACKAGES)]
    session = Session(target_from_arguments(args))
    checkup = session.doctor(names)
    diagnosis, installed, platform = checkup.diagnosis, checkup.installed, checkup.platform
    if args.json:
        doc = report_json(diagnosis, installed, platform, session.interpreter)
        json.dump(doc, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print(doctor_text(diagnosis, installed, platform, session.interpreter, names))
    return EXIT_CODES[diagnosis.status]
