"""`wheelmagic cache info|prune|clear`: the content-addressed download cache.

The cache lives in `WHEELMAGIC_CACHE_DIR` or the user cache directory and may be shared by
many processes and machines (see `wheelmagic.install.cache`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="show, prune or clear the download cache",
        description="The download cache (WHEELMAGIC_CACHE_DIR, else the user cache directory).",
    )
    sub = parser.add_subparsers(dest="cache_command", metavar="SUBCOMMAND")
    info = sub.add_parser("info", help="where the cache is and how big")
    info.add_argument("--json", action="store_true", help="print JSON")
    prune = sub.add_parser("prune", help="delete least recently used wheels down to a size")
    prune.add_argument(
        "--max-size", default="20G", help="keep at most this much (e.g. 20G, 500M; default 20G)"
    )
    sub.add_parser("clear", help="delete every cached wheel, partial download and index page")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wheelmagic.install.cache import WheelCache, parse_size
    from wheelmagic.ui.format import human_bytes

    cache = WheelCache()
    command = getattr(args, "cache_command", None) or "info"
    if command == "info":
        info = cache.info()
        if getattr(args, "json", False):
            print(
                json.dumps(
                    {
                        "directory": str(info.directory),
                        "wheels": info.wheels,
                        "wheel_bytes": info.wheel_bytes,
                        "http_bytes": info.http_bytes,
                        "partial_bytes": info.partial_bytes,
                    }
                )
            )
        else:
            print(f"cache directory: {info.directory}")
            print(f"wheels: {info.wheels} ({human_bytes(info.wheel_bytes)})")
            print(f"index pages: {human_bytes(info.http_bytes)}")
            print(f"partial downloads: {human_bytes(info.partial_bytes)}")
        return 0
    if command == "prune":
        try:
            limit = parse_size(args.max_size)
        except ValueError as err:
            from wheelmagic.errors import WheelmagicError

            raise WheelmagicError(str(err), hint="use e.g. --max-size 20G") from None
        removed = cache.prune(limit)
        print(
            f"removed {len(removed)} wheels; the cache now holds "
            f"{human_bytes(cache.info().wheel_bytes)}"
        )
        return 0
    cache.clear()
    print(f"cleared {cache.dir}")
    return 0
