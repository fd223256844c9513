"""`wheelmagic` command line: a thin dispatcher over the commands in `wheelmagic.commands`.

Each subcommand lives in its own module with `register(subparsers)` and `run(args) -> int`;
each turns its arguments into `wheelmagic.options.Options` and calls `wheelmagic.app`. The
commands import nothing from here (the shared option table is `wheelmagic.options`).
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
    "mirror": "mirror",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only` (a subcommand), just that subcommand's module is
    imported and registered (`main` does this: `wheelmagic preinstall` is on start-up paths)."""
    parser = argparse.ArgumentParser(
        prog="wheelmagic",
        description="Install the PyTorch build that fits this machine (wheel variants, PEP 825).",
    )
    parser.add_argument("--version", action="version", version=f"wheelmagic {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered: set[str] = set()
    for command, module_name in COMMANDS.items():
        if module_name in registered or (only is not None and command != only):
            continue
        registered.add(module_name)
        module = importlib.import_module(f"wheelmagic.commands.{module_name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words[0] if words and words[0] in COMMANDS else None)
    args = parser.parse_args(words)
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
