"""The installers wheelmagic drives: `python -m pip` (always there) and `uv pip` (faster).

Both get the staged (non-variant) wheels and an explicit, isolated index configuration: the
indexes wheelmagic planned with, and nothing from pip's or uv's own config files or `PIP_*` /
`UV_*` variables, so the installer resolves dependencies from the same place the plan came from
(a machine-wide pip.conf that adds other indexes or constraints does not leak in).

A variant switch at the same version (torch 2.14.1 `cpu` -> `cuda13.0`) looks "already
satisfied" to pip, so the pip backend runs two steps: a normal install that resolves and
installs the dependencies (pip keeps a same-version local wheel, but resolves *its*
dependencies), then `--force-reinstall --no-deps` for just the switched wheels. uv does both in
one run with `--reinstall-package`. Each step resolves before it changes anything, and pip
puts back a package it had uninstalled when installing its replacement fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from wheelmagic.errors import InstallError
from wheelmagic.index.constraints import ConstraintFile
from wheelmagic.index.urls import redact, redact_text

BACKENDS = ("auto", "pip", "uv")
#: environment variables that would override the explicit configuration we pass
_PIP_PREFIX = "PIP_"
_UV_CONFIG_VARS = (
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_INDEX_STRATEGY",
    "UV_CONSTRAINT",
    "UV_OVERRIDE",
    "UV_PRERELEASE",
    "UV_CONFIG_FILE",
    "UV_SYSTEM_PYTHON",
    "UV_PYTHON",
    "UV_NO_INDEX",
    "UV_OFFLINE",
    "UV_REINSTALL",
    "UV_INSECURE_HOST",
    "UV_EXCLUDE_NEWER",
    "UV_TORCH_BACKEND",
    "UV_NO_DEPS",
)


class IndexSettings(Protocol):
    """What a backend needs from `wheelmagic.index.IndexConfig`."""

    @property
    def index_urls(self) -> tuple[str, ...]: ...
    @property
    def find_links(self) -> tuple[str, ...]: ...
    @property
    def trusted_hosts(self) -> tuple[str, ...]: ...
    @property
    def cert(self) -> str | None: ...
    @property
    def constraints(self) -> tuple[ConstraintFile, ...]: ...


@dataclass(frozen=True)
class InstallRequest:
    """One install into one interpreter."""

    python: str
    #: staged wheels (non-variant filenames), the packages the plan chose
    wheels: tuple[Path, ...]
    #: names whose installed version equals the staged one: reinstall them regardless
    force: tuple[str, ...] = ()
    indexes: IndexSettings | None = None
    pre: bool = False
    #: extra environment for the installer (tests: a cache dir, ...)
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class StepResult:
    argv: list[str]
    returncode: int
    output: str
    seconds: float


class BackendFailed(InstallError):
    """The installer exited non-zero; `output` holds what it said."""

    def __init__(self, message: str, *, hint: str | None, output: str, argv: list[str]) -> None:
        super().__init__(message, hint=hint)
        self.output = output
        self.argv = argv


Log = Callable[[str], None]


def isolated_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without installer configuration, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_PIP_PREFIX) and k not in _UV_CONFIG_VARS
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["UV_NO_CONFIG"] = "1"
    env.update(extra or {})
    return env


def _index_args(ix: IndexSettings | None, *, uv: bool) -> list[str]:
    if ix is None:
        return []
    args: list[str] = []
    if ix.index_urls:
        # URLs with credentials travel in the environment (index_env), never in argv, where
        # every local user could read them from the process list
        if not _has_credentials(ix.index_urls[:1]):
            args += ["--index-url", ix.index_urls[0]]
        if not _has_credentials(ix.index_urls[1:]):
            for url in ix.index_urls[1:]:
                args += ["--extra-index-url", url]
    else:
        args.append("--no-index")
    if not _has_credentials(ix.find_links):
        for link in ix.find_links:
            args += ["--find-links", link]
    for host in ix.trusted_hosts:
        args += ["--allow-insecure-host" if uv else "--trusted-host", host]
    if ix.cert and not uv:
        args += ["--cert", ix.cert]
    # the plan honoured these; the installer, run with an isolated configuration, must too
    # (a dependency it resolves by itself would otherwise escape an admin's cap)
    for constraint in ix.constraints:
        args += ["--constraint", constraint.path]
    return args


def _has_credentials(urls: Sequence[str]) -> bool:
    return any("@" in urlsplit(u).netloc for u in urls)


def index_env(ix: IndexSettings | None, *, uv: bool) -> dict[str, str]:
    """The index URLs and find-links `_index_args` leaves out because they carry a password.

    The environment of a process is readable only by its user (`/proc/PID/environ` is mode
    0400), its argv by everyone (`/proc/PID/cmdline`). pip reads `PIP_FIND_LINKS` as a
    whitespace-separated list, uv reads `UV_FIND_LINKS` comma-separated.
    """
    if ix is None:
        return {}
    env: dict[str, str] = {}
    if _has_credentials(ix.index_urls[:1]):
        env["UV_INDEX_URL" if uv else "PIP_INDEX_URL"] = ix.index_urls[0]
    if _has_credentials(ix.index_urls[1:]):
        env["UV_EXTRA_INDEX_URL" if uv else "PIP_EXTRA_INDEX_URL"] = " ".join(ix.index_urls[1:])
    if _has_credentials(ix.find_links):
        env["UV_FIND_LINKS" if uv else "PIP_FIND_LINKS"] = ("," if uv else " ").join(ix.find_links)
    return env


def _run(argv: list[str], env: Mapping[str, str], log: Log | None) -> StepResult:
    """Run one installer step, relaying its output line by line to `log`."""
    start = time.perf_counter()
    lines: list[str] = []
    try:
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as err:
        raise InstallError(
            f"cannot run {argv[0]}: {err.strerror or err}",
            hint="check the interpreter path or choose --backend pip",
        ) from None
    assert proc.stdout is not None
    try:
        for raw in proc.stdout:
            line = redact_text(raw)  # an installer may quote an index URL with its password
            lines.append(line)
            if log is not None:
                log(line.rstrip("\n"))
        proc.wait()
    except BaseException:
        # Ctrl-C reaches the installer too (same process group) and pip rolls back;
        # wait for it so the environment is settled before we report.
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    return StepResult(argv, proc.returncode, "".join(lines), time.perf_counter() - start)


class Backend:
    """Base class: a named installer with `steps()` to show and `install()` to run."""

    name = "?"

    def steps(self, req: InstallRequest) -> list[list[str]]:
        raise NotImplementedError

    def install(self, req: InstallRequest, *, log: Log | None = None) -> list[StepResult]:
        env = isolated_env({**index_env(req.indexes, uv=self.name == "uv"), **req.env})
        results: list[StepResult] = []
        for argv in self.steps(req):
            res = _run(argv, env, log)
            results.append(res)
            if res.returncode != 0:
                raise _failure(self.name, res, req)
        return results


def _failure(name: str, res: StepResult, req: InstallRequest) -> BackendFailed:
    tail = [ln for ln in res.output.strip().splitlines() if ln.strip()][-12:]
    reason = _diagnose_output(res.output)
    return BackendFailed(
        f"{name} exited with status {res.returncode}{': ' + reason if reason else ''}"
        f" (dependencies from {describe_indexes(req.indexes)})\n    " + "\n    ".join(tail),
        hint=_next_step(reason),
        output=res.output,
        argv=res.argv,
    )


def describe_indexes(ix: IndexSettings | None) -> str:
    """`https://a/simple + https://b/simple + --find-links /x`, for messages."""
    if ix is None:
        return "the installer's defaults"
    parts = [redact(u) for u in ix.index_urls] or ["no index"]
    parts += [f"--find-links {redact(link)}" for link in ix.find_links]
    return " + ".join(parts)


def _diagnose_output(output: str) -> str:
    text = output.lower()
    if (
        "no matching distribution" in text
        or "no solution found" in text
        or "because there is no version of" in text
        or "not found in the package registry" in text
    ):
        return "a dependency is not available on the index"
    if "no space left on device" in text:
        return "the disk is full"
    if "hashes" in text and "do not match" in text:
        return "a downloaded dependency failed its hash check"
    if "externally-managed-environment" in text or "externally managed" in text:
        return "the target interpreter is externally managed (PEP 668)"
    if "permission denied" in text:
        return "permission denied writing to the environment"
    return ""


def _next_step(reason: str) -> str:
    if reason.startswith("a dependency"):
        return (
            "Add the index that has the missing dependency with --extra-index-url, "
            "or check the index with `wheelmagic install --dry-run --explain`."
        )
    if reason == "the disk is full":
        return "Free some space (e.g. `wheelmagic cache clear`) and run the command again."
    if reason.startswith("the target interpreter is externally managed"):
        return "Install into a virtual environment (python -m venv) and pass --python."
    if reason.startswith("permission"):
        return "Use an environment you can write to (a venv), or run with the right user."
    return "See the installer's output above; fix the cause and run the command again."


class PipBackend(Backend):
    """`python -m pip install` in the target (or our pip with `--python` when it has none)."""

    name = "pip"

    def __init__(self, base: Sequence[str] | None = None) -> None:
        self._base = list(base) if base else None

    def base(self, python: str) -> list[str]:
        if self._base is not None:
            return self._base
        if has_pip(python):
            return [python, "-m", "pip"]
        return [sys.executable, "-m", "pip", "--python", python]

    def steps(self, req: InstallRequest) -> list[list[str]]:
        common = [
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--progress-bar",
            "off",
            *_index_args(req.indexes, uv=False),
        ]
        if req.pre:
            common.append("--pre")
        base = self.base(req.python)
        wheels = [str(w) for w in req.wheels]
        steps = [[*base, *common, *wheels]]
        forced = [str(w) for w in req.wheels if _dist_of(w) in set(req.force)]
        if forced:
            steps.append([*base, *common, "--force-reinstall", "--no-deps", *forced])
        return steps


class UvBackend(Backend):
    """`uv pip install --python TARGET`: one step, `--reinstall-package` for switches."""

    name = "uv"

    def __init__(self, uv: str) -> None:
        self.uv = uv

    def steps(self, req: InstallRequest) -> list[list[str]]:
        argv = [
            self.uv,
            "pip",
            "install",
            "--python",
            req.python,
            "--no-config",
            "--index-strategy",
            "unsafe-best-match",
            *_index_args(req.indexes, uv=True),
        ]
        if req.pre:
            argv += ["--prerelease", "allow"]
        for name in req.force:
            argv += ["--reinstall-package", name]
        argv += [str(w) for w in req.wheels]
        return [argv]


def _dist_of(wheel: Path) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(wheel.name.split("-", 1)[0])


def has_pip(python: str) -> bool:
    """Does the target have pip? (A `python -m venv --without-pip` has none.)"""
    try:
        proc = subprocess.run(
            [
                python,
                "-c",
                "import importlib.util,sys;sys.exit(0 if importlib.util.find_spec('pip') else 1)",
            ],
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def find_uv() -> str | None:
    """The uv binary: `WHEELMAGIC_UV`, next to this interpreter, the `uv` package, then PATH."""
    explicit = os.environ.get("WHEELMAGIC_UV")
    if explicit:
        return explicit if os.path.exists(explicit) else None
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.exists():
        return str(beside)
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return str(find_uv_bin())
    except Exception:
        pass
    return shutil.which("uv")


def choose_backend(choice: str = "auto") -> Backend:
    """`auto`: uv when it is available (it is several times faster; see benchmarks), else pip."""
    if choice not in BACKENDS:
        raise InstallError(f"unknown backend {choice!r}", hint="use auto, pip or uv")
    if choice == "pip":
        return PipBackend()
    uv = find_uv()
    if choice == "uv":
        if uv is None:
            raise InstallError(
                "--backend uv was asked for, but no uv binary was found",
                hint="pip install uv, set WHEELMAGIC_UV, or use --backend pip",
            )
        return UvBackend(uv)
    return UvBackend(uv) if uv else PipBackend()


def pip_check(python: str, *, env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """`pip check` in the target: (ok, output)."""
    base = PipBackend().base(python)
    proc = subprocess.run(
        [*base, "check"],
        capture_output=True,
        text=True,
        env=isolated_env(env),
        stdin=subprocess.DEVNULL,
    )
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()
