"""A content-addressed wheel cache that many processes on many machines can share.

Layout under the cache directory (`wheelmagic._fs.cache_dir()`):

    wheels/<h[:2]>/<sha256>/<filename>   complete, verified files only
    tmp/<key>.part                        downloads in progress (resumable)
    locks/<key>.lock                      one filelock per hash (or per URL without a hash)
    http/                                 the index page cache (wheelmagic.index.http)
    staged/, backup/, logs/, restarts/, attempts.json   see `KINDS`, the one table of what is kept

Why this is safe on shared storage: a file appears under `wheels/` only through `os.replace`
of a fully written, fsynced and hash-verified file in the same file system, so a reader sees
either nothing or the complete file; writers of one hash are serialised by a filelock. A hit
is checked by size, then by its sha256 (`verified_sha256`: streamed once per process, then
remembered by inode, mtime and size), so a file planted with the right size but other bytes
is dropped, not installed; `get(..., verify=True)` re-hashes regardless.
LRU pruning uses mtime, which `get` refreshes (atime is often disabled).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock

from wheelmagic._fs import cache_dir, sha256_file
from wheelmagic.index.urls import safe_filename
from wheelmagic.install import digests

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """`20G`, `500M`, `1.5GB`, `1024` -> bytes (powers of 1024)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 20G, 500M)")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


#: the one streamed file hash (wheelmagic._fs), under the name this module's callers use
sha256_of = sha256_file


#: (device, inode, mtime_ns, size) -> sha256 of the files this process has hashed or written
_VERIFIED: dict[tuple[int, int, int, int], str] = {}


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def verified_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """The file's sha256, streamed, and remembered by inode, mtime and size: for this process,
    and on the file itself for the next ones (`wheelmagic.install.digests`).

    A cached or staged wheel is checked with this before it is installed (a file planted with
    the right size but other bytes must not pass); the memo makes the second check of the same
    unchanged file free. The key comes from the open descriptor, so a file swapped in between
    the check and the read is not mistaken for the one hashed.
    """
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        key = _stat_key(st)
        # across processes: the digest kept on the file itself (`digests`, own files only)
        known = _VERIFIED.get(key) or digests.recall(fh.fileno(), st)
        if known is not None:
            _VERIFIED[key] = known
            return known
        h = hashlib.sha256()
        while block := fh.read(chunk):
            h.update(block)
        digest = h.hexdigest()
        if _stat_key(os.fstat(fh.fileno())) == key:
            _VERIFIED[key] = digest
            digests.record(fh.fileno(), st, digest)
    return digest


class SharedCacheWarning(UserWarning):
    """The cache directory can be written by other users and has no sticky bit."""


_WARNED: set[str] = set()


def warn_if_shared(directory: Path) -> None:
    """Warn (once per process and directory) when others may write it without a sticky bit."""
    key = str(directory)
    if key in _WARNED:
        return
    _WARNED.add(key)
    try:
        st = os.stat(directory)
    except OSError:
        return
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        import warnings

        warnings.warn(
            f"the wheelmagic cache {directory} can be written by other users (mode "
            f"{stat.S_IMODE(st.st_mode):o}) and has no sticky bit: they can replace or remove "
            "what others stored. Downloads still go through a private directory and every "
            f"wheel is hashed before it is installed; `chmod +t {directory}` or a private "
            "WHEELMAGIC_CACHE_DIR avoids this",
            SharedCacheWarning,
            stacklevel=3,
        )


