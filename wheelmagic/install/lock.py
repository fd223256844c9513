"""One install at a time per environment, and a way back when an install fails.

`environment_lock` holds `{sys.prefix}/.wheelmagic.lock` of the *target* interpreter (or, when
that prefix is read-only, a lock in the cache keyed by the prefix): a second wheelmagic
install into the same environment says who holds it, waits, and gives up with a clear message
after the timeout. The lock is an OS file lock, so a crashed holder never leaves it stuck.

`Backup` keeps the files of the distributions an install will replace, as hard links (no
copying: torch's 13,000 files link in well under a second) listed from their RECORD, and
notes what existed beforehand where the install may write (`Region`: site-packages and the
scripts directory entry by entry, the packages being replaced or added file by file). If the
installer fails, `restore()` removes exactly what appeared since, and only inside the target
environment (a RECORD is never trusted for what to delete: a hostile one lists
`../../home/u/thesis.tex`), then links the old files back, so the environment is as it was,
file for file, whichever installer ran. pip also rolls back its own uninstall when the install
of the same package fails; the backup covers uv, the new files pip leaves, and everything
between packages.

`check_writable` refuses a read-only site-packages before anything is touched.
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
from wheelmagic.install.record import escaping_path, record_paths

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
# what an install may touch: the target's own directories


def check_writable(site_dirs: Sequence[str]) -> None:
    """Refuse, before anything is changed, a target whose site-packages cannot be written.

    `os.access` alone is not enough (root passes it on a read-only mount or an immutable
    directory), so a probe file is created with `O_EXCL | O_NOFOLLOW` and removed again; the
    operating system's own reason is kept in the message.
    """
    for site in dict.fromkeys(site_dirs):
        if not os.path.isdir(site):
            continue
        probe = os.path.join(site, f".wheelmagic-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        try:
            if not os.access(site, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            reason = err.strerror or str(err)
            raise ReadOnlyEnvironment(
                f"site-packages is read-only ({site}: {reason}); install into a writable "
                "environment or pass --python",
                hint="nothing was changed; choose a virtual environment you can write to "
                "(python -m venv) and pass its interpreter with --python",
            ) from None


class ReadOnlyEnvironment(InstallError):
    """The target's site-packages cannot be written (read-only mount, permissions)."""


