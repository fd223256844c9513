"""`wheelmagic` command line: a thin dispatcher over the commands in `wheelmagic.commands`.

Each subcommand lives in its own module with `register(subparsers)` and `run(args) -> int`;
modules are imported only when their command runs, so `wheelmagic detect` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from wheelmagic import __version__
from wheelmagic.errors import WheelmagicError

#: subcommand -> module under wheelmagic.commands, in the order `--help` lists them.
COMMANDS: dict[str, str] = {
    "detect": "detect",
    "install": "install",
    "doctor": "doctor",
    "preinstall": "preinstall",
    "index": "index",
    "cache": "cache",
    "enable": "enable",
    "disable": "enable",
}


def add_platform_options(parser: argparse.ArgumentParser) -> None:
    """Options every command shares: which machine facts and which interpreter."""
    parser.add_argument(
        "--platform",
        metavar="FILE",
        help="read the platform snapshot from FILE (as printed by `wheelmagic detect --json`) "
        "instead of probing; WHEELMAGIC_PLATFORM does the same",
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="target interpreter (its tags and installed packages); default: this one",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wheelmagic",
        description="Install the PyTorch build that fits this machine (wheel variants, PEP 825).",
    )
    parser.add_argument("--version", action="version", version=f"wheelmagic {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered: set[str] = set()
    for module_name in COMMANDS.values():
        if module_name in registered:
            continue
        registered.add(module_name)
        module = importlib.import_module(f"wheelmagic.commands.{module_name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except WheelmagicError as err:
        print(f"wheelmagic: error: {err}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print(
            "wheelmagic: interrupted; nothing was changed after the last completed step.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