def open_part(part: Path, *, append: bool = False) -> BinaryIO:
    """Open a partial download for writing without following a link, ever.

    `append`: resume it, if it is a regular file of this user's (else start afresh). A fresh
    part is created with `O_CREAT | O_EXCL | O_NOFOLLOW` after removing whatever is there,
    so a planted link is replaced, never written through.
    """
    if append:
        try:
            fd = os.open(part, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        except OSError:
            fd = -1
        if fd >= 0:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                return os.fdopen(fd, "ab")
            os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(part)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    return os.fdopen(fd, "wb")


def part_size(part: Path) -> int:
    """Bytes of a resumable part: 0 unless it is a regular file of this user's (no link)."""
    try:
        st = part.lstat()
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() else 0


def remember(path: Path | str, sha256: str) -> None:
    """Record a hash this process already knows (it wrote or verified the bytes)."""
    with contextlib.suppress(OSError):
        _VERIFIED[_stat_key(os.stat(path))] = sha256
    digests.record_path(path, sha256)


@dataclass(frozen=True)
class Kind:
    """One kind of thing wheelmagic keeps in its cache directory, and why it is kept."""

    name: str
    #: paths relative to the cache directory (a directory counts everything under it)
    paths: tuple[str, ...]
    why: str


#: Everything wheelmagic writes under `cache_dir()`, by kind: the one table `cache info`,
#: `cache clear` and `cache prune` read. Writers: install.download (wheels/, tmp/),
#: install.execute (staged/, logs/), install.lock (backup/ when the environment's prefix is
#: read-only), index.http (http/), attempts (attempts.json), kernel (restarts/), verdict
#: (verdicts/).
KINDS: tuple[Kind, ...] = (
    Kind("downloads", ("wheels", "tmp"), "verified downloads (and partial ones, resumable)"),
    Kind(
        "staged",
        ("staged",),
        "wheels rewritten for the installer: the newest 2 per project (STAGED_KEEP) are kept "
        "for a rollback or a fast switch back",
    ),
    Kind("backups", ("backup",), "rollback copies of an install that has not finished"),
    Kind("http", ("http",), "index pages and variants.json (HTTP metadata)"),
    Kind(
        "records",
        ("logs", "attempts.json", "restarts", "verdicts"),
        "installer logs, fix attempts, kernel restart records, remembered verdicts",
    ),
)
KIND_NAMES: tuple[str, ...] = tuple(k.name for k in KINDS)
#: Staged wheels kept per project: the installed build and the one before it (a rollback or a
#: switch back installs from here without rewriting a wheel again).
STAGED_KEEP = 2


@dataclass(frozen=True)
class KindUsage:
    kind: Kind
    files: int
    bytes: int


@dataclass(frozen=True)
class CacheInfo:
    directory: Path
    wheels: int
    wheel_bytes: int
    http_bytes: int
    partial_bytes: int
    kinds: tuple[KindUsage, ...] = ()
    #: everything under the directory, kinds or not (locks, anything unknown)
    total_bytes: int = 0

    def usage(self, name: str) -> KindUsage:
        return next(u for u in self.kinds if u.kind.name == name)


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
        try:
            st = path.lstat()
        except FileNotFoundError:
            pass
        else:
            if not stat.S_ISREG(st.st_mode):
                # planted (a link, say): filelock would refuse it (O_NOFOLLOW); lock in our
                # own directory instead: this user's processes still take turns, and writers
                # of other users are harmless (a verified file appears by `os.replace`)
                path = self.private_tmp() / f"{key}.lock"
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
        # a planted file of the right size must not pass: hash it (once per process)
        if (sha256_of(path) if verify else verified_sha256(path)) != sha256:
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # LRU: mark as recently used
        remember(path, sha256)  # the new mtime: later checks in this process stay free
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
        remember(final, sha256)  # hashed while downloading: staging need not hash it again
        return final

    def part_path(self, key: str) -> Path:
        """`tmp/u<uid>/<key>.part`: in this user's own directory (`private_tmp`)."""
        return self.private_tmp() / f"{key}.part"

    def private_tmp(self) -> Path:
        """This user's download directory under `tmp/`: a real directory, ours, mode 0700.

        On a shared cache (a JupyterHub's shared storage) another user could otherwise plant
        `tmp/<sha>.part` as a link to the victim's `~/.bashrc`, which a fresh download would
        overwrite and a resumed one append to. When `tmp/u<uid>` is not ours (planted), a fresh
        private directory is made instead (`mkdtemp`: nothing to resume there).
        """
        warn_if_shared(self.dir)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        mine = self.tmp_dir / f"u{os.geteuid()}"
        with contextlib.suppress(FileExistsError):
            mine.mkdir(mode=0o700)
        try:
            st = mine.lstat()
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid():
                if st.st_mode & 0o077:
                    os.chmod(mine, 0o700)
                return mine
        except OSError:
            pass
        return Path(tempfile.mkdtemp(prefix=f"u{os.geteuid()}-", dir=self.tmp_dir))

    # -- maintenance -----------------------------------------------------------------------

    def entries(self) -> Iterator[Path]:
        if self.wheels_dir.is_dir():
            for path in self.wheels_dir.glob("*/*/*"):
                if path.is_file() and not path.name.startswith("."):
                    yield path

    def info(self) -> CacheInfo:
        wheels = list(self.entries())
        kinds = []
        for kind in KINDS:
            files = [f for rel in kind.paths for f in _files(self.dir / rel)]
            kinds.append(KindUsage(kind, len(files), sum(_size(f) for f in files)))
        return CacheInfo(
            self.dir,
            len(wheels),
            sum(_size(p) for p in wheels),
            _tree_size(self.dir / "http"),
            _tree_size(self.tmp_dir),
            tuple(kinds),
            _tree_size(self.dir),
        )

    def units(self, kinds: Iterable[str] = KIND_NAMES) -> list[tuple[float, int, Path]]:
        """What `prune` removes one at a time: (mtime, bytes, path), oldest first.

        A download, a staged wheel's directory, a backup, an index page or a log file; the
        fix-attempt and restart records are small state, not pruned.
        """
        wanted = set(kinds)
        paths: list[Path] = []
        if "downloads" in wanted:
            paths += self.entries()
            paths += _files(self.tmp_dir)
        for name, sub in (("staged", "staged"), ("backups", "backup")):
            if name in wanted and (self.dir / sub).is_dir():
                paths += [p for p in (self.dir / sub).iterdir() if p.is_dir()]
        if "http" in wanted:
            paths += _files(self.dir / "http")
        if "records" in wanted:
            paths += _files(self.dir / "logs")
        out = []
        for p in paths:
            try:
                mtime = p.stat().st_mtime
            except OSError:
                continue
            out.append((mtime, _tree_size(p) if p.is_dir() else _size(p), p))
        return sorted(out, key=lambda t: t[0])

    def prune(self, max_bytes: int) -> list[Path]:
        """Delete the least recently used units of every kind until they take at most
        `max_bytes` (records and locks are not counted)."""
        items = self.units()
        total = sum(s for _, s, _ in items)
        removed: list[Path] = []
        for _mtime, size, path in items:
            if total <= max_bytes:
                break
            self._remove(path)
            total -= size
            removed.append(path)
        return removed

    def _remove(self, path: Path) -> None:
        if path.parent.parent == self.wheels_dir:
            with self.lock(path.parent.name):
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    path.parent.rmdir()
        elif path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def trim_staged(self, keep: int = STAGED_KEEP) -> list[Path]:
        """Keep the `keep` most recently staged wheels per project; remove the older ones.

        The newest is the installed build (a reinstall reuses it), the one before it serves a
        rollback or a switch back; older ones only take space (the download is still cached).
        """
        by_project: dict[str, list[tuple[float, Path]]] = {}
        base = self.dir / "staged"
        if not base.is_dir():
            return []
        for entry in base.iterdir():
            wheels = [p for p in entry.glob("*.whl") if not p.name.startswith(".")]
            if not entry.is_dir() or not wheels:
                continue
            project = wheels[0].name.split("-", 1)[0].lower()
            with contextlib.suppress(OSError):
                by_project.setdefault(project, []).append((wheels[0].stat().st_mtime, entry))
        removed = []
        for entries in by_project.values():
            for _mtime, entry in sorted(entries, key=lambda t: t[0], reverse=True)[keep:]:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        return removed

    def clear(self, kinds: Iterable[str] = KIND_NAMES) -> None:
        """Remove every kind named (default: all); lock files stay (another process may hold
        one)."""
        wanted = set(kinds)
        for kind in KINDS:
            if kind.name not in wanted:
                continue
            for rel in kind.paths:
                path = self.dir / rel
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []


def _tree_size(path: Path) -> int:
    return sum(_size(p) for p in _files(path))


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
