"""The import hook: check the torch build on its first real import, before any torch code runs.

A finder at ``sys.meta_path[0]`` sees every import of the process, so its ``find_spec`` returns
at once for anything but the watched top-level names (`WATCHED`). For ``torch`` (and its
companions) it asks the *other* finders for the real spec and returns that same spec with its
loader wrapped: the spec's ``origin`` and ``submodule_search_locations`` are untouched, and
probes such as ``importlib.util.find_spec("torch")`` cost a spec lookup and nothing else. Only
``exec_module`` -- the real import -- runs the check:

1. the doctor, offline: `read_installed` + `current_platform` + `supported_properties` +
   `diagnose` (no network on this path);
2. the policy (`wheelmagic.config`: ``WHEELMAGIC_ON_MISMATCH`` / ``c.Wheelmagic.on_mismatch``):
   ``fits`` is silent; ``suboptimal`` prints one line with the exact ``%variant_install``;
   ``broken`` is fixed (``auto``/``fix``), explained (``warn``) or ignored (``off``);
3. a fix is `make_plan` + `execute`. When nothing of the replaced distributions was imported
   yet, the import goes on with the new build (caches invalidated, spec found again); otherwise
   the kernel restarts (`wheelmagic.kernel.restart.restart_kernel`) or, outside a kernel, the
   user is told to restart the process -- C extensions cannot be loaded twice.

When the real import fails (a missing CUDA library, an undefined symbol, a torchvision built
for another torch, a driver that is too old), the error text is mapped to a cause, combined
with the doctor's verdict, and the same policy applies. The *original* exception is re-raised,
unchanged in type, with wheelmagic's explanation added as a note (Python 3.11+; printed on
3.10), so ``except ImportError`` in user code keeps working.

An on-disk record (`wheelmagic.attempts`) stops a second automatic fix of the same mismatch,
so a fix that does not help can never loop through restarts.

This module imports only the standard library at module level; everything else is imported
when a watched package is really being imported.
"""

from __future__ import annotations

import _thread
import sys

# Not `typing.TYPE_CHECKING`: importing typing, dataclasses (and through them inspect) would
# cost plain `python` tens of milliseconds at start-up, on a path every import takes.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, TypeAlias

    from wheelmagic.config import Settings

#: Top-level names whose first real import is checked.
WATCHED: frozenset[str] = frozenset({"torch", "torchvision", "torchaudio"})

#: Top-level modules whose being loaded means a replaced build cannot be used in-process.
_NATIVE_FAMILY: frozenset[str] = WATCHED | {"nvidia", "triton", "cuda"}

_PREFIX = "wheelmagic:"


class RestartRequired(ImportError):
    """The build was replaced but this process still holds the old one: restart it.

    An `ImportError` on purpose: for this process the package is indeed not importable, and
    code that treats torch as optional (``except ImportError``) behaves accordingly.
    """


# -- error text -> cause ----------------------------------------------------------------------


class _Record:
    """A small value class (no dataclasses here: see the imports)."""

    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__
        )

    __hash__ = None  # type: ignore[assignment]


class ErrorCause(_Record):
    """What an import error means, in one sentence, with a short stable kind.

    `kind`: missing-library, no-driver, undefined-symbol, companion-mismatch, driver-too-old,
    gpu-unsupported, rocm-no-binary.
    """

    __slots__ = ("kind", "summary", "library")

    def __init__(self, kind: str, summary: str, library: str | None = None) -> None:
        self.kind = kind
        self.summary = summary
        self.library = library


_CUDA_LIB_PREFIXES = (
    "libcudnn",
    "libcublas",
    "libcudart",
    "libcufft",
    "libcurand",
    "libcusolver",
    "libcusparse",
    "libnccl",
    "libnvjitlink",
    "libnvrtc",
    "libcupti",
    "libnvtoolsext",
    "libcufile",
    "libnvshmem",
    "libcusparselt",
    "libnvtx",
    "libcuda",
    "libamdhip",
    "libhsa",
    "libmiopen",
    "librocm",
    "librccl",
    "libhipblas",
    "libze_",
    "libsycl",
)


def _error_texts(err: BaseException) -> list[str]:
    """The messages of an exception and the ones it was raised from (a bounded walk)."""
    texts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen and len(texts) < 8:
        seen.add(id(cur))
        texts.append(str(cur))
        cur = cur.__cause__ or cur.__context__
    return texts


