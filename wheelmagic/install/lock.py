"""One install at a time per environment, and a way back when an install fails.

`environment_lock` holds `{sys.prefix}/.wheelmagic.lock` of the *target* interpreter (or, when
that prefix is read-only, a lock in the cache keyed by the prefix): a second wheelmagic
install into the same environment says who holds it, waits, and gives up with a clear message
after the timeout. The lock is an OS file lock, so a crashed holder never leaves it stuck.

`Backup` keeps the files of the distributions an install will replace, as hard links (no
copying: torch's 13,000 files link in well under a second) listed from their RECORD. If the
installer fails, `restore()` removes whatever it left half-installed and links the old files
back, so the previous torch still imports whichever installer ran. pip also rolls back its own
uninstall when the install of the same package fails; the backup covers uv and everything
between packages.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from packaging.utils import canonicalize_name

from wheelmagic.errors import InstallError
from wheelmagic.install.record import record_paths

LOCK_NAME = ".wheelmagic.lock"
ENV_LOCK_TIMEOUT = "WHEELMAGIC_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 900.0


class LockTimeout(InstallError):
    """Another install into the same environment did not finish in time."""


def _writable_dir(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def lock_path(prefix: str, cache_dir: Path) -> Path:
    """`{prefix}/.wheelmagic.lock`, or one in the cache when the prefix is read-only."""
    p = Path(prefix)
    if _writable_dir(p):
        return p / LOCK_NAME
    key = hashlib.sha256(os.path.realpath(prefix).encode()).hexdigest()[:16]
    return cache_dir / "locks" / f"{key}.lock"


def lock_timeout(default: float = DEFAULT_LOCK_TIMEOUT) -> float:
    raw = os.environ.get(ENV_LOCK_TIMEOUT)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


@contextlib.contextmanager
def environment_lock(
    prefix: str,
    cache_dir: Path,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the install lock of the environment at `prefix` for the duration of the block."""
    path = lock_path(prefix, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = path.with_name(path.name + ".owner")
    lock = FileLock(str(path))
    wait = lock_timeout() if timeout is None else timeout
    try:
        lock.acquire(timeout=0)
    except Timeout:
        who = _read_owner(owner)
        if on_wait is not None:
            on_wait(
                f"another wheelmagic install into {prefix} is running{who}; waiting for it "
                f"to finish (up to {wait:g}s) ..."
            )
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise LockTimeout(
                f"another wheelmagic install into {prefix} is still running{who} after "
                f"{wait:g}s; nothing was changed by this one",
                hint=(
                    f"wait for it to finish and run the command again (or raise "
                    f"{ENV_LOCK_TIMEOUT}); the lock file is {path}"
                ),
            ) from None
    try:
        with contextlib.suppress(OSError):
            owner.write_text(f"{os.getpid()} {time.strftime('%H:%M:%S')}\n")
        yield path
    finally:
        with contextlib.suppress(OSError):
            owner.unlink()
        lock.release()


def _read_owner(owner: Path) -> str:
    try:
        pid, _, started = owner.read_text().strip().partition(" ")
    except OSError:
        return ""
    return f" (process {pid}, started {started})" if pid else ""


# ---------------------------------------------------------------------------------------------
# distributions on disk


@dataclass(frozen=True)
class InstalledDist:
    """A `*.dist-info` directory in a site-packages directory."""

    name: str
    version: str
    path: Path

    @property
    def site(self) -> Path:
        return self.path.parent

    def record_key(self) -> tuple[int, int, int]:
        """Changes whenever the distribution is (re)installed."""
        try:
            st = (self.path / "RECORD").stat()
        except OSError:
            return (0, 0, 0)
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def record_paths(self) -> list[str]:
        """The paths its RECORD lists, relative to the site directory (malformed rows skipped)."""
        try:
            text = (self.path / "RECORD").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return []
        return record_paths(text)

    def files(self) -> list[str]:
        """Absolute paths (strings: torch lists 13,000 files) of what its RECORD lists."""
        site = str(self.site)
        return [os.path.normpath(os.path.join(site, rel)) for rel in self.record_paths()]

    def label(self) -> str | None:
        """The variant label from `variant.json`, if this is a variant build."""
        import json

        try:
            data = json.loads((self.path / "variant.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        variants = data.get("variants") if isinstance(data, dict) else None
        if isinstance(variants, dict) and len(variants) == 1:
            return str(next(iter(variants)))
        return None


def installed_dists(site_dirs: Iterable[str | Path]) -> dict[str, InstalledDist]:
    """Every dist-info in `site_dirs` by normalised name (the first directory wins)."""
    found: dict[str, InstalledDist] = {}
    for site in site_dirs:
        try:
            entries = os.scandir(site)
        except OSError:
            continue
        with entries:
            for entry in entries:
                if (
                    not entry.name.endswith(".dist-info")
                    or entry.name.startswith("~")
                    or not entry.is_dir()
                ):
                    continue  # `~name`: pip's stash of an interrupted uninstall
                stem = entry.name[: -len(".dist-info")]
                name, sep, version = stem.partition("-")
                if not sep:
                    continue
                key = canonicalize_name(name)
                found.setdefault(key, InstalledDist(key, version, Path(entry.path)))
    return found


# ---------------------------------------------------------------------------------------------
# backup and restore


@dataclass
class Backup:
    """Hard-linked copies of the distributions an install is about to replace."""

    root: Path
    site_dirs: tuple[str, ...]
    dists: dict[str, InstalledDist] = field(default_factory=dict)
    #: original absolute path -> backup path
    files: dict[str, str] = field(default_factory=dict)
    keys: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @classmethod
    def take(
        cls, names: Sequence[str], site_dirs: Sequence[str], prefix: str, cache_dir: Path
    ) -> Backup:
        """Link the files of the installed `names` aside (only those that are installed)."""
        base = Path(prefix) / ".wheelmagic-backup"
        if not _writable_dir(Path(prefix)):
            base = cache_dir / "backup"
        # we hold the environment's lock: any backup already here was left by a process that
        # was killed mid-install (its install was retried or superseded since), so drop it
        if base.is_dir():
            for stale in base.iterdir():
                shutil.rmtree(stale, ignore_errors=True)
        root = base / uuid.uuid4().hex[:12]
        backup = cls(root, tuple(site_dirs))
        present = installed_dists(site_dirs)
        made: set[str] = set()
        base_s = str(root)
        for name in names:
            dist = present.get(canonicalize_name(name))
            if dist is None:
                continue
            backup.dists[dist.name] = dist
            backup.keys[dist.name] = dist.record_key()
            for path in dist.files():
                dst = base_s + path if path.startswith(os.sep) else os.path.join(base_s, path)
                parent = os.path.dirname(dst)
                if parent not in made:
                    os.makedirs(parent, exist_ok=True)
                    made.add(parent)
                try:
                    os.link(path, dst, follow_symlinks=False)
                except FileNotFoundError:
                    continue  # listed but absent (e.g. a .pyc never written)
                except IsADirectoryError:
                    continue
                except OSError:
                    if not os.path.isfile(path):
                        continue
                    shutil.copy2(path, dst)
                backup.files[path] = dst
        return backup

    def restore(self) -> list[str]:
        """Put the backed-up distributions back as they were; returns their names."""
        now = installed_dists(self.site_dirs)
        restored = []
        for name, old in self.dists.items():
            cur = now.get(name)
            mine = set(self.files)
            if cur is not None and (
                cur.path != old.path or cur.record_key() != self.keys.get(name)
            ):
                # a new (maybe partial) install is in place: remove what it added
                for path in cur.files():
                    if path not in mine:
                        with contextlib.suppress(OSError):
                            os.unlink(path)
                if cur.path != old.path:
                    shutil.rmtree(cur.path, ignore_errors=True)
            restored.append(name)
        for path, saved in self.files.items():
            if _same_file(path, saved):
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.wm-restore")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            try:
                os.link(saved, tmp, follow_symlinks=False)
            except OSError:
                shutil.copy2(saved, tmp)
            os.replace(tmp, path)
        return restored

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.root.parent.rmdir()


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
