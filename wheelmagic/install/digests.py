"""A file's sha256 remembered across processes, on the file itself (an extended attribute).

Every cached and staged wheel is hashed before it is installed (`cache.verified_sha256`), and
each `wheelmagic install` is a new process: a variant switch hashed the same 554 MB CUDA
torch wheel twice per run (the cached file and its staged copy), about a second of the
switch that uv does without. Here the digest is kept beside the bytes it describes, as the
extended attribute ``user.wheelmagic.sha256``, with the identity of the file it was computed
from: device, inode, mtime and size. It is believed only when

- the file is a regular file owned by this user and writable by nobody else (so only this
  user could have changed its bytes or its attribute: ``user.*`` attributes need write
  permission), and
- device, inode, mtime and size still match (a copy that kept the attribute, such as
  `shutil.copy2`'s, has another inode; rewritten bytes have another mtime).

Anything else (no attribute support, another owner, a mismatch, a malformed value) means
"unknown": the caller hashes, as before. Nothing here ever makes a wrong file pass that the
plain hash would have refused, except a file rewritten by this same user with its mtime put
back by hand, which this user could equally have installed directly.
"""

from __future__ import annotations

import contextlib
import os
import stat

ATTR = "user.wheelmagic.sha256"
_HEX = frozenset("0123456789abcdef")


def _trusted(st: os.stat_result) -> bool:
    return (
        stat.S_ISREG(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _value(sha256: str, st: os.stat_result) -> bytes:
    return f"{sha256} {st.st_dev} {st.st_ino} {st.st_mtime_ns} {st.st_size}".encode("ascii")


def recall(fd: int, st: os.stat_result) -> str | None:
    """The digest remembered on the open file `fd` (whose `fstat` is `st`), or None."""
    if not _trusted(st) or not hasattr(os, "getxattr"):
        return None
    try:
        raw = os.getxattr(fd, ATTR)
    except OSError:
        return None
    if len(raw) > 160:
        return None
    parts = raw.decode("ascii", "replace").split()
    if len(parts) != 5 or _value(parts[0], st) != raw:
        return None
    sha = parts[0]
    return sha if len(sha) == 64 and set(sha) <= _HEX else None


def record(fd: int, st: os.stat_result, sha256: str) -> None:
    """Remember `sha256` on the open file `fd` (`st`: its `fstat` when it was hashed)."""
    if not _trusted(st) or not hasattr(os, "setxattr"):
        return
    # no xattr support, a read-only file or file system: it is hashed next time
    with contextlib.suppress(OSError):
        os.setxattr(fd, ATTR, _value(sha256, st))


def record_path(path: str | os.PathLike[str], sha256: str) -> None:
    """`record` for a file this process just wrote (the hash of the bytes it wrote)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        record(fd, os.fstat(fd), sha256)
    finally:
        os.close(fd)
