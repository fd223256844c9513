"""What the import hook does about a build that does not fit, or an import that failed.

Imported by the finder on the first real import of a watched package; from here on anything
may be imported. The steps:

1. the doctor, offline (`app.Session.doctor` over the `sys.path` entries that hold a watched
   package; no network on this path);
2. the policy (`wheelmagic.config`: ``WHEELMAGIC_ON_MISMATCH`` / ``c.Wheelmagic.on_mismatch``):
   ``fits`` is silent; ``suboptimal`` prints one line with the exact ``%variant_install``;
   ``broken`` is fixed (``auto``/``fix``), explained (``warn``) or ignored (``off``);
3. a fix is `app.Session.plan_fix` + `install`. When `app.restart_needed` finds nothing of the
   replaced distributions imported, the import goes on with the new build (caches
   invalidated, spec found again); otherwise the kernel restarts
   (`wheelmagic.kernel.restart.restart_kernel`) or, outside a kernel, the user is told to
   restart the process.

When the real import fails, the error text is mapped to a cause (`wheelmagic.hook.causes`),
combined with the doctor's verdict, and the same policy applies. The *original* exception is
re-raised by the finder, unchanged in type, with this module's explanation added as a note.

An on-disk record (`wheelmagic.attempts`) stops a second automatic fix of the same mismatch,
so a fix that does not help can never loop through restarts.

Other processes: before reading what is installed, an import waits (bounded, said out loud)
while another process holds the environment's install lock; a fix runs under the
environment's hook-fix lock, and a process that had to wait for it reads what is installed
again before doing anything. A fix's index queries have one total deadline
(`Settings.network_timeout`), after which the import goes on with the installed build.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.abc import Loader
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from wheelmagic.hook.causes import ErrorCause, classify_error
from wheelmagic.hook.finder import PREFIX, WATCHED, RestartRequired, other_finders_spec, say

if TYPE_CHECKING:
    from wheelmagic.app import Checkup, Session
    from wheelmagic.config import Settings
    from wheelmagic.hook.finder import HookFinder
    from wheelmagic.install.execute import Change
    from wheelmagic.install.plan import Plan
    from wheelmagic.pytorch.diagnose import Diagnosis, Fix


@dataclass(frozen=True)
class FixOutcome:
    """What a fix changed, and a line to show."""

    changes: tuple[Change, ...] = ()
    summary: str = ""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.changes]


@dataclass(frozen=True)
class Mismatch:
    """What the hook acts on: a verdict, its reasons and its fix.

    Made from the doctor's `Diagnosis`, or by `repair` when the doctor found nothing wrong
    but the import failed anyway.
    """

    status: str
    reasons: tuple[str, ...]
    fix: Fix | None

    @classmethod
    def of(cls, diagnosis: Diagnosis) -> Mismatch:
        return cls(diagnosis.status, tuple(diagnosis.reasons), diagnosis.fix)

    @property
    def first_reason(self) -> str:
        if self.reasons:
            return self.reasons[0]
        return f"the installed build is {self.status} for this machine"

    def signature(self, cause: ErrorCause | None) -> str:
        """A stable text for "this mismatch": the verdict, its reasons, the fix.

        The error's kind counts only when the doctor itself found nothing wrong: a broken
        build that also fails to import is one mismatch, not two (else it would be fixed
        twice).
        """
        parts = [self.status, *self.reasons, "fix:", *(self.fix.requirements if self.fix else ())]
        if cause is not None and self.status not in ("broken", "suboptimal"):
            parts += ["error:", cause.kind, cause.library or ""]
        return "\n".join(parts)


def repair(checkup: Checkup, name: str, cause: ErrorCause) -> Mismatch | None:
    """The fix for a failed import of `name` that the doctor judged fitting.

    Reinstalls the same release of the same accelerator line (missing or mixed libraries),
    or, for a companion built for another torch, the companion matching the installed torch.
    """
    from wheelmagic.pytorch.diagnose import Fix

    torch = checkup.installed.get("torch")
    if torch is None:
        return None
    if cause.kind == "companion-mismatch" and name != "torch":
        return Mismatch("broken", (cause.summary,), Fix((name,), None, reinstall=True))
    reqs = [f"torch=={torch.version.public}"]
    reqs += [f"{n}=={b.version.public}" for n, b in checkup.installed.items() if n != "torch"]
    return Mismatch("broken", (cause.summary,), Fix(tuple(reqs), torch.variant_label, True))


# -- the real doctor and fixer (the finder's defaults) ----------------------------------------


def run_doctor() -> Checkup:
    """The offline doctor for this interpreter: nothing here touches the network.

    Its verdict is remembered (`wheelmagic.verdict`, fingerprinted *before* the doctor reads
    anything), so the next process's finder can answer "fits" without coming here.
    """
    from wheelmagic import verdict
    from wheelmagic.app import Session

    key, path, before = verdict.hook_fingerprint()
    checkup = Session().doctor(search_path=paths_with_watched_dists())
    verdict.remember_hook(key, path, before, checkup.diagnosis.status)
    return checkup


def paths_with_watched_dists() -> list[str]:
    """The `sys.path` entries (in order) that hold a torch-family dist-info.

    Reading installed metadata parses the METADATA of every distribution on the path it is
    given (a quarter of a second in a big environment, on the path of `import torch`); one
    directory listing per entry is enough to skip the entries that cannot hold a watched
    package. Falls back to the whole `sys.path` when none does.
    """
    prefixes = tuple(f"{n}-" for n in WATCHED)
    out: list[str] = []
    for entry in sys.path:
        path = entry or os.getcwd()
        try:
            names = os.listdir(path)
        except OSError:
            continue
        if any(n.startswith(prefixes) and n.endswith((".dist-info", ".egg-info")) for n in names):
            out.append(path)
    return out or [p or os.getcwd() for p in sys.path]


def run_fix(fix: Fix, settings: Settings) -> FixOutcome:
    """Install `fix` on the configured indexes (``c.Wheelmagic.index_url`` and extras)."""
    from wheelmagic.app import Session
    from wheelmagic.options import Options

    def log(message: str) -> None:
        say(f"{PREFIX} {message}")

    options = Options(
        index_url=settings.index_url,
        extra_index_urls=settings.extra_index_urls,
        prefer=settings.prefer,
    )
    with Session(options) as session:
        plan = plan_within(session, fix, log, settings.network_timeout)
        if plan.nothing_to_do:
            return FixOutcome((), plan.summary())
        result = session.install(plan, log=log)
    return FixOutcome(tuple(result.changed), result.summary())


def plan_within(session: Session, fix: Fix, log: Callable[[str], None], seconds: float) -> Plan:
    """`session.plan_fix(fix)` (the index queries) within `seconds` in all, or `NetworkDeadline`.

    An index that accepts connections and never answers held `import torch` for 91 s (three
    connections, 30 s each): the HTTP layer's timeouts are per request, so the hook bounds
    the whole planning from outside. The planning runs in a daemon thread; when the deadline
    passes, the session's client is closed (which ends the stuck requests as they next touch
    their connection) and the thread's late result, or its late log lines, are dropped. The
    install itself only ever starts here, in the importing thread, after a plan came in time.
    """
    done = threading.Event()
    expired = threading.Event()
    box: dict[str, Plan | BaseException] = {}

    def quiet(message: str) -> None:
        if not expired.is_set():
            log(message)

    def work() -> None:
        try:
            box["plan"] = session.plan_fix(fix, quiet)
        except BaseException as err:  # handed to the importing thread
            box["error"] = err
        finally:
            done.set()

    threading.Thread(target=work, name="wheelmagic-hook-plan", daemon=True).start()
    if not done.wait(seconds):
        expired.set()
        with contextlib.suppress(Exception):
            session.close()
        raise NetworkDeadline(seconds)
    err = box.get("error")
    if isinstance(err, BaseException):
        raise err
    plan = box["plan"]
    assert not isinstance(plan, BaseException)
    return plan


class NetworkDeadline(Exception):
    """The fix's index queries did not finish in the hook's total time."""

    def __init__(self, seconds: float) -> None:
        from wheelmagic.config import ENV_NETWORK_TIMEOUT

        super().__init__(
            f"the index did not answer within {seconds:g}s (the import hook's limit: "
            f"{ENV_NETWORK_TIMEOUT} or c.Wheelmagic.network_timeout); importing the build "
            "that is installed"
        )


class EnvironmentBusy(RestartRequired):
    """Another process is still changing this environment: this import stops, explained.

    A `RestartRequired` (so an `ImportError` the finder lets through) without the restart:
    running the import again once the other process is done is enough.
    """


#: the file `install.lock.environment_lock` writes beside `{prefix}/.wheelmagic.lock` while it
#: holds it (`LOCK_NAME + ".owner"`; tests/unit/test_hardening_policy.py keeps them equal):
#: one stat tells the hook's check that no install is running, without importing `install`
INSTALL_OWNER = ".wheelmagic.lock.owner"


def lock_paths() -> tuple[Path, Path] | None:
    """This environment's install lock (`install.lock`) and the hook's fix lock beside it.

    None when neither the prefix nor the cache can hold a lock file (nothing to coordinate).
    """
    from wheelmagic._fs import cache_dir
    from wheelmagic.install.lock import lock_path

    try:
        path = lock_path(sys.prefix, cache_dir())
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path, path.with_name(path.name + ".hook")


def _owner(lock: Path) -> str:
    """` (pid N, since HH:MM:SS)` from the lock's owner file, or ''."""
    try:
        pid, _, since = lock.with_name(lock.name + ".owner").read_text().strip().partition(" ")
    except OSError:
        return ""
    return f" (pid {pid}, since {since})" if pid else ""


