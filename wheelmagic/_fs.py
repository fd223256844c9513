"""File-system plumbing every layer shares: where the cache lives, and how a file is replaced.

`cache_dir()` is the one answer to "where is wheelmagic's cache" (downloads, staged wheels,
index pages, install logs, fix attempts, kernel restart records, `wheelmagic cache`), so a
`cache clear` always clears what the rest wrote. `atomic_write()` is the one way a small file
is rewritten in place: readers on any machine sharing the directory see the old file or the
new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

ENV_CACHE_DIR = "WHEELMAGIC_CACHE_DIR"
APP_NAME = "wheelmagic"


def cache_dir() -> Path:
    """`$WHEELMAGIC_CACHE_DIR`, else platformdirs' user cache directory for wheelmagic.

    On Linux this is platformdirs' rule written out (`$XDG_CACHE_HOME` or `~/.cache`), so the
    kernel's start-up path does not import platformdirs; `tests/unit/test_fs.py` checks that
    both agree.
    """
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env)
    if sys.platform.startswith("linux"):
        xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
        return Path(xdg or os.path.expanduser("~/.cache")) / APP_NAME
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME))


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file, streamed (wheels are hundreds of MB)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data`: a temp file in the same directory, fsynced, `os.replace`d.

    The parent directory is created; on failure the temp file is removed and the error raised
    (callers that treat the file as optional catch `OSError`).
    """
    import tempfile  # not at module level: the kernel's start-up path imports this module

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
