"""`wheelmagic mirror REQ... --platform SNAPSHOT... OUT_DIR`: an offline index for a fleet.

Downloads exactly the builds the given machines would choose (and their plain dependencies,
resolved by pip for each machine), verifies every sha256, and writes a static variant-enabled
index into OUT_DIR (`wheelmagic index build`'s layout). Then, on each of those machines:
`wheelmagic install torch --index-url file://OUT_DIR/simple/` (or the same over http).
See `wheelmagic.mirror`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

HELP = "download the builds a fleet's machines need into a static offline index"


def register(sub: Any) -> None:
    p = sub.add_parser(
        "mirror",
        help=HELP,
        description=HELP + ". OUT_DIR is written in a temporary directory and renamed into "
        "place; a re-run reuses the files OUT_DIR already holds.",
    )
    p.add_argument("requirements", nargs="+", metavar="REQ", help="what to mirror: torch, ...")
    p.add_argument("out_dir", metavar="OUT_DIR", help="where the index goes (simple/, files/)")
    p.add_argument(
        "--platform",
        metavar="SNAPSHOT",
        action="append",
        required=True,
        help="a machine's snapshot (`wheelmagic detect --json` on it), or a directory of "
        "them (repeatable)",
    )
    p.add_argument("--index-url", metavar="URL", help="the index to mirror from")
    p.add_argument(
        "--extra-index-url", metavar="URL", action="append", default=[], help="(repeatable)"
    )
    p.add_argument(
        "--trusted-host", metavar="HOST", action="append", default=[], help="(repeatable)"
    )
    p.add_argument(
        "--python",
        metavar="PATH",
        help="the machines' interpreter (its tags; pip runs there); default: this one",
    )
    p.add_argument("--pre", action="store_true", help="consider pre-releases")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wheelmagic.mirror import build_mirror
    from wheelmagic.options import Options

    options = Options(
        python=args.python,
        index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_url),
        trusted_hosts=tuple(args.trusted_host),
        pre=args.pre,
    )
    quiet = args.json
    report = build_mirror(
        args.requirements,
        args.platform,
        args.out_dir,
        options=options,
        log=None if quiet else (lambda m: print(f"wheelmagic: {m}", file=sys.stderr)),
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(
            f"mirror written to {report.out_dir}: {len(report.machines)} machines, "
            f"{len(report.fetched)} files downloaded, {len(report.reused)} reused; "
            f"use --index-url {report.out_dir.as_uri()}/simple/"
        )
    return 0
