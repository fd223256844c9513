"""`wheelmagic cache info|prune|clear`: everything wheelmagic keeps in its cache directory.

The cache lives in `WHEELMAGIC_CACHE_DIR` or the user cache directory and may be shared by
many processes and machines (see `wheelmagic.install.cache`, whose `KINDS` table lists what is
kept and why: downloads, staged wheels, backups, HTTP metadata, records).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

_KIND_NAMES = ("downloads", "staged", "backups", "http", "records")  # install.cache.KIND_NAMES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="show, prune or clear everything wheelmagic keeps",
        description="Everything wheelmagic keeps (WHEELMAGIC_CACHE_DIR, else the user cache "
        "directory), by kind: " + ", ".join(_KIND_NAMES) + ".",
    )
    sub = parser.add_subparsers(dest="cache_command", metavar="SUBCOMMAND")
    info = sub.add_parser("info", help="where the cache is, and how much each kind holds")
    info.add_argument("--json", action="store_true", help="print JSON")
    prune = sub.add_parser(
        "prune", help="delete the least recently used files of every kind down to a size"
    )
    prune.add_argument(
        "--max-size", default="20G", help="keep at most this much (e.g. 20G, 500M; default 20G)"
    )
    clear = sub.add_parser("clear", help="delete everything, or only the kinds named")
    clear.add_argument(
        "kinds",
        nargs="*",
        choices=[*_KIND_NAMES, []],
        metavar="KIND",
        help="any of " + ", ".join(_KIND_NAMES) + " (default: all)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from wheelmagic.install.cache import KIND_NAMES, WheelCache, parse_size
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
                        "total_bytes": info.total_bytes,
                        "kinds": {
                            u.kind.name: {"files": u.files, "bytes": u.bytes, "why": u.kind.why}
                            for u in info.kinds
                        },
                        "wheels": info.wheels,
                        "wheel_bytes": info.wheel_bytes,
                        "http_bytes": info.http_bytes,
                        "partial_bytes": info.partial_bytes,
                    }
                )
            )
        else:
            print(f"cache directory: {info.directory}")
            print(f"total: {human_bytes(info.total_bytes)}")
            for u in info.kinds:
                print(
                    f"  {u.kind.name:<10} {human_bytes(u.bytes):>10}  {u.files} files: {u.kind.why}"
                )
        return 0
    if command == "prune":
        try:
            limit = parse_size(args.max_size)
        except ValueError as err:
            from wheelmagic.errors import WheelmagicError

            raise WheelmagicError(str(err), hint="use e.g. --max-size 20G") from None
        removed = cache.prune(limit)
        print(
            f"removed {len(removed)} files or directories; the cache now holds "
            f"{human_bytes(cache.info().total_bytes)}"
        )
        return 0
    kinds = tuple(getattr(args, "kinds", None) or KIND_NAMES)
    before = cache.info().total_bytes
    cache.clear(kinds)
    after = cache.info().total_bytes
    print(f"cleared {', '.join(kinds)} in {cache.dir} ({human_bytes(before - after)} freed)")
    return 0
