"""On-disk record of automatic fix attempts, so the import hook never loops.

A kernel restart loses every in-memory flag and environment variable, so the only way to know
"I already tried to fix exactly this" is a file. Each attempt is keyed by the interpreter
(``sys.executable``, resolved) and a *mismatch signature* (what was installed, what was wrong,
what the fix was); it carries a timestamp and an outcome. While a recent attempt exists
(``ttl``, one day by default) the hook does not try the same fix again: it explains instead.

The file is ``attempts.json`` in ``wheelmagic._fs.cache_dir()`` (the one cache directory), read
and rewritten under a file lock so that several kernels of one environment agree.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wheelmagic._fs import atomic_write, cache_dir

#: How long an attempt blocks another automatic try of the same fix (seconds).
DEFAULT_TTL = 24 * 3600.0
FILENAME = "attempts.json"
_LOCK_TIMEOUT = 30.0


def interpreter_id(executable: str | None = None) -> str:
    """The interpreter an attempt belongs to: its resolved path (one per environment)."""
    return os.path.realpath(executable or sys.executable)


def attempt_key(interpreter: str, signature: str) -> str:
    return hashlib.sha256(f"{interpreter}\0{signature}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Attempt:
    interpreter: str
    signature: str
    #: seconds since the epoch, when the attempt started
    time: float
    #: "started", "fixed" or "failed"
    outcome: str = "started"
    detail: str = ""
    count: int = 1

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.time

    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))


@dataclass(frozen=True)
class Claim:
    """The answer to "may I try this fix now?": `previous` is the attempt that says no."""

    granted: bool
    previous: Attempt | None = None


class Attempts:
    """The attempts file for one cache directory."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else cache_dir()
        self.path = self.directory / FILENAME

    # -- file access -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The parsed file, locked; changes to the dict are written back atomically."""
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.path) + ".lock", timeout=_LOCK_TIMEOUT):
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(data)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"version": 1, "attempts": {}}
        if not isinstance(data, dict) or not isinstance(data.get("attempts"), dict):
            return {"version": 1, "attempts": {}}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))

    @staticmethod
    def _attempt(raw: object) -> Attempt | None:
        if not isinstance(raw, dict):
            return None
        try:
            return Attempt(
                interpreter=str(raw["interpreter"]),
                signature=str(raw["signature"]),
                time=float(raw["time"]),
                outcome=str(raw.get("outcome", "started")),
                detail=str(raw.get("detail", "")),
                count=int(raw.get("count", 1)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    # -- API ---------------------------------------------------------------------------------
    def get(self, interpreter: str, signature: str) -> Attempt | None:
        raw = self._read()["attempts"].get(attempt_key(interpreter, signature))
        return self._attempt(raw)

    def claim(
        self,
        interpreter: str,
        signature: str,
        *,
        ttl: float = DEFAULT_TTL,
        now: float | None = None,
    ) -> Claim:
        """Record a new attempt unless one for the same mismatch is younger than `ttl`.

        Check and write happen under one lock, so two kernels starting together cannot both
        begin the same fix.
        """
        key = attempt_key(interpreter, signature)
        with self._locked() as data:
            now = time.time() if now is None else now  # read under the lock: ordered with writes
            previous = self._attempt(data["attempts"].get(key))
            if previous is not None and now - previous.time < ttl:
                return Claim(False, previous)
            count = previous.count + 1 if previous is not None else 1
            data["attempts"][key] = asdict(Attempt(interpreter, signature, now, count=count))
        return Claim(True, previous)

    def finish(self, interpreter: str, signature: str, outcome: str, detail: str = "") -> None:
        """Set the outcome ("fixed" or "failed") of the attempt `claim` recorded.

        `detail` is an error message that may quote an index URL: its credentials are hidden
        before it reaches the file (which lives in a cache others may be able to read).
        """
        from wheelmagic.index.urls import redact_text

        key = attempt_key(interpreter, signature)
        with self._locked() as data:
            raw = data["attempts"].get(key)
            if isinstance(raw, dict):
                raw["outcome"] = outcome
                raw["detail"] = redact_text(detail)[:2000]

    def all(self) -> list[Attempt]:
        out = [self._attempt(raw) for raw in self._read()["attempts"].values()]
        return [a for a in out if a is not None]

    def clear(self, interpreter: str | None = None) -> int:
        """Forget attempts (of one interpreter, or all); returns how many were removed."""
        with self._locked() as data:
            keys = [
                k
                for k, raw in data["attempts"].items()
                if interpreter is None
                or (isinstance(raw, dict) and raw.get("interpreter") == interpreter)
            ]
            for k in keys:
                del data["attempts"][k]
        return len(keys)
