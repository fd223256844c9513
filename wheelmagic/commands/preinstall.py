"""`wheelmagic preinstall REQ...`: make sure the right build is installed; fast when it is.

For start-up hooks that run on every session: Colab start-up cells, JupyterHub images
(`postStart`, `singleuser.cmd`), CI images. Idempotent: when the doctor says the installed build
`fits` this machine and the installed versions satisfy the requirements, it returns at once
without touching the network (no index client is even created); otherwise it installs the
best variant like `wheelmagic install --yes`. A "fits" is remembered (`wheelmagic.verdict`)
with a fingerprint of what it depended on; while that still matches, the no-op answers from
the record without inspecting the interpreter, probing the GPU or importing the engine. Quiet by default: one summary line, the exit
status is non-zero only when something really failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wheelmagic import verdict as verdict_mod

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
    start = time.perf_counter()
    why = _remembered(args)
    if why is not None:
        _summary(args, {"status": "fits", "changed": [], "message": why, "remembered": True}, start)
        return 0

    from wheelmagic.app import Session
    from wheelmagic.options import from_arguments

    options = from_arguments(args)
    with Session(options) as session:
        before = _fingerprint(args, session.interpreter.search_path)
        check = session.check_fits(args.requirements)
        if check.fits:
            _remember(args, before, check.why)
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


# -- the remembered verdict (wheelmagic.verdict) ---------------------------------------------


def _can_remember(args: argparse.Namespace) -> bool:
    """Only the plain question "is it fine as it is?" has a remembered answer."""
    return not (args.reinstall or args.variant)


def _key(args: argparse.Namespace) -> tuple[str, str]:
    from wheelmagic import verdict

    python = verdict.interpreter_path(args.python)
    return python, verdict.preinstall_key(python, args.requirements, args.platform)


def _remembered(args: argparse.Namespace) -> str | None:
    """The last "fits" for these requirements when nothing it depended on changed."""
    if not _can_remember(args):
        return None
    from wheelmagic import verdict

    python, key = _key(args)
    got = verdict.recall("preinstall", key, python, platform_file=args.platform)
    return str(got.get("why", "")) if got is not None else None


Before = tuple[list[str], list[str], "verdict_mod.Fingerprint"]


def _fingerprint(args: argparse.Namespace, search_path: Sequence[str]) -> Before | None:
    """Taken before the full check reads anything (a change during it is seen next time)."""
    if not _can_remember(args):
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    from wheelmagic import verdict
    from wheelmagic.installed import DEFAULT_PACKAGES

    try:
        names = [*DEFAULT_PACKAGES, *(Requirement(r).name for r in args.requirements)]
    except InvalidRequirement:
        return None  # the check itself says what is wrong
    python, _ = _key(args)
    fp = verdict.fingerprint(python, search_path, names, platform_file=args.platform)
    return names, list(search_path), fp


def _remember(args: argparse.Namespace, before: Before | None, why: str) -> None:
    if before is None:
        return
    from wheelmagic import verdict

    names, search_path, fp = before
    _, key = _key(args)
    verdict.remember(
        "preinstall",
        key,
        fp,
        search_path=search_path,
        names=names,
        verdict={"status": "fits", "why": why},
    )


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
