"""The import hook's finder: the only part of the hook on every import of the process.

A finder at ``sys.meta_path[0]`` sees every import, so `find_spec` returns at once for
anything but the watched top-level names (`WATCHED`). For ``torch`` (and its companions) it
asks the *other* finders for the real spec and returns that same spec with its loader
wrapped: ``origin`` and ``submodule_search_locations`` are untouched, so probes such as
``importlib.util.find_spec("torch")`` cost a spec lookup and nothing else. Only
``exec_module`` -- the real import -- runs the check, which lives in `wheelmagic.hook.policy`
and is imported then.

Standard library only, and not even `typing` or `dataclasses` (importing them would cost
plain ``python`` tens of milliseconds at start-up, on a path every import takes).
"""

from __future__ import annotations

import _thread
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

    from wheelmagic.app import Checkup
    from wheelmagic.config import Settings
    from wheelmagic.hook.policy import FixOutcome, Policy
    from wheelmagic.pytorch.diagnose import Fix

    Doctor = Callable[[], "Checkup | None"]
    Fixer = Callable[[Fix, Settings], FixOutcome]

#: Top-level names whose first real import is checked.
WATCHED: frozenset[str] = frozenset({"torch", "torchvision", "torchaudio"})

PREFIX = "wheelmagic:"


class RestartRequired(ImportError):
    """The build was replaced but this process still holds the old one: restart it.

    An `ImportError` on purpose: for this process the package is indeed not importable, and
    code that treats torch as optional (``except ImportError``) behaves accordingly.
    """


def say(text: str) -> None:
    """One message to the user: stderr, which a kernel shows in the cell's output."""
    try:
        print(text, file=sys.stderr, flush=True)
    except Exception:  # pragma: no cover - a closed stderr must not break an import
        return


def other_finders_spec(
    fullname: str, path: Sequence[str] | None, target: ModuleType | None
) -> ModuleSpec | None:
    """The spec the rest of `sys.meta_path` gives (skipping every wheelmagic hook)."""
    for finder in list(sys.meta_path):
        if getattr(finder, "_wheelmagic_hook", False):
            continue
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        spec = find(fullname, path, target)
        if spec is not None:
            return spec  # type: ignore[no-any-return]
    return None


class _CheckingLoader:
    """Wraps the real loader; `exec_module` checks first, then runs the real one."""

    def __init__(self, hook: HookFinder, real: Any, name: str) -> None:
        self._wm_hook = hook
        self._wm_real = real
        self._wm_name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._wm_real, attr)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self._wm_real, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        self._wm_hook._exec(self._wm_name, self._wm_real, module)

    def __repr__(self) -> str:
        return f"<wheelmagic checking loader for {self._wm_real!r}>"


