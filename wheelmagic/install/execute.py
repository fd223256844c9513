"""Carry out a Plan: download, verify, stage, install — all or nothing from the user's view.

Order matters for safety. Every download, hash check and staging step happens *before* the
environment is touched; only then is the environment locked, the files of the builds being
replaced linked aside (`lock.Backup`), and the installer run. If the installer fails or is
interrupted, the old files are put back, so the previously installed torch still imports; the
error says which package, index and file were involved and what to do next.

`execute()` returns the distributions that actually changed (`ExecuteResult.changed`), with the
import names they provide, so a front end can tell whether a running kernel must restart.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelmagic import _fs
from wheelmagic.errors import DownloadError, InstallError, WheelmagicError
from wheelmagic.index.urls import redact, redact_text
from wheelmagic.install.backends import (
    Backend,
    InstallRequest,
    choose_backend,
)
from wheelmagic.install.lock import (
    Backup,
    InstalledDist,
    check_writable,
    environment_lock,
    installed_dists,
)
from wheelmagic.install.record import top_level_names
from wheelmagic.install.stage import StagedWheel, check_variant, stage_wheel

if TYPE_CHECKING:
    from wheelmagic.index.client import IndexClient
    from wheelmagic.index.sources import IndexConfig
    from wheelmagic.install.download import Downloader
    from wheelmagic.install.plan import Plan, PlannedFile
    from wheelmagic.install.progress import ProgressCallback

Log = Callable[[str], None]


@dataclass(frozen=True)
class Change:
    """One distribution whose installed files changed."""

    name: str
    #: version before / after (None: was not installed / was removed)
    before: str | None
    after: str | None
    #: variant label from `variant.json` before / after (None: not a variant build)
    label_before: str | None = None
    label_after: str | None = None
    #: top-level import names it provides (from `top_level.txt` or RECORD)
    modules: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name

    @property
    def action(self) -> str:
        if self.before is None:
            return "installed"
        if self.after is None:
            return "removed"
        try:
            old, new = Version(self.before), Version(self.after)
        except InvalidVersion:
            old = new = Version("0")
        if new.release != old.release or new.pre != old.pre or new.dev != old.dev:
            return "upgraded" if new > old else "downgraded"
        if self.label_before != self.label_after or old.local != new.local:
            return "switched"
        return "reinstalled"

    def describe(self) -> str:
        def build(v: str | None, label: str | None) -> str:
            return f"{v}" + (f" [{label}]" if label else "")

        if self.before is None:
            return f"{self.name} {build(self.after, self.label_after)}"
        return (
            f"{self.name} {build(self.before, self.label_before)} -> "
            f"{build(self.after, self.label_after)}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action,
            "before": self.before,
            "after": self.after,
            "variant_before": self.label_before,
            "variant_after": self.label_after,
            "modules": list(self.modules),
        }


@dataclass
class ExecuteResult:
    """What `execute()` did."""

    changed: list[Change] = field(default_factory=list)
    #: the planned files, downloaded, verified and staged
    staged: list[StagedWheel] = field(default_factory=list)
    backend: str | None = None
    seconds: float = 0.0
    #: the installer's full output
    log_path: Path | None = None

    def summary(self) -> str:
        if not self.changed:
            return "nothing changed"
        return "; ".join(f"{c.action} {c.describe()}" for c in self.changed)

    def to_json(self) -> dict[str, Any]:
        return {
            "changed": [c.to_json() for c in self.changed],
            "backend": self.backend,
            "seconds": round(self.seconds, 3),
            "log": str(self.log_path) if self.log_path else None,
        }


def execute(
    plan: Plan,
    *,
    indexes: IndexConfig | None = None,
    cache_dir: Path | None = None,
    backend: str | Backend | None = "auto",
    pre: bool = False,
    source: IndexClient | None = None,
    download: Downloader | None = None,
    progress: ProgressCallback | None = None,
    log: Log | None = None,
    installer_output: Log | None = None,
    lock_timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> ExecuteResult:
    """Install `plan.packages` into `plan.interpreter`; returns what changed.

    `indexes` (an `IndexConfig`; default: `source.config` of the `IndexClient` planned with) is
    handed to the installer for the dependencies; `download` defaults to
    `wheelmagic.install.download.planned_downloader` with `progress` as its callback; `log`
    gets one line per step (and the lock-wait message); `installer_output` gets pip's/uv's
    lines as they come.
    Raises `DownloadError` (nothing touched), `InstallError` (environment restored).
    """
    start = time.perf_counter()
    cache = cache_dir or _fs.cache_dir()
    result = ExecuteResult()
    if plan.nothing_to_do:
        return result
    say = log or (lambda _msg: None)
    if indexes is None and source is not None:
        indexes = source.config
    if download is None:
        from wheelmagic.install.download import planned_downloader

        download = planned_downloader(cache, indexes, _combined(progress, plan.packages))

    # 1. download (several files at once) + verify + stage: nothing in the environment changes
    paths = _download_all(download, plan.packages)
    for planned, path in zip(plan.packages, paths, strict=True):
        result.staged.append(_stage_one(planned, path, cache))
    say("downloaded and verified " + ", ".join(s.source.name for s in result.staged))

    # 2. install under the environment's lock, with a way back
    interp = plan.interpreter
    chosen = backend if isinstance(backend, Backend) else choose_backend(backend or "auto")
    result.backend = chosen.name
    site_dirs = list(interp.site_packages)
    prefix = interp.sys_prefix or str(Path(interp.executable).resolve().parent.parent)
    names = [str(p.name) for p in plan.packages]
    check_writable(site_dirs)  # a read-only target: say so before anything is touched
    with environment_lock(prefix, cache, timeout=lock_timeout, on_wait=say):
        before = installed_dists(site_dirs)
        keys = {n: d.record_key() for n, d in before.items()}
        labels = {n: before[n].label() for n in names if n in before}
        force = tuple(
            n for n, p in zip(names, plan.packages, strict=True) if _same_version(before.get(n), p)
        )
        request = InstallRequest(
            python=interp.executable,
            wheels=tuple(s.path for s in result.staged),
            force=force,
            indexes=indexes,
            pre=pre,
            env=dict(env or {}),
        )
        backup = Backup.take(
            names,
            site_dirs,
            prefix,
            cache,
            wheels=[s.members or s.path for s in result.staged],  # names as staging read them
        )
        output: list[str] = []

        def relay(line: str) -> None:
            output.append(line)
            if installer_output is not None:
                installer_output(line)

        say(f"installing with {chosen.name} into {interp.executable}")
        try:
            try:
                chosen.install(request, log=relay)
                after = installed_dists(site_dirs)
                _check_installed(plan.packages, after, interp.executable)
            finally:
                result.log_path = _write_log(cache, output)
        except BaseException as err:
            restored = backup.restore()
            backup.discard()
            if backup.problems and isinstance(err, WheelmagicError):
                err.message += "\n  could not undo: " + "; ".join(backup.problems[:5])
            raise _install_failure(err, plan, restored, before, result.log_path) from (
                err if isinstance(err, Exception) else None
            )
        backup.discard()
    result.changed = _changes(before, keys, labels, after)
    result.seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------------------------
# steps


#: files of one plan downloaded at once (torch, torchvision, torchaudio: the big one decides)
PARALLEL_DOWNLOADS = 4


def _combined(
    progress: ProgressCallback | None, files: Sequence[PlannedFile]
) -> ProgressCallback | None:
    """One progress display for the files downloading together."""
    if progress is None or len(files) < 2:
        return progress
    from wheelmagic.install.progress import Combined

    return Combined(progress, [(f.filename, f.size) for f in files])


def _download_all(fetch: Downloader, files: Sequence[PlannedFile]) -> list[Path]:
    """Every planned file, downloaded and verified, at most `PARALLEL_DOWNLOADS` at a time.

    The first failure (in plan order) is raised once the downloads under way have stopped;
    files not started yet are not started. Nothing in the environment has changed.
    """
    if len(files) < 2:
        return [_download_one(fetch, f) for f in files]
    from concurrent.futures import ThreadPoolExecutor

    workers = min(PARALLEL_DOWNLOADS, len(files))
    with ThreadPoolExecutor(workers, thread_name_prefix="wheelmagic-download") as pool:
        futures = [pool.submit(_download_one, fetch, f) for f in files]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _download_one(fetch: Downloader, planned: PlannedFile) -> Path:
    try:
        return fetch(planned)
    except WheelmagicError as err:
        if planned.filename in str(err):
            raise
        raise DownloadError(
            f"{planned.name} {planned.version}: could not download {planned.filename} from "
            f"{redact(planned.index_url)}: {err.message}",
            hint=err.hint or "nothing was changed; check the index and run the command again",
        ) from err
    except OSError as err:
        raise DownloadError(
            f"{planned.name} {planned.version}: could not store {planned.filename} from "
            f"{redact(planned.index_url)}: {err.strerror or err}",
            hint="nothing was changed; free disk space or set WHEELMAGIC_CACHE_DIR elsewhere",
        ) from err


def _stage_one(planned: PlannedFile, path: Path, cache: Path) -> StagedWheel:
    env = planned.variant_environment()
    key = hashlib.sha256(
        f"{planned.sha256 or path.name}:{path.stat().st_size}:{sorted(env.properties)}:"
        f"{env.label}".encode()
    ).hexdigest()[:24]
    out_dir = cache / "staged" / key
    try:
        known = _staged_before(path, out_dir)
        if known is not None:
            return known
        if planned.is_variant_file and planned.label is not None:
            check_variant(path, planned.label, planned.properties)
        staged = stage_wheel(path, out_dir, env=env, filename=planned.filename)
        _remember_staged(staged, out_dir)
        return staged
    except WheelmagicError as err:
        raise InstallError(
            f"{planned.name} {planned.version}: {planned.filename} from {redact(planned.index_url)} "
            f"could not be prepared for the installer: {err.message}",
            hint=err.hint or "nothing was changed; `wheelmagic cache clear` and try again",
        ) from err
    except OSError as err:
        raise InstallError(
            f"{planned.name}: staging {planned.filename} failed: {err.strerror or err}",
            hint="nothing was changed; free disk space or set WHEELMAGIC_CACHE_DIR elsewhere",
        ) from err


#: beside a staged wheel: what staging found, for the next install of the same file
STAGED_MEMO = ".staged.json"


def _staged_before(source: Path, out_dir: Path) -> StagedWheel | None:
    """The wheel staged earlier from these very bytes, when it is still intact; else None.

    Staging reads the source's zip directory twice (its `variant.json`, its METADATA and
    every member name: ~0.4 s for the 554 MB CUDA torch wheel with 12,000 members) on every
    install; a switch back to a build staged before needs none of it. The memo is believed
    only when it is this user's own file that nobody else may write, names the source's
    verified sha256, and the staged file still checks out (`staged_ok`); the digests behind
    both checks are remembered on the files (`install.digests`), so this costs a few stats.
    """
    import json
    import stat

    from wheelmagic.install.cache import verified_sha256
    from wheelmagic.install.stage import staged_ok

    memo = out_dir / STAGED_MEMO
    try:
        st = memo.lstat()
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.geteuid()
            or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        ):
            return None
        data = json.loads(memo.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    name, rewritten = data.get("path"), data.get("rewritten")
    lists = [data.get(k) for k in ("requires", "dropped", "members")]
    if (
        not isinstance(name, str)
        or os.sep in name
        or name.startswith(".")
        or not isinstance(rewritten, bool)
        or not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists)
    ):
        return None
    try:
        if data.get("source_sha256") != verified_sha256(source):
            return None
        dst = out_dir / name
        if not staged_ok(source, dst, rewritten=rewritten):
            return None
    except OSError:
        return None
    requires, dropped, members = lists
    assert requires is not None and dropped is not None and members is not None
    return StagedWheel(source, dst, rewritten, list(requires), list(dropped), tuple(members))


def _remember_staged(staged: StagedWheel, out_dir: Path) -> None:
    """Write the memo `_staged_before` reads (atomically; a failure only costs speed)."""
    import contextlib
    import json

    from wheelmagic.install.cache import verified_sha256

    data = {
        "source_sha256": verified_sha256(staged.source),
        "path": staged.path.name,
        "rewritten": staged.rewritten,
        "requires": list(staged.requires),
        "dropped": list(staged.dropped),
        "members": list(staged.members),
    }
    with contextlib.suppress(OSError):
        _fs.atomic_write(out_dir / STAGED_MEMO, json.dumps(data).encode())


def _same_version(dist: InstalledDist | None, planned: PlannedFile) -> bool:
    if dist is None:
        return False
    try:
        return Version(dist.version) == planned.version
    except InvalidVersion:
        return False


def _check_installed(
    packages: Sequence[PlannedFile], after: Mapping[str, InstalledDist], python: str
) -> None:
    for p in packages:
        dist = after.get(canonicalize_name(p.name))
        if dist is None or not _same_version(dist, p):
            found = f"{dist.version}" if dist else "nothing"
            raise InstallError(
                f"{p.name}: the installer finished but {found} is installed in {python}, "
                f"not {p.version} from {p.filename}",
                hint="another tool may have changed the environment at the same time; run the "
                "command again",
            )


def _changes(
    before: Mapping[str, InstalledDist],
    keys: Mapping[str, tuple[int, int, int]],
    labels: Mapping[str, str | None],
    after: Mapping[str, InstalledDist],
) -> list[Change]:
    """Distributions whose dist-info appeared, vanished or was rewritten."""
    out = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if (
            old is not None
            and new is not None
            and old.path == new.path
            and keys.get(name) == new.record_key()
        ):
            continue
        out.append(
            Change(
                name=name,
                before=old.version if old else None,
                after=new.version if new else None,
                label_before=labels.get(name),
                label_after=new.label() if new else None,
                modules=_modules(new or old),
            )
        )
    return out


def _modules(dist: InstalledDist | None) -> tuple[str, ...]:
    """Top-level import names: `top_level.txt`, else the first part of each RECORD path."""
    if dist is None:
        return ()
    try:
        top = (dist.path / "top_level.txt").read_text(encoding="utf-8").split()
        if top:
            return tuple(dict.fromkeys(top))
    except OSError:
        pass
    return top_level_names(dist.record_paths())


def _write_log(cache: Path, lines: Sequence[str]) -> Path | None:
    try:
        logs = cache / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        path = logs / f"install-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        path.write_text(redact_text("\n".join(lines)) + "\n", encoding="utf-8")
        return path
    except OSError:
        return None


def _install_failure(
    err: BaseException,
    plan: Plan,
    restored: list[str],
    before: Mapping[str, InstalledDist],
    log_path: Path | None,
) -> BaseException:
    if isinstance(err, KeyboardInterrupt):
        return err
    kept = [f"{n} {before[n].version}" for n in restored if n in before]
    state = (
        f"the previous {', '.join(kept)} is installed as before"
        if kept
        else "the environment was left as it was"
    )
    what = "; ".join(
        f"{p.name} {p.version} [{p.variant or 'non-variant'}] ({p.filename} from {redact(p.index_url)})"
        for p in plan.packages
    )
    log = f"\n  installer log: {log_path}" if log_path else ""
    head = f"could not install {what} into {plan.interpreter.executable}"
    if isinstance(err, WheelmagicError):
        return InstallError(
            f"{head}: {err.message}\n  {state}.{log}",
            hint=err.hint or "fix the cause and run the command again",
        )
    return InstallError(
        f"{head}: {type(err).__name__}: {err}\n  {state}.{log}",
        hint="fix the cause and run the command again",
    )