def _shell(ip: object) -> object:
    """The running IPython shell, or None outside IPython (never imports IPython)."""
    if ip is not None:
        return ip
    ipy = sys.modules.get("IPython")
    if ipy is None:
        return None
    try:
        return ipy.get_ipython()  # type: ignore[attr-defined, no-any-return]
    except Exception:
        return None


class Policy:
    """One process's dealings with the watched packages: at most one automatic fix."""

    def __init__(self, finder: HookFinder) -> None:
        self.finder = finder
        self.checkup: Checkup | None = None
        #: what this process's one automatic fix did (never two per process)
        self.fixed: str | None = None
        #: an automatic fix was attempted during the current import (its outcome is reported)
        self.attempted = False
        #: the doctor's fix installed nothing (its build was "already installed")
        self.noop_fix = False
        #: set once this process holds a build that was replaced on disk
        self.restart_pending: str | None = None
        #: this process holds the environment's hook-fix lock (`_exclusive` is re-entrant)
        self._holding = False

    def new_import(self) -> None:
        """Per import: its check and its failure share one report."""
        self.attempted = False

    # -- the seams ---------------------------------------------------------------------------
    def _doctor(self) -> Checkup | None:
        return (self.finder.doctor or run_doctor)()

    def _fixer(self, fix: Fix, settings: Settings) -> FixOutcome:
        return (self.finder.fixer or run_fix)(fix, settings)

    def _settings(self) -> Settings:
        from wheelmagic.config import load_settings

        settings = load_settings(_shell(self.finder.ip))
        for line in settings.warnings:
            say(line)
        return settings

    def _hint(self, m: Mismatch) -> str:
        """The exact thing to run: the magic inside IPython, the command outside."""
        if m.fix is None:
            return "wheelmagic doctor"
        return m.fix.magic() if _shell(self.finder.ip) is not None else m.fix.command()

    # -- before the import ---------------------------------------------------------------------
    def before_import(self, name: str, module: ModuleType) -> Loader | None:
        """Check the installed build; return a new loader when a fix replaced it in place."""
        settings = self._settings()
        if settings.on_mismatch == "off":
            return None
        self._wait_for_installs(name, settings)
        m = self._mismatch()
        if m is None:
            return None
        if self._would_fix(m, settings):
            with self._exclusive(name, settings) as waited:
                if waited:
                    # another process fixed (or tried to fix) this environment while we
                    # waited: judge what is installed now, never what we saw before
                    m = self._mismatch()
                    if m is None and self.checkup is None:
                        return None
                    if m is None:
                        say(
                            f"{PREFIX} another process installed a fitting {name} build "
                            "while this one waited: importing it"
                        )
                        return self._refind(name, module)
                return self._act(name, module, m, settings)
        return self._act(name, module, m, settings)

    def _mismatch(self) -> Mismatch | None:
        """The doctor's verdict now, when it is one to act on (None: fits, or no verdict)."""
        self.checkup = self._doctor()
        if self.checkup is None:
            return None
        m = Mismatch.of(self.checkup.diagnosis)
        return m if m.status in ("suboptimal", "broken") else None

    def _would_fix(self, m: Mismatch, settings: Settings) -> bool:
        return (m.status == "broken" and settings.fixes_broken) or (
            m.status == "suboptimal" and settings.fixes_suboptimal
        )

    def _act(self, name: str, module: ModuleType, m: Mismatch, settings: Settings) -> Loader | None:
        """The policy's answer to a mismatch: a line, or a fix (and then continue or restart)."""
        hint = self._hint(m)
        if m.status == "suboptimal" and not settings.fixes_suboptimal:
            say(f"{PREFIX} {m.first_reason}; for the best build run: {hint}")
            return None
        if m.status == "broken" and not settings.fixes_broken:
            say(
                f"{PREFIX} the installed {name} build does not work on this machine: {m.first_reason}"
            )
            for extra in m.reasons[1:]:
                say(f"  {extra}")
            say(
                f"  to fix it run: {hint}   (policy {settings.on_mismatch!r} from "
                f"{settings.source}: not fixing automatically)"
            )
            return None
        outcome = self._fix(m, settings, name, cause=None)
        if outcome is None:
            return None
        if self._can_continue(outcome, module):
            return self._refind(name, module)
        self._restart(
            f"{', '.join(outcome.names)} replaced while the old build is loaded in this process",
            outcome.names,
        )
        raise RestartRequired(
            f"{PREFIX} {name} was replaced by a fitting build; restart to use it", name=name
        )

    # -- other processes -------------------------------------------------------------------------
    def _wait_for_installs(self, name: str, settings: Settings) -> None:
        """Before reading what is installed: let an install into this environment finish.

        `wheelmagic install` (a terminal, another kernel's fix) holds the environment's lock
        while files are replaced; importing then would load a half-replaced package. Wait for
        it (bounded, said out loud); past the bound, stop the import with an explanation.
        """
        if not os.path.exists(os.path.join(sys.prefix, INSTALL_OWNER)):
            return  # the cheap test first: no install holds the lock (a stat, no imports)
        paths = lock_paths()
        if paths is None:
            return
        with self._locked(paths[0], name, settings, "installing into"):
            pass

    @contextlib.contextmanager
    def _exclusive(self, name: str, settings: Settings) -> Iterator[bool]:
        """Hold this environment's hook-fix lock from the fix's claim to its install.

        Yields True when another process held it first (it may have fixed what we saw).
        Two kernels importing a mismatched torch at once: the second waits here, then
        re-reads what is installed, instead of importing a build being replaced or
        installing the same build again (with two cache directories, two attempt records).
        """
        paths = lock_paths()
        if self._holding or paths is None:
            yield False
            return
        self._holding = True
        try:
            with self._locked(paths[1], name, settings, "fixing") as waited:
                yield waited
        finally:
            self._holding = False

    @contextlib.contextmanager
    def _locked(self, path: Path, name: str, settings: Settings, doing: str) -> Iterator[bool]:
        from filelock import FileLock, Timeout

        lock = FileLock(str(path))
        owner = path.with_name(path.name + ".owner")
        waited = False
        try:
            lock.acquire(timeout=0)
        except Timeout:
            waited = True
            who = _owner(path)
            say(
                f"{PREFIX} another process{who} is {doing} {sys.prefix}; waiting for it "
                f"(up to {settings.lock_wait:g}s) before importing {name} ..."
            )
            try:
                lock.acquire(timeout=settings.lock_wait)
            except Timeout:
                from wheelmagic.config import ENV_LOCK_WAIT

                self.finder._checked = False  # the next import of `name` checks again
                raise EnvironmentBusy(
                    f"{PREFIX} not importing {name}: another process{who} is still {doing} "
                    f"{sys.prefix} after {settings.lock_wait:g}s, and {name} may be half "
                    f"replaced. Import it again when that process is done (raise "
                    f"{ENV_LOCK_WAIT} to wait longer); the lock is {path}",
                    name=name,
                ) from None
            say(f"{PREFIX} the other process is done; reading what is installed now")
        except OSError:
            yield False  # no lock file possible here: nothing to coordinate with
            return
        try:
            if doing == "fixing":
                with contextlib.suppress(OSError):
                    owner.write_text(f"{os.getpid()} {time.strftime('%H:%M:%S')}\n")
            yield waited
        finally:
            if doing == "fixing":
                with contextlib.suppress(OSError):
                    owner.unlink()
            lock.release()

    # -- fixing ----------------------------------------------------------------------------------
    def _fix(
        self, m: Mismatch, settings: Settings, name: str, cause: ErrorCause | None
    ) -> FixOutcome | None:
        """Apply the fix once per mismatch (on-disk record); None when nothing changed.

        Under the environment's hook-fix lock: one process fixes at a time.
        """
        with self._exclusive(name, settings):
            return self._fix_locked(m, settings, name, cause)

    def _fix_locked(
        self, m: Mismatch, settings: Settings, name: str, cause: ErrorCause | None
    ) -> FixOutcome | None:
        from wheelmagic.attempts import Attempts, interpreter_id

        hint = self._hint(m)
        if self.fixed is not None:
            say(
                f"{PREFIX} not fixing {name} again in this process: {self.fixed}; "
                f"if the problem stays after a restart, run: {hint}"
            )
            return None
        if m.fix is None or not m.fix.requirements:
            say(f"{PREFIX} no automatic fix is known for this; run `wheelmagic doctor` for details")
            return None
        signature = m.signature(cause)
        attempts = Attempts()
        interp = interpreter_id()
        claim = attempts.claim(interp, signature)
        if not claim.granted and self.attempted:
            return None  # this process already tried and said how it went: don't repeat it
        if not claim.granted:
            prev = claim.previous
            assert prev is not None
            what = {
                "fixed": "it installed a build but the problem is still here",
                "failed": f"it failed: {prev.detail}" if prev.detail else "it failed",
            }.get(prev.outcome, "it did not finish")
            say(
                f"{PREFIX} not fixing {name} automatically again: the same fix was tried at "
                f"{prev.when()} and {what}.\n  run it by hand: {hint}\n  (attempts are "
                f"recorded in {attempts.path}; delete it to allow another automatic try)"
            )
            return None
        self.attempted = True
        say(
            f"{PREFIX} {m.first_reason}; installing the fitting build "
            f"({', '.join(m.fix.requirements)}) -- policy {settings.on_mismatch!r} from "
            f"{settings.source}"
        )
        try:
            outcome = self._fixer(m.fix, settings)
        except BaseException as err:
            from wheelmagic.index.urls import redact_text

            detail = redact_text(f"{type(err).__name__}: {err}")
            attempts.finish(interp, signature, "failed", detail)
            if not isinstance(err, Exception):
                raise
            say(
                f"{PREFIX} the fix failed; the installed build was left in place.\n"
                f"  {detail}\n  to fix it by hand: {hint}"
            )
            return None
        attempts.finish(interp, signature, "fixed", outcome.summary)
        if outcome.summary:
            say(f"{PREFIX} {outcome.summary}")
        if not outcome.changes:
            self.noop_fix = True
            return None
        self.fixed = outcome.summary or "a fitting build was installed"
        return outcome

    def _can_continue(self, outcome: FixOutcome, module: ModuleType) -> bool:
        """True when nothing of the replaced distributions is loaded (but the module being made)."""
        from wheelmagic.app import restart_needed

        if self.restart_pending is not None:
            return False
        loaded = [n for n, mod in list(sys.modules.items()) if mod is not module]
        return not restart_needed(outcome.changes, loaded)

    def _refind(self, name: str, module: ModuleType) -> Loader:
        """Point `module` at the freshly installed files and return their loader."""
        importlib.invalidate_caches()
        spec = other_finders_spec(name, None, None)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(
                f"{PREFIX} {name} is no longer installed after the fix", name=name
            )
        module.__spec__ = spec
        module.__loader__ = spec.loader
        if spec.origin is not None and spec.has_location:
            module.__file__ = spec.origin
        if spec.submodule_search_locations is not None:
            module.__path__ = list(spec.submodule_search_locations)
        if spec.cached is not None:
            module.__cached__ = spec.cached  # type: ignore[attr-defined]
        say(f"{PREFIX} continuing the import of {name} with the new build")
        return spec.loader

    def _restart(self, reason: str, packages: list[str]) -> None:
        """Restart the kernel; outside one, tell the user (a process never restarts itself).

        `restart_kernel` writes the record the next kernel confirms from, then picks the
        strategy the frontend allows (it only explains where no manager relaunches kernels).
        """
        self.restart_pending = reason
        ip = _shell(self.finder.ip)
        if ip is None:
            say(f"{PREFIX} restart this Python process to use the new build ({reason})")
            return
        from wheelmagic.kernel.restart import restart_kernel

        restart_kernel(reason, packages=packages, ip=ip)

    # -- failed imports ---------------------------------------------------------------------------
    def explain_failure(self, name: str, err: Exception) -> str | None:
        """The note for a failed import of `name` (and, by policy, a fix); None: add nothing."""
        cause = classify_error(err)
        if self.restart_pending is not None:
            return (
                f"{PREFIX} the {name} build was replaced on disk but this process still "
                f"has the old one loaded: restart it ({self.restart_pending})"
            )
        if cause is None:
            return None
        settings = self._settings()
        if settings.on_mismatch == "off":
            return None
        lines = [f"{PREFIX} importing {name} failed because {cause.summary}."]
        checkup = self.checkup if self.checkup is not None else self._doctor()
        self.checkup = checkup
        m = Mismatch.of(checkup.diagnosis) if checkup is not None else None
        if m is not None and m.status in ("broken", "suboptimal"):
            lines.append(f"  the installed build: {m.first_reason}")
        if checkup is not None and (
            m is None or m.status not in ("broken", "suboptimal") or self.noop_fix
        ):
            # the doctor saw nothing wrong, or its fix changed nothing: reinstall what is there
            m = repair(checkup, name, cause) or m
        if m is None or m.fix is None or not m.fix.requirements:
            lines.append("  run `wheelmagic doctor` to see what is installed and what fits")
            return "\n".join(lines)
        hint = self._hint(m)
        if not settings.fixes_broken:
            lines.append(
                f"  to fix it run: {hint}   (policy {settings.on_mismatch!r} from "
                f"{settings.source}: not fixing automatically)"
            )
            return "\n".join(lines)
        if self.fixed is not None:
            lines.append(
                f"  wheelmagic already installed a build in this process ({self.fixed}) "
                f"and its import failed: restart the process; if it fails again run: {hint}"
            )
            return "\n".join(lines)
        outcome = self._fix(m, settings, name, cause)
        if outcome is None:
            lines.append(f"  the build was not changed; to fix it by hand run: {hint}")
            return "\n".join(lines)
        self._restart(
            f"{name} failed to import; installed {', '.join(outcome.names)}", outcome.names
        )
        if _shell(self.finder.ip) is None:
            lines.append(
                f"  wheelmagic installed a fitting build ({outcome.summary}); restart "
                f"this Python process and import {name} again"
            )
        else:
            lines.append(
                f"  wheelmagic installed a fitting build ({outcome.summary}); the "
                "kernel is restarting to load it"
            )
        return "\n".join(lines)