class HookFinder:
    """The `sys.meta_path` finder. `doctor`/`fixer` are seams for tests (None: the real ones)."""

    _wheelmagic_hook = True

    def __init__(
        self, ip: Any = None, *, doctor: Doctor | None = None, fixer: Fixer | None = None
    ) -> None:
        self.ip = ip
        self.doctor = doctor
        self.fixer = fixer
        self._lock = _thread.RLock()
        self._busy = False
        self._checked = False
        self._policy: Policy | None = None
        #: watched modules that were already imported when the hook was installed
        self.late: tuple[str, ...] = tuple(sorted(n for n in WATCHED if n in sys.modules))

    @property
    def restart_pending(self) -> str | None:
        """Why this process must restart (it holds a build that was replaced on disk)."""
        return self._policy.restart_pending if self._policy is not None else None

    def policy(self) -> Policy:
        """What to do about a mismatch; imported on the first real import of a watched name."""
        if self._policy is None:
            from wheelmagic.hook.policy import Policy

            self._policy = Policy(self)
        return self._policy

    # The hot path: every import of the process that misses sys.modules comes here.
    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in WATCHED:
            return None
        return self._find(fullname, path, target)

    def _find(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        if self._busy or fullname in sys.modules:
            return None
        spec = other_finders_spec(fullname, path, target)
        if spec is None or spec.loader is None or isinstance(spec.loader, _CheckingLoader):
            return spec
        wrapped: Any = _CheckingLoader(self, spec.loader, fullname)
        spec.loader = wrapped
        return spec

    def invalidate_caches(self) -> None:
        """Part of the finder protocol; nothing cached here."""

    def _exec(self, name: str, real: Any, module: ModuleType) -> None:
        spec = module.__spec__
        # From here on torch sees an ordinary module: its own loader, not ours.
        if spec is not None:
            spec.loader = real
        module.__loader__ = real
        if self._policy is not None:
            self._policy.new_import()
        loader = self._precheck(name, module)
        if loader is not None:
            real = loader
        try:
            real.exec_module(module)
        except Exception as err:
            self._on_error(name, err)
            raise

    def _precheck(self, name: str, module: ModuleType) -> Any:
        """Check once per process; return a new loader when a fix replaced the build."""
        with self._lock:
            if self._checked or self._busy:
                return None
            self._checked = True
            self._busy = True
        try:
            if self.doctor is None and _remembered_fits():
                return None
            return self.policy().before_import(name, module)
        except RestartRequired:
            raise
        except Exception as err:  # the hook must never be why an import fails
            say(
                f"{PREFIX} could not check the {name} build ({type(err).__name__}: {err}); "
                "importing it as installed"
            )
            return None
        finally:
            self._busy = False

    def _on_error(self, name: str, err: Exception) -> None:
        """Explain (and by policy fix) a failed import; the caller re-raises `err` itself."""
        if getattr(err, "_wheelmagic_seen", False):
            return
        try:
            err._wheelmagic_seen = True  # type: ignore[attr-defined]
        except Exception:  # pragma: no cover
            return
        if self._busy:
            return
        self._busy = True
        try:
            note = self.policy().explain_failure(name, err)
        except Exception as inner:  # never hide the original error behind ours
            note = f"{PREFIX} could not diagnose this error ({type(inner).__name__}: {inner})"
        finally:
            self._busy = False
        if note:
            add_note(err, note)


def _remembered_fits() -> bool:
    """This interpreter's last check said "fits" and nothing it depended on changed.

    `wheelmagic.verdict` (standard library only) answers from a few stats and listings; then
    the policy, the doctor, `packaging` and the GPU probes are not even imported.
    """
    try:
        from wheelmagic.verdict import hook_fits

        return hook_fits()
    except Exception:  # a broken record must never cost more than the full check
        return False


def add_note(err: BaseException, text: str) -> None:
    """Attach `text` to the original error (3.11+); on 3.10, print it as a block instead."""
    add = getattr(err, "add_note", None)
    if add is not None:
        try:
            add(text)
            return
        except Exception:  # pragma: no cover
            pass
    say(text)


def installed_hook() -> HookFinder | None:
    for finder in sys.meta_path:
        if getattr(finder, "_wheelmagic_hook", False):
            return finder  # type: ignore[return-value]
    return None


def install(
    ip: Any = None, *, doctor: Doctor | None = None, fixer: Fixer | None = None
) -> HookFinder:
    """Put the hook at ``sys.meta_path[0]`` (once); returns it.

    ``hook.late`` lists watched packages that were already imported: those cannot be checked
    in this process (the caller may tell the user to restart to have them checked).
    """
    hook = installed_hook()
    if hook is None:
        hook = HookFinder(ip, doctor=doctor, fixer=fixer)
        sys.meta_path.insert(0, hook)
    else:
        if ip is not None:
            hook.ip = ip
        if doctor is not None:
            hook.doctor = doctor
        if fixer is not None:
            hook.fixer = fixer
        if sys.meta_path[0] is not hook:
            sys.meta_path.remove(hook)
            sys.meta_path.insert(0, hook)
    return hook


def uninstall() -> bool:
    """Remove every wheelmagic hook from `sys.meta_path`; True when one was there."""
    before = len(sys.meta_path)
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "_wheelmagic_hook", False)]
    return len(sys.meta_path) != before