def classify_error(err: BaseException) -> ErrorCause | None:
    """Map an exception raised while importing torch (or a companion) to a known cause."""
    import re

    for text in _error_texts(err):
        m = re.search(
            r"(lib[\w.+-]*?\.so(?:\.[\d.]+)?|[\w.+-]+\.dll): cannot open shared object file", text
        )
        if m is None:
            m = re.search(r"(?:Could not find module|Error loading) '?\"?([^'\"]+?\.dll)", text)
        if m is not None:
            lib = m.group(1)
            base = lib.rsplit("/", 1)[-1]
            if base.startswith("libcuda.so") or base.lower().startswith("nvcuda"):
                return ErrorCause(
                    "no-driver",
                    f"the NVIDIA driver library {base} is missing: "
                    "this machine has no usable NVIDIA driver for a CUDA build",
                    base,
                )
            accel = base.lower().startswith(_CUDA_LIB_PREFIXES)
            what = "an accelerator library" if accel else "a shared library"
            return ErrorCause(
                "missing-library", f"{what} the installed build needs is missing: {base}", base
            )
        m = re.search(r"undefined symbol: (\S+)", text)
        if m is not None:
            return ErrorCause(
                "undefined-symbol",
                "a compiled library does not match the one it was built against "
                f"(undefined symbol {m.group(1)}): the builds are mixed",
                None,
            )
        m = re.search(r"operator (torch\w*)::(\w+) does not exist", text)
        if m is not None:
            return ErrorCause(
                "companion-mismatch",
                f"{m.group(1)} was built for another torch than the one installed "
                f"(operator {m.group(1)}::{m.group(2)} is missing)",
                None,
            )
        if "The NVIDIA driver on your system is too old" in text:
            m = re.search(r"found version (\d+)", text)
            found = (
                f" (driver supports CUDA {int(m.group(1)) // 1000}.{int(m.group(1)) % 1000 // 10})"
                if m
                else ""
            )
            return ErrorCause(
                "driver-too-old",
                f"the build needs a newer CUDA than the NVIDIA driver offers{found}",
            )
        if "Found no NVIDIA driver on your system" in text:
            return ErrorCause(
                "no-driver", "a CUDA build is installed but there is no NVIDIA driver"
            )
        if (
            "is not compatible with the current PyTorch installation" in text
            or "no kernel image is available for execution on the device" in text
            or "PyTorch no longer supports this GPU" in text
            or "does not include kernels for this GPU" in text
        ):
            return ErrorCause("gpu-unsupported", "the build has no kernels for this GPU")
        if "hipErrorNoBinaryForGpu" in text or "HIP error: invalid device function" in text:
            return ErrorCause("rocm-no-binary", "the ROCm build has no code for this GPU")
    return None


# -- the doctor and the fixer (seams for tests) -------------------------------------------------


class Checkup(_Record):
    """One offline doctor run: the verdict and the facts it was made from (reused by a fix)."""

    __slots__ = ("diagnosis", "installed", "platform", "supported")

    def __init__(
        self, diagnosis: Any, installed: Any = None, platform: Any = None, supported: Any = None
    ) -> None:
        self.diagnosis = diagnosis
        self.installed = installed
        self.platform = platform
        self.supported = supported


class FixOutcome(_Record):
    """What `execute` changed (distribution names, top-level modules) and a line to show."""

    __slots__ = ("changed", "summary", "modules")

    def __init__(
        self, changed: Sequence[str] = (), summary: str = "", modules: Sequence[str] = ()
    ) -> None:
        self.changed = list(changed)
        self.summary = summary
        self.modules = list(modules)


if TYPE_CHECKING:
    Doctor: TypeAlias = Callable[[], "Checkup | None"]
    Fixer: TypeAlias = Callable[[Checkup, "Settings"], FixOutcome]


def run_doctor() -> Checkup | None:
    """The offline doctor for this interpreter: nothing here touches the network."""
    from wheelmagic.installed import read_installed
    from wheelmagic.platform import current_platform
    from wheelmagic.providers import supported_properties
    from wheelmagic.pytorch.diagnose import diagnose

    installed = read_installed(_paths_with_watched_dists())

    platform = current_platform()
    supported = supported_properties(platform)
    return Checkup(diagnose(installed, platform, supported), installed, platform, supported)


