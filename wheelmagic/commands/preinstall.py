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
    from wheelmagic.commands.install import add_install_options

    p = sub.add_parser("preinstall", help=HELP, description=HELP)
    add_install_options(p)
    p.add_argument("--quiet", "-q", action="store_true", help="print nothing unless it fails")
    p.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show the plan, progress and the installer's output",
    )
    p.set_defaults(func=run)


def already_fits(args: argparse.Namespace) -> tuple[bool, str]:
    """(fits, why), read from disk only: platform probe, installed metadata, doctor."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    from wheelmagic.install.plan import parse_requirements
    from wheelmagic.installed import DEFAULT_PACKAGES, read_installed
    from wheelmagic.interpreter import inspect_interpreter
    from wheelmagic.platform import current_platform
    from wheelmagic.providers import supported_properties
    from wheelmagic.pytorch.diagnose import diagnose

    if args.reinstall or args.variant:
        return False, "reinstall requested" if args.reinstall else f"variant {args.variant} asked"
    reqs: list[Requirement] = parse_requirements(args.requirements)
    interpreter = inspect_interpreter(args.python)
    names = list(dict.fromkeys([*DEFAULT_PACKAGES, *(r.name for r in reqs)]))
    builds = read_installed(interpreter, names)
    others = None
    for req in reqs:
        if req.marker is not None and not req.marker.evaluate(dict(interpreter.marker_env)):
            continue
        build = builds.get(canonicalize_name(req.name))
        if build is not None:
            version, shown = build.full_version, build.describe()
        else:  # not a PyTorch package: its dist-info is all we need
            from packaging.version import InvalidVersion, Version

            from wheelmagic.install.lock import installed_dists

            others = others if others is not None else installed_dists(interpreter.search_path)
            dist = others.get(canonicalize_name(req.name))
            if dist is None:
                return False, f"{req.name} is not installed"
            try:
                version, shown = Version(dist.version), f"{dist.name} {dist.version}"
            except InvalidVersion:
                return False, f"{dist.name} has an unreadable version {dist.version!r}"
        if not req.specifier.contains(version, prereleases=True):
            return False, f"{shown} does not satisfy {req}"
    platform = current_platform(platform_file=args.platform)
    diagnosis = diagnose(builds, platform, supported_properties(platform))
    if diagnosis.status != "fits":
        return False, "; ".join(diagnosis.reasons) or diagnosis.status
    shown = ", ".join(
        builds[canonicalize_name(r.name)].describe()
        for r in reqs
        if canonicalize_name(r.name) in builds
    )
    return True, f"{shown} already fits this machine"


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    fits, why = already_fits(args)
    if fits:
        _summary(args, {"status": "fits", "changed": [], "message": why}, start)
        return 0
    from wheelmagic.commands.install import make_plan_for
    from wheelmagic.install.execute import execute
    from wheelmagic.ui.render import TextRenderer

    verbose = args.verbose and not args.json
    renderer = TextRenderer(out=sys.stderr)
    plan, indexes, client = make_plan_for(args)
    try:
        if args.dry_run or plan.nothing_to_do:
            msg = (plan.summary() + " (dry run)") if args.dry_run else plan.summary()
            _summary(
                args,
                {
                    "status": "planned" if args.dry_run else "fits",
                    "changed": [],
                    "message": msg,
                    "reason": why,
                    "plan": plan.to_json(),
                },
                start,
            )
            return 0
        if verbose:
            renderer.plan(plan, explain=args.explain)
        result = execute(
            plan,
            indexes=indexes,
            source=client,
            backend=args.backend,
            pre=args.pre,
            progress=renderer.progress if verbose else None,
            log=(lambda m: renderer.message(f"wheelmagic: {m}")) if verbose else None,
            installer_output=(lambda line: print(line, file=sys.stderr)) if verbose else None,
        )
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()
    _summary(
        args,
        {
            "status": "installed",
            "changed": [c.to_json() for c in result.changed],
            "message": result.summary(),
            "reason": why,
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
