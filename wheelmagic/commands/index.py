"""`wheelmagic index build WHEEL_DIR OUT_DIR`: write a static, variant-enabled simple index.

The output can be served by any static file server (see `wheelmagic.index.build` for the
layout) and read with `--index-url <base>/simple/`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "index",
        help="work with variant-enabled package indexes",
        description="Tools for variant-enabled package indexes.",
    )
    sub = parser.add_subparsers(dest="index_command", metavar="SUBCOMMAND")
    build = sub.add_parser(
        "build",
        help="write a static variant-enabled index from a directory of wheels",
        description="Write OUT_DIR/simple/<project>/index.html (+ index.json, PEP 691) and "
        "OUT_DIR/files/ (the wheels, and each release's {name}-{version}-variants.json merged "
        "from the wheels' own variant.json), servable by any static file server.",
    )
    build.add_argument("wheel_dir", metavar="WHEEL_DIR")
    build.add_argument("out_dir", metavar="OUT_DIR")
    build.add_argument(
        "--link",
        action="store_true",
        help="symlink the wheels into OUT_DIR/files instead of hard-linking or copying them",
    )
    build.add_argument("--json", action="store_true", help="print what was written as JSON")
    build.set_defaults(func=run)
    parser.set_defaults(func=lambda _a: (parser.print_help(), 2)[1])


def run(args: argparse.Namespace) -> int:
    from wheelmagic.index.build import build_index

    report = build_index(args.wheel_dir, args.out_dir, link="symlink" if args.link else "auto")
    if args.json:
        print(json.dumps({"projects": report.projects, "variants_files": report.variants_files}))
    else:
        for project, files in report.projects.items():
            print(f"{project}: {len(files)} files")
        print(f"index written to {args.out_dir}/simple/", file=sys.stderr)
    return 0