def _paths_with_watched_dists() -> list[str]:
    """The `sys.path` entries (in order) that hold a torch-family dist-info.

    `read_installed` parses the METADATA of every distribution on the path it is given (a
    quarter of a second in a big environment, on the path of `import torch`); one directory
    listing per entry is enough to skip the entries that cannot hold a watched package.
    Falls back to the whole `sys.path` when none does.
    """
    import os

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


def run_fix(checkup: Checkup, settings: Settings) -> FixOutcome:
    """Install the doctor's fix through the CLI's own path: `wheelmagic install REQS --variant`.

    The same option parser, index resolution (``c.Wheelmagic.index_url`` acts as
    ``--index-url``), `make_plan` and `execute` as the command line: this is the network part.
    """
    from wheelmagic.commands.install import build_install_parser, make_plan_for
    from wheelmagic.install.execute import execute

    diag = checkup.diagnosis
    argv = [*diag.fix_requirements, "--yes"]
    if getattr(diag, "fix_variant", None):
        argv += ["--variant", str(diag.fix_variant)]
    if getattr(diag, "reinstall", False):
        argv.append("--reinstall")
    if settings.index_url:
        argv += ["--index-url", settings.index_url]
    for url in settings.extra_index_urls:
        argv += ["--extra-index-url", url]
    from wheelmagic.errors import SelectionError

    args = build_install_parser().parse_args(argv)
    try:
        plan, indexes, client = make_plan_for(args)
    except SelectionError as err:
        if not args.variant:
            raise
        # The doctor names the line the way PyTorch's per-backend indexes do (`cpu`, `cu128`);
        # a variant index may label it otherwise (`null`, `cuda12.8`). Without `--variant`
        # the platform's own order still picks a build that fits this machine.
        _say(
            f"{_PREFIX} no build labelled {args.variant!r} ({err.message}); "
            "choosing the best build for this machine instead"
        )
        args.variant = None
        plan, indexes, client = make_plan_for(args)
    try:
        if plan.nothing_to_do:
            return FixOutcome([], plan.summary())
        result = execute(
            plan,
            source=client,  # indexes: the client's own config
            log=lambda m: _say(f"{_PREFIX} {m}"),
        )
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()
    return FixOutcome(
        list(result.changed_names), result.summary(), sorted(result.changed_modules())
    )


class Repair(_Record):
    """A fix made up when the doctor found nothing wrong but the import failed anyway.

    Reinstalls the same release of the same accelerator line (missing or mixed libraries),
    or, for a companion built for another torch, the companion matching the installed torch.
    """

    __slots__ = ("status", "reasons", "fix_requirements", "fix_variant", "reinstall")

    def __init__(
        self,
        status: str,
        reasons: list[str],
        fix_requirements: list[str],
        fix_variant: str | None = None,
        reinstall: bool = True,
    ) -> None:
        self.status = status
        self.reasons = reasons
        self.fix_requirements = fix_requirements
        self.fix_variant = fix_variant
        self.reinstall = reinstall

    @property
    def fix_command(self) -> str:
        tail = f" --variant {self.fix_variant}" if self.fix_variant else ""
        return f"wheelmagic install {' '.join(self.fix_requirements)}{tail} --reinstall"

    @property
    def fix_magic(self) -> str:
        return "%variant_install" + self.fix_command.removeprefix("wheelmagic install")


def repair_for(checkup: Checkup, name: str, cause: ErrorCause) -> Repair | None:
    """The `Repair` for a failed import of `name` that the doctor judged fitting."""
    installed = checkup.installed or {}
    torch = installed.get("torch")
    if torch is None:
        return None
    if cause.kind == "companion-mismatch" and name != "torch":
        return Repair("broken", [cause.summary], [name], None, reinstall=True)
    reqs = [f"torch=={torch.version.public}"]
    reqs += [f"{n}=={b.version.public}" for n, b in installed.items() if n != "torch"]
    return Repair("broken", [cause.summary], reqs, getattr(torch, "variant_label", None))


# -- output --------------------------------------------------------------------------------------


def _say(text: str) -> None:
    """One message to the user: stderr, which a kernel shows in the cell's output."""
    try:
        print(text, file=sys.stderr, flush=True)
    except Exception:  # pragma: no cover - a closed stderr must not break an import
        return


def _add_note(err: BaseException, text: str) -> None:
    """Attach `text` to the original error (3.11+); on 3.10, print it as a block instead."""
    add_note = getattr(err, "add_note", None)
    if add_note is not None:
        try:
            add_note(text)
            return
        except Exception:  # pragma: no cover
            pass
    _say(text)