def _inside(path: str, roots: Sequence[str], memo: dict[str, str] | None = None) -> bool:
    """Does `path` (not followed if it is itself a link) lie inside one of `roots`?

    `memo` keeps each directory's real path for one pass (torch: 13,000 files, 900 dirs).
    """
    directory = os.path.dirname(path)
    parent = memo.get(directory) if memo is not None else None
    if parent is None:
        parent = os.path.realpath(directory)
        if memo is not None:
            memo[directory] = parent
    real = os.path.join(parent, os.path.basename(path))
    return any(real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _walk(top: str, into: set[str]) -> None:
    """Every path under `top` (links are listed, never followed)."""
    if os.path.islink(top) or not os.path.isdir(top):
        if os.path.lexists(top):
            into.add(top)
        return
    into.add(top)
    for dirpath, dirnames, filenames in os.walk(top):
        into.update(os.path.join(dirpath, n) for n in dirnames)
        into.update(os.path.join(dirpath, n) for n in filenames)


def _listing(directory: str) -> set[str]:
    try:
        with os.scandir(directory) as it:
            return {e.path for e in it}
    except OSError:
        return set()


@dataclass(frozen=True)
class Region:
    """The part of an environment an install may write, and what was in it beforehand.

    `listed`: directories whose entries are compared (site-packages, the scripts directory);
    `walked`: top-level entries compared file by file (the old distributions' and the new
    wheels' packages: pip adds `__pycache__` files inside them); `exact`: single paths a
    wheel's `.data/data/` member may create. `before` holds every path seen in them.
    """

    roots: tuple[str, ...]
    listed: tuple[str, ...]
    walked: tuple[str, ...]
    exact: tuple[str, ...]
    before: frozenset[str]

    @classmethod
    def of(
        cls,
        prefix: str,
        site_dirs: Sequence[str],
        tops: Iterable[str],
        exact: Iterable[str] = (),
    ) -> Region:
        roots = tuple(
            dict.fromkeys(
                os.path.realpath(p) for p in (prefix, *site_dirs) if p and os.path.isdir(p)
            )
        )
        scripts = os.path.join(prefix, "bin")
        listed = tuple(d for d in dict.fromkeys((*site_dirs, scripts)) if os.path.isdir(d))
        walked = tuple(dict.fromkeys(os.path.join(site, top) for site in site_dirs for top in tops))
        region = cls(roots, listed, walked, tuple(dict.fromkeys(exact)), frozenset())
        return cls(roots, listed, walked, region.exact, frozenset(region.scan()))

    def scan(self) -> set[str]:
        seen: set[str] = set()
        for d in self.listed:
            seen |= _listing(d)
        for top in self.walked:
            _walk(top, seen)
        seen.update(p for p in self.exact if os.path.lexists(p))
        return seen

    def remove_new(self) -> list[str]:
        """Remove what appeared since `before` and lies inside the environment; problems."""
        problems: list[str] = []
        new = sorted(self.scan() - self.before, key=lambda p: p.count(os.sep), reverse=True)
        memo: dict[str, str] = {}
        for path in new:
            if not _inside(path, self.roots, memo):
                continue  # never touch anything outside the target environment
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError as err:
                problems.append(f"{path}: {err.strerror or err}")
        return problems


def wheel_tops(wheels: Iterable[Path | Sequence[str]]) -> tuple[list[str], list[str]]:
    """(top-level entries in site-packages, `.data/data/` paths relative to the prefix).

    From each wheel's member list (a wheel file, or its member names as staging read them);
    members that escape are skipped (staging refuses such a wheel before it gets here).
    """
    import zipfile

    tops: dict[str, None] = {}
    data: dict[str, None] = {}
    for wheel in wheels:
        if isinstance(wheel, Path):
            try:
                with zipfile.ZipFile(wheel) as zf:
                    names: Sequence[str] = zf.namelist()
            except (OSError, zipfile.BadZipFile):
                continue
        else:
            names = wheel
        for name in names:
            if escaping_path(name):
                continue
            parts = [p for p in name.split("/") if p]
            if not parts:
                continue
            if parts[0].endswith(".data") and len(parts) > 2:
                scheme, rest = parts[1], parts[2:]
                if scheme in ("purelib", "platlib"):
                    tops[rest[0]] = None
                elif scheme == "data":
                    data["/".join(rest)] = None
                continue
            tops[parts[0]] = None
    return list(tops), list(data)


# ---------------------------------------------------------------------------------------------
# backup and restore


@dataclass
class Backup:
    """Hard-linked copies of the distributions an install is about to replace.

    The copies lie flat in `root` (`files` maps each original path to its copy).

    With `region`, `restore()` also removes what the install created, and only that: paths
    that were not there before and resolve inside the target environment. A RECORD is never
    trusted for what to delete (a hostile one lists `../../home/u/thesis.tex`).
    """

    root: Path
    site_dirs: tuple[str, ...]
    dists: dict[str, InstalledDist] = field(default_factory=dict)
    #: original absolute path -> backup path
    files: dict[str, str] = field(default_factory=dict)
    keys: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    region: Region | None = None
    #: what `restore()` could not put back or remove (empty when it fully succeeded)
    problems: list[str] = field(default_factory=list)

    @classmethod
    def take(
        cls,
        names: Sequence[str],
        site_dirs: Sequence[str],
        prefix: str,
        cache_dir: Path,
        *,
        wheels: Sequence[Path | Sequence[str]] = (),
    ) -> Backup:
        """Link the files of the installed `names` aside (only those that are installed).

        `wheels` (the staged files about to be installed, or their member names) widen what is
        watched, so that `restore()` can remove everything a failed install left, file for file.
        """
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
        try:
            backup._take(names, site_dirs, prefix, wheels)
        except BaseException:
            backup.discard()
            raise
        return backup

    def _take(
        self,
        names: Sequence[str],
        site_dirs: Sequence[str],
        prefix: str,
        wheels: Sequence[Path | Sequence[str]],
    ) -> None:
        present = installed_dists(site_dirs)
        tops, data = wheel_tops(wheels)
        roots = tuple(os.path.realpath(p) for p in (prefix, *site_dirs) if p)
        memo: dict[str, str] = {}
        # flat: the n-th file is `<root>/<n>`. `files` maps each back to its place, so the
        # tree need not be rebuilt here: one mkdir instead of one per directory (torch has
        # ~800; on this project's test machine each cost ~1 ms, more than all 12,000 links)
        os.makedirs(self.root, exist_ok=True)
        base_s = str(self.root)
        serial = 0
        for name in names:
            dist = present.get(canonicalize_name(name))
            if dist is None:
                continue
            self.dists[dist.name] = dist
            self.keys[dist.name] = dist.record_key()
            tops.extend(
                rel.split("/", 1)[0]
                for rel in dist.record_paths()
                if rel and not escaping_path(rel)
            )
            tops.append(dist.path.name)
            for path in dist.files():
                if not _inside(path, roots, memo):
                    continue  # a RECORD row outside the environment is not ours to keep
                if path in self.files:
                    continue  # listed twice
                serial += 1
                dst = os.path.join(base_s, str(serial))
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
                self.files[path] = dst
        exact: list[str] = []
        for rel in data:
            parts = rel.split("/")
            exact.extend(os.path.join(prefix, *parts[: i + 1]) for i in range(len(parts)))
        self.region = Region.of(prefix, site_dirs, dict.fromkeys(tops), exact)

    def restore(self) -> list[str]:
        """Put the backed-up distributions back as they were; returns their names.

        Never raises for a file it cannot remove or put back (a read-only directory): those
        are listed in `problems`, so the caller can still report the installer's own error.
        """
        if self.region is not None:
            self.problems.extend(self.region.remove_new())
        restored = list(self.dists)
        for path, saved in self.files.items():
            if _same_file(path, saved):
                continue
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.wm-restore")
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                try:
                    os.link(saved, tmp, follow_symlinks=False)
                except OSError:
                    shutil.copy2(saved, tmp)
                os.replace(tmp, path)
            except OSError as err:
                self.problems.append(f"{path}: {err.strerror or err}")
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
