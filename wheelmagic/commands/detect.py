"""`wheelmagic detect`: what this machine has, where each fact came from, and which variant
properties that makes supported. `--json` prints the platform snapshot (the format `--platform`
and `WHEELMAGIC_PLATFORM` read back)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from wheelmagic.options import add_target_arguments

    parser = subparsers.add_parser(
        "detect",
        help="show the detected platform and the variant properties it supports",
        description=__doc__,
    )
    add_target_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from wheelmagic.app import Session
    from wheelmagic.options import target_from_arguments

    session = Session(target_from_arguments(args))
    platform = session.detect()
    if args.json:
        print(json.dumps(platform.to_json(), indent=2))
        return 0
    from wheelmagic.providers import explain
    from wheelmagic.ui.format import platform_summary

    print(f"platform: {platform_summary(platform)}")
    for line in explain(platform):
        print(f"  {line}")
    if platform.sources:
        print("sources:")
        width = max(len(k) for k in platform.sources)
        for key, text in platform.sources.items():
            print(f"  {key.ljust(width)}  {text}")
    supported = session.supported
    print("supported variant properties (best first):")
    if not supported:
        print("  none: only the null variant and non-variant wheels fit")
    for ns, features in supported.items():
        flags = [f for f, values in features.items() if values == ["on"]]
        if flags:
            print(f"  {ns} :: <flag> :: on  for {', '.join(flags)}")
        for feature, values in features.items():
            if feature in flags:
                continue
            shown = ", ".join(values[:12]) + (
                f", … ({len(values)} in all)" if len(values) > 12 else ""
            )
            print(f"  {ns} :: {feature} :: {shown}")
    return 0
