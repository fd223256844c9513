"""`wheelmagic install REQ...`: plan the best builds for this machine, then install them.

Thin on purpose: argv -> `Options` (the shared table in `wheelmagic.options`), `Session.plan`,
show it, `Session.install`, render the result.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wheelmagic.install.plan import Plan

HELP = "install the build of torch (and friends) that fits this machine"


def register(sub: Any) -> None:
    from wheelmagic.options import add_install_arguments

    p = sub.add_parser("install", help=HELP, description=HELP)
    add_install_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wheelmagic.app import Session
    from wheelmagic.errors import SelectionError
    from wheelmagic.options import from_arguments
    from wheelmagic.ui.format import platform_summary
    from wheelmagic.ui.text import TextRenderer

    options = from_arguments(args)
    renderer = TextRenderer(out=sys.stderr if args.json else None)
    with Session(options) as session:
        try:
            plan = session.plan(args.requirements)
        except SelectionError as err:
            if options.explain and err.explanation:  # the search that found no set
                print("\n".join(err.explanation), file=sys.stderr)
            raise
        if args.json and (options.dry_run or plan.nothing_to_do):
            print(json.dumps(plan.to_json(), indent=2))
            return 0
        if not args.json:
            renderer.plan(
                plan,
                detected=platform_summary(plan.platform),
                explain=options.explain,
                dry_run=options.dry_run,
            )
        if options.dry_run or plan.nothing_to_do:
            return 0
        if not args.yes and not args.json and sys.stdin.isatty() and not _confirm(plan):
            print("wheelmagic: nothing was changed", file=sys.stderr)
            return 1
        result = session.install(
            plan,
            progress=None if args.json else renderer.progress,
            log=None if args.json else (lambda m: renderer.message(f"wheelmagic: {m}")),
        )
    if args.json:
        print(json.dumps({**plan.to_json(), "result": result.to_json()}, indent=2))
    else:
        print(f"wheelmagic: {result.summary()} (with {result.backend}, {result.seconds:.1f}s)")
    return 0


def _confirm(plan: Plan) -> bool:
    try:
        answer = input(f"{plan.summary()}. Proceed? [Y/n] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("", "y", "yes")
