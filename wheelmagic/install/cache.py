"""A content-addressed wheel cache that many processes on many machines can share.

Layout under the cache directory (`wheelmagic._fs.cache_dir()`):

    wheels/<h[:2]>/<sha256>/<filename>   complete, verified files only
    tmp/<key>.part                        downloads in progress (resumable)
    locks/<key>.lock                      one filelock per hash (or per URL without a hash)
    http/                                 the index page cache (wheelmagic.index.http)

Why this is safe on shared storage: a file appears under `wheels/` only through `os.replace`
of a fully written, fsynced and hash-verified file in the same file system, so a reader sees
either nothing or the complete file; writers of one hash are serialised by a filelock. A hit
is checked cheaply (it exists, and its size when known); `get(..., verify=True)` re-hashes.
LRU pruning uses mtime, which `get` refreshes (atime is often disabled).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from wheelmagic._fs import cache_dir
from wheelmagic.index.urls import safe_filename

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`20G`, `500M`, `1.5GB`, `1024` -> bytes (powers of 1024)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 20G, 500M)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class CacheInfo:
    directory: Path
    wheels: int
    wheel_bytes: int
    http_bytes: int
    partial_bytes: int


class WheelCache:
    def __init__(self, directory: Path | str | None = None, lock_timeout: float = 1800) -> None:
        self.dir = Path(directory) if directory is not None else cache_dir()
        self.lock_timeout = lock_timeout

    @property
    def wheels_dir(self) -> Path:
        return self.dir / "wheels"

    @property
    def tmp_dir(self) -> Path:
        return self.dir / "tmp"

    def lock(self, key: str) -> FileLock:
        path = self.dir / "locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path), timeout=self.lock_timeout)

    def path_for(self, sha256: str, filename: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.wheels_dir / sha256[:2] / sha256 / safe_filename(filename)

    def get(
        self, sha256: str, filename: str, *, size: int | None = None, verify: bool = False
    ) -> Path | None:
        """The cached file, or None. Another name of the same content is linked in place."""
        path = self.path_for(sha256, filename)
        if not path.is_file():
            others = [
                p for p in path.parent.glob("*") if p.is_file() and not p.name.startswith(".")
            ]
            if not others:
                return None
            self._link(others[0], path)
        try:
            st = path.stat()
        except OSError:
            return None
        if size is not None and st.st_size != size:
            return None
        if verify and sha256_of(path) != sha256:
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # LRU: mark as recently used
        return path

    def _link(self, src: Path, dst: Path) -> None:
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{time.monotonic_ns()}")
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)

    def put(self, source: Path, sha256: str, filename: str) -> Path:
        """Move a verified file (in this cache's file system) into place, atomically."""
        final = self.path_for(sha256, filename)
        final.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as fh:
            os.fsync(fh.fileno())
        tmp = final.with_name(f".{final.name}.{os.getpid()}.{time.monotonic_ns()}")
        os.replace(source, tmp)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return final

    def part_path(self, key: str) -> Path:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        return self.tmp_dir / f"{key}.part"

    # -- maintenance -----------------------------------------------------------------------

    def entries(self) -> Iterator[Path]:
        if self.wheels_dir.is_dir():
            for path in self.wheels_dir.glob("*/*/*"):
                if path.is_file() and not path.name.startswith("."):
                    yield path

    def info(self) -> CacheInfo:
        wheels = list(self.entries())
        return CacheInfo(
            self.dir,
            len(wheels),
            sum(_size(p) for p in wheels),
            _tree_size(self.dir / "http"),
            _tree_size(self.tmp_dir),
        )

    def prune(self, max_bytes: int) -> list[Path]:
        """Delete least recently used wheels until the wheels take at most `max_bytes`."""
        items = sorted(
            ((p.stat().st_mtime, _size(p), p) for p in self.entries()), key=lambda t: t[0]
        )
        total = sum(s for _, s, _ in items)
        removed: list[Path] = []
        for _mtime, size, path in items:
            if total <= max_bytes:
                break
            sha = path.parent.name
            with self.lock(sha):
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()
            total -= size
            removed.append(path)
        return removed

    def clear(self) -> None:
        for sub in ("wheels", "tmp", "http"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tree_size(path: Path) -> int:
    return sum(_size(p) for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
