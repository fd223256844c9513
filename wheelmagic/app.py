"""The application API: the one thing every front end calls.

A front end (the CLI, `%variant_install`, the import hook, `preinstall`) turns its input into
an `Options` and opens a `Session`; the session owns the platform snapshot, the target
interpreter, the index client and the cache, computes each of them once and only when asked,
and closes what it opened. Everything heavy is imported inside the method that needs it, so a
front end that only wants `detect()` never loads the index client or the installer.

    with Session(options) as s:
        plan = s.plan(["torch", "torchvision"])
        result = s.install(plan, progress=renderer.progress)
    restart_needed(result.changed, sys.modules)

Rendering is not done here (that is `wheelmagic.ui`), nor is talking to a kernel.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING

from wheelmagic.options import ENV_PREFER, Options, Prefer

if TYPE_CHECKING:
    from wheelmagic.index import IndexClient
    from wheelmagic.install.execute import Change, ExecuteResult
    from wheelmagic.install.plan import Plan
    from wheelmagic.install.progress import ProgressEvent
    from wheelmagic.installed import InstalledBuild
    from wheelmagic.interpreter import Interpreter
    from wheelmagic.platform.model import Platform
    from wheelmagic.pytorch.diagnose import Diagnosis, Fix
    from wheelmagic.variants.ordering import SupportedProperties

__all__ = ["Checkup", "FitCheck", "Options", "Session", "restart_needed"]

#: one line for the user (a step, the lock wait, a fallback)
Log = Callable[[str], None]


@dataclass(frozen=True)
class Checkup:
    """One offline doctor run: the verdict and the facts it was made from."""

    platform: Platform
    installed: Mapping[str, InstalledBuild]
    diagnosis: Diagnosis


@dataclass(frozen=True)
class FitCheck:
    """Whether the installed builds already satisfy a request and fit this machine, and why."""

    fits: bool
    why: str
    #: the installed builds of the request (torch-family packages only), for the summary
    installed: tuple[InstalledBuild, ...] = ()


class Session:
    """One request's worth of state; a context manager that closes the index client."""

    def __init__(self, options: Options | None = None, *, environ: Mapping[str, str] | None = None):
        self.options = options if options is not None else Options()
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._platform: Platform | None = None
        self._interpreter: Interpreter | None = None
        self._supported: SupportedProperties | None = None
        self._client: IndexClient | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()

    # -- facts, each computed once ------------------------------------------------------------
    @property
    def platform(self) -> Platform:
        """`--platform FILE` > `WHEELMAGIC_PLATFORM` > probing this machine."""
        if self._platform is None:
            from wheelmagic.platform import current_platform

            self._platform = current_platform(self.options.platform_file, self._environ)
        return self._platform

    @property
    def interpreter(self) -> Interpreter:
        if self._interpreter is None:
            from wheelmagic.interpreter import for_python_platform, inspect_interpreter

            self._interpreter = inspect_interpreter(self.options.python)
            if self.options.python_platform:
                self._interpreter = for_python_platform(
                    self._interpreter, self.options.python_platform
                )
        return self._interpreter

    @property
    def prefer(self) -> Prefer:
        """`--prefer` > `WHEELMAGIC_PREFER` > "fit" (an unknown value in the environment: "fit")."""
        if self.options.prefer is not None:
            return self.options.prefer
        return "newest" if self._environ.get(ENV_PREFER, "").strip() == "newest" else "fit"

    @property
    def supported(self) -> SupportedProperties:
        if self._supported is None:
            from wheelmagic.providers import supported_properties

            self._supported = supported_properties(self.platform)
        return self._supported

    @property
    def client(self) -> IndexClient:
        """The index client (opened on first use; the session closes it)."""
        if self._client is None:
            from wheelmagic._fs import cache_dir
            from wheelmagic.index import IndexClient, resolve_indexes

            o = self.options
            if o.installer == "auto":
                from wheelmagic.install.backends import find_uv

                uv = find_uv() is not None
            else:
                uv = o.installer == "uv"
            config = resolve_indexes(
                o.index_url,
                list(o.extra_index_urls),
                trusted_hosts=list(o.trusted_hosts),
                find_links=list(o.find_links),
                torch_backend=o.torch_backend,
                env=self._environ,
                target_python=self.interpreter.executable,
                uv=uv,
            )
            self._client = IndexClient(config, cache_dir(), supported=self.supported)
        return self._client

    # -- the verbs ----------------------------------------------------------------------------
    def detect(self) -> Platform:
        return self.platform

    def doctor(
        self, packages: Sequence[str] = (), *, search_path: Sequence[str] | None = None
    ) -> Checkup:
        """Judge the installed torch family against this platform; offline, nothing imported.

        `search_path` replaces the target interpreter's `sys.path` (the import hook passes
        only the entries that hold a watched package, which is much faster to read).
        """
        from wheelmagic.installed import DEFAULT_PACKAGES, read_installed
        from wheelmagic.pytorch.diagnose import diagnose

        names = list(packages) or list(DEFAULT_PACKAGES)
        if search_path is not None:
            installed = read_installed(search_path, names)
            where = None
        else:
            installed = read_installed(self.interpreter, names)
            where = self.interpreter.executable
        diagnosis = diagnose(installed, self.platform, self.supported, where=where)
        return Checkup(self.platform, installed, diagnosis)

    def check_fits(self, requirements: Sequence[str]) -> FitCheck:
        """Does what is installed satisfy `requirements` and fit this machine? Disk only.

        The fast answer of `preinstall`: no index client is created.
        """
        from packaging.utils import canonicalize_name
        from packaging.version import InvalidVersion, Version

        from wheelmagic.install.lock import installed_dists
        from wheelmagic.install.plan import parse_requirements
        from wheelmagic.installed import DEFAULT_PACKAGES, read_installed

        o = self.options
        if o.reinstall:
            return FitCheck(False, "reinstall requested")
        if o.variant:
            return FitCheck(False, f"variant {o.variant} asked")
        reqs = parse_requirements(requirements)
        interpreter = self.interpreter
        names = list(dict.fromkeys([*DEFAULT_PACKAGES, *(r.name for r in reqs)]))
        builds = read_installed(interpreter, names)
        others = None
        for req in reqs:
            if req.marker is not None and not req.marker.evaluate(dict(interpreter.marker_env)):
                continue
            build = builds.get(canonicalize_name(req.name))
            if build is not None:
                version, shown = build.full_version, build.describe()
            else:  # not a PyTorch package: its dist-info is all we need
                if others is None:
                    others = installed_dists(interpreter.search_path)
                dist = others.get(canonicalize_name(req.name))
                if dist is None:
                    return FitCheck(False, f"{req.name} is not installed")
                try:
                    version, shown = Version(dist.version), f"{dist.name} {dist.version}"
                except InvalidVersion:
                    return FitCheck(
                        False, f"{dist.name} has an unreadable version {dist.version!r}"
                    )
            if not req.specifier.contains(version, prereleases=True):
                return FitCheck(False, f"{shown} does not satisfy {req}")
        from wheelmagic.pytorch.diagnose import diagnose

        # judged on the builds read above: reading every dist-info again costs as much again
        diagnosis = diagnose(builds, self.platform, self.supported, where=interpreter.executable)
        if diagnosis.status != "fits":
            return FitCheck(False, "; ".join(diagnosis.reasons) or diagnosis.status)
        mine = tuple(
            builds[canonicalize_name(r.name)] for r in reqs if canonicalize_name(r.name) in builds
        )
        shown = ", ".join(b.describe() for b in mine)
        return FitCheck(True, f"{shown} already fits this machine", mine)

    def plan(self, requirements: Sequence[str]) -> Plan:
        """The best builds for `requirements` on this platform; raises `SelectionError`."""
        return self._plan(requirements, self.options.variant, self.options.reinstall)

    def plan_fix(self, fix: Fix, log: Log | None = None) -> Plan:
        """The plan for a doctor's `Fix` (its requirements, variant and reinstall).

        The doctor names the accelerator line the way PyTorch's per-backend indexes do (`cpu`,
        `cu128`); a variant index may have no build under that name. Then the platform's own
        order still picks a build that fits this machine, and `log` is told.
        """
        from wheelmagic.errors import SelectionError

        try:
            return self._plan(fix.requirements, fix.variant, fix.reinstall)
        except SelectionError as err:
            if not fix.variant:
                raise
            if log is not None:
                log(
                    f"no build labelled {fix.variant!r} ({err.message}); "
                    "choosing the best build for this machine instead"
                )
            return self._plan(fix.requirements, None, fix.reinstall)

    def _plan(self, requirements: Sequence[str], variant: str | None, reinstall: bool) -> Plan:
        from wheelmagic.install.plan import make_plan, parse_requirements
        from wheelmagic.installed import DEFAULT_PACKAGES, plan_installed, read_installed
        from wheelmagic.pytorch.companions import PYTORCH_COMPANIONS
        from wheelmagic.pytorch.fit import fit_policy

        names = [r.name for r in parse_requirements(requirements)]
        # the torch family too: a package built against torch must match the installed one
        names += [n for n in DEFAULT_PACKAGES if n not in names]
        installed = plan_installed(read_installed(self.interpreter, names))
        return make_plan(
            list(requirements),
            platform=self.platform,
            interpreter=self.interpreter,
            source=self.client,
            companions=PYTORCH_COMPANIONS,
            supported=self.supported,
            variant_label=variant,
            prereleases=True if self.options.pre else None,
            installed=installed,
            reinstall=reinstall,
            fit=fit_policy(self.platform),
            prefer_newest=self.prefer == "newest",
        )

    def install(
        self,
        plan: Plan,
        *,
        progress: Callable[[ProgressEvent], None] | None = None,
        log: Log | None = None,
        installer_output: Log | None = None,
    ) -> ExecuteResult:
        """Download, verify, stage and install `plan` under the environment lock.

        Raises `DownloadError` (nothing touched) or `InstallError` (the previous build kept).
        """
        from wheelmagic.install.cache import WheelCache
        from wheelmagic.install.execute import execute

        if self.options.python_platform:
            from wheelmagic.errors import WheelmagicError

            raise WheelmagicError(
                f"--python-platform {self.options.python_platform} plans for another machine; "
                "nothing can be installed here with it",
                hint="add --dry-run to see the plan, or run without --python-platform",
            )
        result = execute(
            plan,
            indexes=self.client.config,
            source=self.client,
            backend=self.options.installer,
            pre=self.options.pre,
            progress=progress,
            log=log,
            installer_output=installer_output,
            env=self._environ,
        )
        # staged wheels older than the installed build and the one before it serve nothing
        from wheelmagic._fs import cache_dir

        WheelCache(cache_dir()).trim_staged()
        return result


