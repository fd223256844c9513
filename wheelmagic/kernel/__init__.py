"""The note handed across a kernel restart.

`write_record` / `take_record`: the kernel that restarts writes it, the next kernel (or the
re-exec'd terminal IPython) reads and deletes it when the extension loads, and prints one
confirmation line (`wheelmagic.kernel.restart`). Kept free of IPython and of anything heavy:
the extension imports this module at load time to look for a pending record. Whether a
restart is needed at all is decided in one place, `wheelmagic.app.restart_needed`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wheelmagic._fs import atomic_write, cache_dir

#: A record older than this is stale (the restart never happened, or nobody loaded us after).
RECORD_TTL = 3600.0

__all__ = [
    "RECORD_TTL",
    "RestartRecord",
    "kernel_key",
    "record_path",
    "take_record",
    "write_record",
]


# -- the record handed across a restart ------------------------------------------------------


class RestartRecord:
    """What the restarting kernel tells the next one.

    A plain class rather than a dataclass: this module is imported at every extension load,
    and building a dataclass costs more than the rest of the module.
    """

    __slots__ = ("reason", "strategy", "packages", "pid", "time", "executable")

    def __init__(
        self,
        reason: str,
        strategy: str,
        packages: list[str] | None = None,
        pid: int = 0,
        time: float = 0.0,
        executable: str = "",
    ) -> None:
        self.reason = reason
        self.strategy = strategy
        self.packages = list(packages or [])
        self.pid = pid
        self.time = time
        self.executable = executable

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RestartRecord) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"RestartRecord({self.to_json()!r})"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RestartRecord:
        return cls(
            reason=str(data.get("reason", "")),
            strategy=str(data.get("strategy", "")),
            packages=[str(p) for p in data.get("packages", []) or []],
            pid=int(data.get("pid", 0) or 0),
            time=float(data.get("time", 0.0) or 0.0),
            executable=str(data.get("executable", "")),
        )


def connection_file(argv: list[str] | None = None) -> str | None:
    """The kernel's connection file (stable across server restarts), or None outside a kernel.

    Read from the interpreter's own command line (``-f FILE``), which is what the kernelspec
    passes and what a restarted kernel gets again; no ipykernel import needed. `sys.orig_argv`,
    not `sys.argv`: IPython sets `sys.argv` to the file's name while it runs a startup file.
    """
    args = list(getattr(sys, "orig_argv", sys.argv)) if argv is None else argv
    for i, arg in enumerate(args):
        if arg in ("-f", "--f", "--IPKernelApp.connection_file") and i + 1 < len(args):
            return os.path.realpath(args[i + 1])
        for prefix in ("-f=", "--f=", "--IPKernelApp.connection_file="):
            if arg.startswith(prefix):
                return os.path.realpath(arg[len(prefix) :])
    return None


def kernel_key(argv: list[str] | None = None, pid: int | None = None) -> str:
    """Which kernel a record belongs to: its connection file if it has one, else its pid.

    A server restart keeps the connection file and changes the pid; a terminal IPython that
    re-execs itself keeps the pid.
    """
    conn = connection_file(argv)
    if conn:
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(conn).stem)[-48:]
        return f"conn-{stem}-{zlib.crc32(conn.encode()):08x}"
    return f"pid-{os.getpid() if pid is None else pid}"


def record_path(key: str | None = None, directory: Path | None = None) -> Path:
    base = directory if directory is not None else cache_dir() / "restarts"
    return base / f"{key or kernel_key()}.json"


def write_record(
    record: RestartRecord, *, key: str | None = None, directory: Path | None = None
) -> Path | None:
    """Write the record atomically; never raises (a missing note must not block a restart)."""
    path = record_path(key, directory)
    try:
        atomic_write(path, json.dumps(record.to_json()).encode("utf-8"))
        return path
    except OSError:
        return None


def take_record(
    *,
    key: str | None = None,
    directory: Path | None = None,
    now: float | None = None,
    pid: int | None = None,
) -> RestartRecord | None:
    """Read and delete this kernel's pending record, if a *restarted* process is reading it.

    A record written by this very process is left alone unless it was a terminal re-exec
    (same pid by design); stale records are deleted and ignored.
    """
    path = record_path(key, directory)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = RestartRecord.from_json(data)
    except (OSError, ValueError, TypeError):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    me = os.getpid() if pid is None else pid
    if record.pid == me and record.strategy != "terminal":
        return None  # written by this process, which has not restarted yet
    with contextlib.suppress(OSError):
        path.unlink()
    age = (time.time() if now is None else now) - record.time
    if not 0 <= age <= RECORD_TTL:
        return None
    return record
