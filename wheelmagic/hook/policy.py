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
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from importlib.abc import Loader
from types import ModuleType
from typing import TYPE_CHECKING

from wheelmagic.hook.causes import ErrorCause, classify_error
from wheelmagic.hook.finder import PREFIX, WATCHED, RestartRequired, other_finders_spec, say

if TYPE_CHECKING:
    from wheelmagic.app import Checkup
    from wheelmagic.config import Settings
    from wheelmagic.hook.finder import HookFinder
    from wheelmagic.install.execute import Change
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

    options = Options(index_url=settings.index_url, extra_index_urls=settings.extra_index_urls)
    with Session(options) as session:
        plan = session.plan_fix(fix, log)
        if plan.nothing_to_do:
            return FixOutcome((), plan.summary())
        result = session.install(plan, log=log)
    return FixOutcome(tuple(result.changed), result.summary())


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
        checkup = self._doctor()
        self.checkup = checkup
        if checkup is None:
            return None
        m = Mismatch.of(checkup.diagnosis)
        if m.status not in ("suboptimal", "broken"):
            return None
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

    # -- fixing ----------------------------------------------------------------------------------
    def _fix(
        self, m: Mismatch, settings: Settings, name: str, cause: ErrorCause | None
    ) -> FixOutcome | None:
        """Apply the fix once per mismatch (on-disk record); None when nothing changed."""
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