#: Top-level modules that start-up hooks import into every process and that the user's code
#: does not use: a new copy on disk changes nothing this process runs, so replacing their
#: distribution (torch depends on setuptools; pip and wheel come with every venv) needs no
#: restart. A user who imported `setuptools`, `pkg_resources` or `pip._internal` themselves
#: still gets one through those names (only these exact top-level names are exempt).
STARTUP_ONLY_MODULES: dict[str, str] = {
    "_distutils_hack": "setuptools' distutils-precedence.pth imports it at every start; it "
    "only redirects a later `import distutils` to setuptools' copy",
    "pip": "loaded only by tools that drive pip in-process; installers run pip as a new process",
    "wheel": "a build tool (bdist_wheel); loaded by builds, not by the code a notebook runs",
}


def restart_needed(changes: Iterable[Change], loaded: Collection[str]) -> dict[str, list[str]]:
    """For each changed distribution, its top-level modules already imported in this process.

    Empty: the new files can be imported now. Otherwise a new process is needed: Python code
    could be re-run, but a C extension is never loaded twice from one path, and mixing the
    old loaded libraries with new files would be worse than a restart. `loaded` is a
    `sys.modules` (or its keys); a top-level name is enough, because importing ``a.b`` always
    imports ``a`` first. `STARTUP_ONLY_MODULES` never count. The one place this decision is
    made (magics, hook and CLI ask here).
    """
    tops = {name.partition(".")[0] for name in loaded} - set(STARTUP_ONLY_MODULES)
    out: dict[str, list[str]] = {}
    for change in changes:
        modules = change.modules or (change.name.replace("-", "_").lower(),)
        hits = sorted(m for m in modules if m in tops)
        if hits:
            out[change.name] = hits
    return out
