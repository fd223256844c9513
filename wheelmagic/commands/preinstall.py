"""`wheelmagic preinstall REQ...`: make sure the right build is installed; fast when it is.

For start-up hooks that run on every session: Colab start-up cells, JupyterHub images
(`postStart`, `singleuser.cmd`), CI images. Idempotent: when the doctor says the installed build
`fits` this machine and the installed versions satisfy the requirements, it returns at once
without touching the network (no index client is even created); otherwise it installs the
best variant like `wheelmagic install --yes`. Quiet by default: one summary line, the exit
status is non-zero only when something really failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

HELP = "install the fitting build only if needed (idempotent; for start-up scripts)"


def register(sub: Any) -> None:
    from wheelmagic.options import add_install_arguments

    p = sub.add_parser("preinstall", help=HELP, description=HELP)
    add_install_arguments(p)
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing unless it fails")
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show the plan, progress and the installer's output",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wheelmagic.app import Session
    from wheelmagic.options import from_arguments

    start = time.perf_counter()
    options = from_arguments(args)
    with Session(options) as session:
        check = session.check_fits(args.requirements)
        if check.fits:
            _summary(args, {"status": "fits", "changed": [], "message": check.why}, start)
            return 0
        from wheelmagic.ui.text import TextRenderer

        verbose = args.verbose and not args.json
        renderer = TextRenderer(out=sys.stderr)
        plan = session.plan(args.requirements)
        if options.dry_run or plan.nothing_to_do:
            msg = (plan.summary() + " (dry run)") if options.dry_run else plan.summary()
            if plan.unused_accelerator is not None:
                msg += f"; warning: {plan.unused_accelerator}"
            _summary(
                args,
                {
                    "status": "planned" if options.dry_run else "fits",
                    "changed": [],
                    "message": msg,
                    "reason": check.why,
                    "plan": plan.to_json(),
                },
                start,
            )
            return 0
        if verbose:
            renderer.plan(plan, explain=options.explain)
        result = session.install(
            plan,
            progress=renderer.progress if verbose else None,
            log=(lambda m: renderer.message(f"wheelmagic: {m}")) if verbose else None,
            installer_output=(lambda line: print(line, file=sys.stderr)) if verbose else None,
        )
    _summary(
        args,
        {
            "status": "installed",
            "changed": [c.to_json() for c in result.changed],
            "message": result.summary()
            + (f"; warning: {plan.unused_accelerator}" if plan.unused_accelerator else ""),
            "reason": check.why,
            "backend": result.backend,
        },
        start,
    )
    return 0


def _summary(args: argparse.Namespace, data: dict[str, Any], start: float) -> None:
    data["seconds"] = round(time.perf_counter() - start, 3)
    if args.json:
        print(json.dumps(data, indent=2))
    elif not args.quiet:
        if data["status"] == "installed":
            print(
                f"wheelmagic: {data['message']} ({data['reason']}; "
                f"{data['seconds']:.1f}s with {data.get('backend')})"
            )
        else:
            print(f"wheelmagic: {data['message']} ({data['seconds']:.2f}s)")
