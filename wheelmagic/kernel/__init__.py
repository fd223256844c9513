"""What a running kernel needs around an install: does it need a restart, and what to say after one.

Kept free of IPython and of anything heavy: the extension imports this module at load time
(only to look for a pending post-restart record), and the import hook may call it from inside
an import.

* `imported_modules(changed)` maps changed distributions to their top-level modules through
  each distribution's own ``top_level.txt`` or ``RECORD`` (one directory read per
  distribution) rather than `importlib.metadata.packages_distributions()`, which reads every
  installed distribution and takes seconds in a big environment.
* `write_record` / `take_record` hand a note across a restart: the kernel that restarts
  writes it, the next kernel (or the re-exec'd terminal IPython) reads and deletes it when the
  extension loads, and prints one confirmation line.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import zlib
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from wheelmagic._fs import atomic_write, cache_dir

#: A record older than this is stale (the restart never happened, or nobody loaded us after).
RECORD_TTL = 3600.0

__all__ = [
    "RECORD_TTL",
    "RestartRecord",
    "doctor_facts",
    "imported_modules",
    "kernel_key",
    "record_path",
    "take_record",
    "top_level_modules",
    "write_record",
]


# -- distributions -> modules ---------------------------------------------------------------


def _normalize(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower()


def _find_distribution(name: str, path: list[str] | None = None) -> Any:
    """The distribution called `name` on `path` (default `sys.path`), or None."""
    from importlib.metadata import distributions

    wanted = _normalize(name)
    kwargs: dict[str, Any] = {"name": name}
    if path is not None:
        kwargs["path"] = path
    for dist in distributions(**kwargs):
        return dist
    # `name=` matches the normalized spelling on 3.10+, but be tolerant of odd metadata.
    kwargs.pop("name")
    for dist in distributions(**kwargs):  # pragma: no cover - only for odd names
        if _normalize(str(dist.metadata["Name"] or "")) == wanted:
            return dist
    return None


def _modules_from_record(files: Iterable[Any]) -> set[str]:
    """Top-level importable names from a RECORD file list (paths relative to site-packages)."""
    out: set[str] = set()
    for f in files:
        parts = Path(str(f)).parts
        if not parts or parts[0] in ("..", "__pycache__") or parts[0].startswith("/"):
            continue
        head = parts[0]
        if head.endswith((".dist-info", ".data", ".egg-info")):
            continue
        if len(parts) == 1:
            if head.endswith(".py"):
                out.add(head[:-3])
            elif head.endswith((".so", ".pyd")):
                out.add(head.split(".", 1)[0])
            elif head.endswith(".pth"):
                continue
            continue
        if head.isidentifier():
            out.add(head)
    return out


def top_level_modules(name: str, path: list[str] | None = None) -> set[str]:
    """The top-level modules distribution `name` provides, without importing it.

    Reads ``top_level.txt`` when the wheel has one, otherwise the ``RECORD``; a distribution
    that cannot be found (it was just removed, say) falls back to its own name.
    """
    dist = None
    with contextlib.suppress(Exception):
        dist = _find_distribution(name, path)
    if dist is None:
        return {_normalize(name)}
    text = None
    with contextlib.suppress(Exception):
        text = dist.read_text("top_level.txt")
    if text:
        mods = {line.strip() for line in text.splitlines() if line.strip()}
        mods = {m.split("/", 1)[0] for m in mods}
        if mods:
            return mods
    files = None
    with contextlib.suppress(Exception):
        files = dist.files
    mods = _modules_from_record(files or [])
    return mods or {_normalize(name)}


def imported_modules(
    changed: Iterable[str],
    *,
    modules: Collection[str] | Mapping[str, Any] | None = None,
    path: list[str] | None = None,
) -> dict[str, list[str]]:
    """For each changed distribution, its top-level modules already imported in this process.

    Only distributions with at least one imported module appear in the result: an empty
    result means the install can be used without a restart. A top-level name is enough to
    look for, because importing ``a.b`` always imports ``a`` first.
    """
    loaded = sys.modules if modules is None else modules
    out: dict[str, list[str]] = {}
    for name in changed:
        hits = sorted(m for m in top_level_modules(name, path) if m in loaded)
        if hits:
            out[name] = hits
    return out


# -- the doctor, for the kernel's own interpreter ---------------------------------------------


def doctor_facts(platform_file: str | None = None) -> tuple[Any, Any, Any]:
    """(platform, installed builds, diagnosis) for this kernel's interpreter; offline.

    Imports the probing layers on call, never at extension load.
    """
    from wheelmagic.installed import read_installed
    from wheelmagic.platform import current_platform
    from wheelmagic.providers import supported_properties
    from wheelmagic.pytorch.diagnose import diagnose

    platform = current_platform(platform_file=platform_file)
    installed = read_installed(sys.path)
    diagnosis = diagnose(installed, platform, supported_properties(platform))
    return platform, installed, diagnosis


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