def _shell(ip: Any) -> Any:
    if ip is not None:
        return ip
    ipy = sys.modules.get("IPython")
    if ipy is None:
        return None
    try:
        return ipy.get_ipython()
    except Exception:
        return None


# -- the finder and the loader -------------------------------------------------------------------


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
    """The `sys.meta_path` finder. `doctor`/`fixer` are seams for tests (defaults: the real ones)."""

    _wheelmagic_hook = True

    def __init__(
        self, ip: Any = None, *, doctor: Doctor | None = None, fixer: Fixer | None = None
    ) -> None:
        self.ip = ip
        self.doctor: Doctor = doctor or run_doctor
        self.fixer: Fixer = fixer or run_fix
        self._lock = _thread.RLock()
        self._busy = False
        self._checked = False
        self._checkup: Checkup | None = None
        #: what this process's one automatic fix did (never two per process)
        self._fixed: str | None = None
        #: an automatic fix was attempted during the current import (its outcome is reported)
        self._attempted = False
        #: the doctor's fix installed nothing (its build was "already installed")
        self._noop_fix = False
        #: set once this process holds a build that was replaced on disk
        self.restart_pending: str | None = None
        #: watched modules that were already imported when the hook was installed
        self.late: tuple[str, ...] = tuple(sorted(n for n in WATCHED if n in sys.modules))

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
        spec = _other_finders_spec(fullname, path, target)
        if spec is None or spec.loader is None or isinstance(spec.loader, _CheckingLoader):
            return spec
        wrapped: Any = _CheckingLoader(self, spec.loader, fullname)
        spec.loader = wrapped
        return spec

    def invalidate_caches(self) -> None:
        """Part of the finder protocol; nothing cached here."""

    # -- exec ---------------------------------------------------------------------------------
    def _exec(self, name: str, real: Any, module: ModuleType) -> None:
        spec = module.__spec__
        # From here on torch sees an ordinary module: its own loader, not ours.
        if spec is not None:
            spec.loader = real
        module.__loader__ = real
        self._attempted = False  # per import: its check and its failure share one report
        loader = self._precheck(name, module)
        if loader is not None:
            real = loader
        try:
            real.exec_module(module)
        except Exception as err:
            self._on_error(name, err)
            raise

    def _precheck(self, name: str, module: ModuleType) -> Any:
        """Run the doctor once per process; return a new loader when a fix replaced the build."""
        with self._lock:
            if self._checked or self._busy:
                return None
            self._checked = True
            self._busy = True
        try:
            return self._check_before(name, module)
        except RestartRequired:
            raise
        except Exception as err:  # the hook must never be why an import fails
            _say(
                f"{_PREFIX} could not check the {name} build ({type(err).__name__}: {err}); "
                "importing it as installed"
            )
            return None
        finally:
            self._busy = False

    def _settings(self) -> Settings:
        from wheelmagic.config import load_settings

        settings = load_settings(_shell(self.ip))
        for line in settings.warnings:
            _say(line)
        return settings

    def _fix_hint(self, diag: Any) -> str:
        """The exact thing to run: the magic inside IPython, the command outside."""
        magic = getattr(diag, "fix_magic", None)
        command = getattr(diag, "fix_command", None)
        if _shell(self.ip) is not None and magic:
            return str(magic)
        return str(command or magic or "wheelmagic doctor")

    def _check_before(self, name: str, module: ModuleType) -> Any:
        settings = self._settings()
        if settings.on_mismatch == "off":
            return None
        checkup = self.doctor()
        self._checkup = checkup
        if checkup is None:
            return None
        diag = checkup.diagnosis
        status = getattr(diag, "status", "fits")
        if status not in ("suboptimal", "broken"):
            return None
        reason = _first_reason(diag)
        hint = self._fix_hint(diag)
        if status == "suboptimal" and not settings.fixes_suboptimal:
            _say(f"{_PREFIX} {reason}; for the best build run: {hint}")
            return None
        if status == "broken" and not settings.fixes_broken:
            _say(f"{_PREFIX} the installed {name} build does not work on this machine: {reason}")
            for extra in list(getattr(diag, "reasons", []) or [])[1:]:
                _say(f"  {extra}")
            _say(
                f"  to fix it run: {hint}   (policy {settings.on_mismatch!r} from "
                f"{settings.source}: not fixing automatically)"
            )
            return None
        outcome = self._fix(checkup, settings, name, cause=None)
        if outcome is None:
            return None
        if self._can_continue(outcome.changed, module, outcome.modules):
            return self._refind(name, module, outcome)
        reason = (
            f"{', '.join(outcome.changed)} replaced while the old build is loaded in this process"
        )
        self._restart(reason, outcome.changed)
        raise RestartRequired(
            f"{_PREFIX} {name} was replaced by a fitting build; restart to use it", name=name
        )

    # -- fixing -------------------------------------------------------------------------------
    def _fix(
        self, checkup: Checkup, settings: Settings, name: str, cause: ErrorCause | None
    ) -> FixOutcome | None:
        """Apply the doctor's fix once per mismatch (on-disk record); None when nothing changed."""
        from wheelmagic.attempts import Attempts, interpreter_id

        diag = checkup.diagnosis
        hint = self._fix_hint(diag)
        requirements = list(getattr(diag, "fix_requirements", None) or [])
        if self._fixed is not None:
            _say(
                f"{_PREFIX} not fixing {name} again in this process: {self._fixed}; "
                f"if the problem stays after a restart, run: {hint}"
            )
            return None
        if not requirements:
            _say(
                f"{_PREFIX} no automatic fix is known for this; run `wheelmagic doctor` for details"
            )
            return None
        signature = mismatch_signature(diag, cause)
        attempts = Attempts()
        interp = interpreter_id()
        claim = attempts.claim(interp, signature)
        if not claim.granted and self._attempted:
            return None  # this process already tried and said how it went: don't repeat it
        if not claim.granted:
            prev = claim.previous
            assert prev is not None
            what = {
                "fixed": "it installed a build but the problem is still here",
                "failed": f"it failed: {prev.detail}" if prev.detail else "it failed",
            }.get(prev.outcome, "it did not finish")
            _say(
                f"{_PREFIX} not fixing {name} automatically again: the same fix was tried at "
                f"{prev.when()} and {what}.\n  run it by hand: {hint}\n  (attempts are "
                f"recorded in {attempts.path}; delete it to allow another automatic try)"
            )
            return None
        self._attempted = True
        _say(
            f"{_PREFIX} {_first_reason(diag)}; installing the fitting build "
            f"({', '.join(requirements)}) -- policy {settings.on_mismatch!r} from {settings.source}"
        )
        try:
            outcome = self.fixer(checkup, settings)
        except BaseException as err:
            detail = f"{type(err).__name__}: {err}"
            attempts.finish(interp, signature, "failed", detail)
            if not isinstance(err, Exception):
                raise
            _say(
                f"{_PREFIX} the fix failed; the installed build was left in place.\n"
                f"  {detail}\n  to fix it by hand: {hint}"
            )
            return None
        attempts.finish(interp, signature, "fixed", outcome.summary)
        if outcome.summary:
            _say(f"{_PREFIX} {outcome.summary}")
        if not outcome.changed:
            self._noop_fix = True
            return None
        self._fixed = outcome.summary or "a fitting build was installed"
        return outcome

    def _can_continue(
        self, changed: Sequence[str], module: ModuleType, modules: Sequence[str] = ()
    ) -> bool:
        """True when no module of the replaced distributions is loaded (but the one being made).

        Python code could be re-run, but a C extension is never loaded twice from one path:
        mixing the old loaded libraries with new files would be worse than a restart.
        """
        if self.restart_pending is not None:
            return False
        loaded = {n: m for n, m in list(sys.modules.items()) if m is not module}
        tops = set(_NATIVE_FAMILY) | {c.replace("-", "_").lower() for c in changed}
        tops |= set(modules)
        if any(n.partition(".")[0] in tops for n in loaded):
            return False
        try:
            from wheelmagic.kernel import imported_modules
        except ImportError:  # pragma: no cover
            return True
        return not imported_modules(changed, modules=loaded)

    def _refind(self, name: str, module: ModuleType, outcome: FixOutcome) -> Any:
        """Point `module` at the freshly installed files and return their loader."""
        import importlib

        importlib.invalidate_caches()
        spec = _other_finders_spec(name, None, None)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(
                f"{_PREFIX} {name} is no longer installed after the fix", name=name
            )
        module.__spec__ = spec
        module.__loader__ = spec.loader
        if spec.origin is not None and spec.has_location:
            module.__file__ = spec.origin
        if spec.submodule_search_locations is not None:
            module.__path__ = list(spec.submodule_search_locations)
        if spec.cached is not None:
            setattr(module, "__cached__", spec.cached)  # noqa: B010
        _say(f"{_PREFIX} continuing the import of {name} with the new build")
        return spec.loader

    def _restart(self, reason: str, packages: Sequence[str]) -> None:
        """Restart the kernel; outside one, tell the user (a process never restarts itself).

        `restart_kernel` writes the record the next kernel confirms from, then picks the
        strategy the frontend allows (it only explains where no manager relaunches kernels).
        """
        self.restart_pending = reason
        ip = _shell(self.ip)
        if ip is None:
            _say(f"{_PREFIX} restart this Python process to use the new build ({reason})")
            return
        from wheelmagic.kernel.restart import restart_kernel

        restart_kernel(reason, packages=list(packages), ip=ip)

    # -- failed imports -------------------------------------------------------------------------
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
            note = self._explain_error(name, err)
        except Exception as inner:  # never hide the original error behind ours
            note = f"{_PREFIX} could not diagnose this error ({type(inner).__name__}: {inner})"
        finally:
            self._busy = False
        if note:
            _add_note(err, note)

    def _explain_error(self, name: str, err: Exception) -> str | None:
        cause = classify_error(err)
        if self.restart_pending is not None:
            return (
                f"{_PREFIX} the {name} build was replaced on disk but this process still "
                f"has the old one loaded: restart it ({self.restart_pending})"
            )
        if cause is None:
            return None
        settings = self._settings()
        if settings.on_mismatch == "off":
            return None
        lines = [f"{_PREFIX} importing {name} failed because {cause.summary}."]
        checkup = self._checkup if self._checkup is not None else self.doctor()
        self._checkup = checkup
        diag = checkup.diagnosis if checkup is not None else None
        status = getattr(diag, "status", None)
        if diag is not None and status in ("broken", "suboptimal"):
            lines.append(f"  the installed build: {_first_reason(diag)}")
        if checkup is not None and (status not in ("broken", "suboptimal") or self._noop_fix):
            # the doctor saw nothing wrong, or its fix changed nothing: reinstall what is there
            repair = repair_for(checkup, name, cause)
            if repair is not None:
                checkup = Checkup(repair, checkup.installed, checkup.platform, checkup.supported)
                diag = repair
        if diag is None or not getattr(diag, "fix_requirements", None):
            lines.append("  run `wheelmagic doctor` to see what is installed and what fits")
            return "\n".join(lines)
        hint = self._fix_hint(diag)
        if not settings.fixes_broken:
            lines.append(
                f"  to fix it run: {hint}   (policy {settings.on_mismatch!r} from "
                f"{settings.source}: not fixing automatically)"
            )
            return "\n".join(lines)
        assert checkup is not None
        if self._fixed is not None:
            lines.append(
                f"  wheelmagic already installed a build in this process ({self._fixed}) "
                f"and its import failed: restart the process; if it fails again run: "
                f"{hint}"
            )
            return "\n".join(lines)
        outcome = self._fix(checkup, settings, name, cause)
        if outcome is None:
            lines.append(f"  the build was not changed; to fix it by hand run: {hint}")
            return "\n".join(lines)
        reason = f"{name} failed to import; installed {', '.join(outcome.changed)}"
        self._restart(reason, outcome.changed)
        if _shell(self.ip) is None:
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


def _first_reason(diag: Any) -> str:
    reasons = list(getattr(diag, "reasons", None) or [])
    if reasons:
        return str(reasons[0])
    return f"the installed build is {getattr(diag, 'status', 'unknown')} for this machine"


def mismatch_signature(diag: Any, cause: ErrorCause | None) -> str:
    """A stable text for "this mismatch": the verdict, its reasons, the fix.

    The error's kind counts only when the doctor itself found nothing wrong: a broken build
    that also fails to import is one mismatch, not two (else it would be fixed twice).
    """
    status = str(getattr(diag, "status", ""))
    parts = [
        status,
        *map(str, getattr(diag, "reasons", None) or []),
        "fix:",
        *map(str, getattr(diag, "fix_requirements", None) or []),
    ]
    if cause is not None and status not in ("broken", "suboptimal"):
        parts += ["error:", cause.kind, cause.library or ""]
    return "\n".join(parts)


def _other_finders_spec(
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


# -- public API -----------------------------------------------------------------------------------


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
