"""`wheelmagic install REQ...`: plan the best builds for this machine, then install them.

Thin on purpose: parse options, `make_plan`, show it, `execute`, render the result. The magic
`%variant_install` reuses this parser (`build_install_parser`) so the options never drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wheelmagic.index import IndexConfig
    from wheelmagic.install.execute import ExecuteResult
    from wheelmagic.install.plan import Plan

HELP = "install the build of torch (and friends) that fits this machine"


def add_install_options(p: argparse.ArgumentParser) -> None:
    from wheelmagic.cli import add_platform_options

    p.add_argument(
        "requirements",
        nargs="+",
        metavar="REQ",
        help="what to install, as for pip: torch, 'torch>=2.8', torchvision",
    )
    p.add_argument("--index-url", metavar="URL", help="the main package index (PEP 503/691)")
    p.add_argument(
        "--extra-index-url",
        metavar="URL",
        action="append",
        default=[],
        help="another index to consider (repeatable)",
    )
    p.add_argument(
        "--trusted-host",
        metavar="HOST",
        action="append",
        default=[],
        help="allow plain http (or a bad certificate) for HOST (repeatable)",
    )
    p.add_argument(
        "--find-links", metavar="DIR", action="append", default=[], help=argparse.SUPPRESS
    )
    p.add_argument(
        "--torch-backend",
        metavar="BACKEND",
        help="legacy PyTorch per-backend indexes: auto, cpu, cu128, cu130, rocm6.4, xpu, or none",
    )
    p.add_argument(
        "--variant",
        metavar="LABEL",
        help="install this variant label (cuda13.0, null, ...) instead of the best",
    )
    p.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    p.add_argument("--explain", action="store_true", help="show every file considered and why")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before installing")
    p.add_argument(
        "--backend",
        choices=("auto", "pip", "uv"),
        default="auto",
        help="installer to drive (default: uv when available, else pip)",
    )
    p.add_argument("--pre", action="store_true", help="consider pre-releases")
    p.add_argument(
        "--reinstall",
        action="store_true",
        help="reinstall even when the chosen build is already installed",
    )
    add_platform_options(p)


def build_install_parser() -> argparse.ArgumentParser:
    """A standalone parser with exactly `wheelmagic install`'s options (for the magic)."""
    p = argparse.ArgumentParser(prog="wheelmagic install", description=HELP)
    add_install_options(p)
    return p


def register(sub: Any) -> None:
    p = sub.add_parser("install", help=HELP, description=HELP)
    add_install_options(p)
    p.set_defaults(func=run)


@dataclass
class Prepared:
    plan: Plan
    indexes: IndexConfig
    client: Any


def resolve_index_config(args: argparse.Namespace, python: str | None) -> IndexConfig:
    from wheelmagic.index import resolve_indexes

    return resolve_indexes(
        args.index_url,
        list(args.extra_index_url or []),
        trusted_hosts=list(args.trusted_host or []),
        find_links=list(getattr(args, "find_links", None) or []),
        torch_backend=args.torch_backend,
        target_python=python,
    )


def make_plan_for(
    args: argparse.Namespace, client_factory: Callable[[IndexConfig], Any] | None = None
) -> tuple[Plan, IndexConfig, Any]:
    """Detect, inspect, read what is installed, and plan. The caller closes the client."""
    from packaging.requirements import Requirement

    from wheelmagic.index import IndexClient
    from wheelmagic.install.execute import default_cache_dir
    from wheelmagic.install.plan import make_plan, parse_requirements
    from wheelmagic.installed import plan_installed, read_installed
    from wheelmagic.interpreter import inspect_interpreter
    from wheelmagic.platform import current_platform
    from wheelmagic.providers import supported_properties

    reqs: list[Requirement] = parse_requirements(args.requirements)
    platform = current_platform(platform_file=args.platform)
    interpreter = inspect_interpreter(args.python)
    indexes = resolve_index_config(args, interpreter.executable)
    installed = plan_installed(read_installed(interpreter, [r.name for r in reqs]))
    supported = supported_properties(platform)
    if client_factory is not None:
        client = client_factory(indexes)
    else:
        client = IndexClient(indexes, default_cache_dir(), supported=supported)
    try:
        plan = make_plan(
            args.requirements,
            platform=platform,
            interpreter=interpreter,
            source=client,
            supported=supported,
            variant_label=args.variant,
            prereleases=True if args.pre else None,
            installed=installed,
            reinstall=args.reinstall,
        )
    except BaseException:
        _close(client)
        raise
    return plan, indexes, client


def _close(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        close()


def run(args: argparse.Namespace) -> int:
    from wheelmagic.install.execute import execute
    from wheelmagic.ui.render import TextRenderer, platform_summary

    renderer = TextRenderer(out=sys.stderr if args.json else None)
    plan, indexes, client = make_plan_for(args)
    try:
        if args.json and (args.dry_run or plan.nothing_to_do):
            print(json.dumps(plan.to_json(), indent=2))
            return 0
        if not args.json:
            renderer.plan(
                plan,
                detected=platform_summary(plan.platform),
                explain=args.explain,
                dry_run=args.dry_run,
            )
        if args.dry_run or plan.nothing_to_do:
            return 0
        if not args.yes and not args.json and sys.stdin.isatty() and not _confirm(plan):
            print("wheelmagic: nothing was changed", file=sys.stderr)
            return 1
        result = execute(
            plan,
            indexes=indexes,
            source=client,
            backend=args.backend,
            pre=args.pre,
            progress=None if args.json else renderer.progress,
            log=None if args.json else (lambda m: renderer.message(f"wheelmagic: {m}")),
        )
    finally:
        _close(client)
    _render_result(args, plan, result)
    return 0


def _confirm(plan: Plan) -> bool:
    try:
        answer = input(f"{plan.summary()}. Proceed? [Y/n] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("", "y", "yes")


def _render_result(args: argparse.Namespace, plan: Plan, result: ExecuteResult) -> None:
    if args.json:
        print(json.dumps({**plan.to_json(), "result": result.to_json()}, indent=2))
        return
    print(f"wheelmagic: {result.summary()} (with {result.backend}, {result.seconds:.1f}s)")
