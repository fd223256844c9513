"""The target interpreter: its version, wheel tags, marker environment and where it installs.

Why a subprocess for any interpreter other than this one: the tags, markers and
site-packages that matter are the *target's* (a kernel's venv, `--python PATH`), and only
that interpreter can compute them. It may not have `packaging` installed, so the probe puts
the directory that holds *our* `packaging` on its `sys.path` first. Results are cached per
executable path and modification time for the life of the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import packaging
from packaging.tags import Tag
from packaging.version import InvalidVersion, Version

from wheelmagic.errors import WheelmagicError

#: Seconds a target interpreter gets to answer the probe (a cold start on a slow disk).
PROBE_TIMEOUT = 30.0


class InterpreterError(WheelmagicError):
    """The path given as an interpreter is not a working Python."""


@dataclass(frozen=True)
class Interpreter:
    """What wheelmagic needs to know about one Python, read once."""

    executable: str
    python_version: Version
    implementation: str
    #: supported wheel tags, best first (`packaging.tags.sys_tags()` run *in* the target)
    tags: tuple[Tag, ...] = field(repr=False)
    #: `packaging.markers.default_environment()` of the target
    marker_env: Mapping[str, str] = field(repr=False, compare=False, hash=False)
    purelib: str = ""
    platlib: str = ""
    #: the target's `sys.path` as `import` sees it (no cwd entry)
    sys_path: tuple[str, ...] = field(default=(), repr=False)
    sys_prefix: str = ""
    base_prefix: str = ""
    is_venv: bool = False

    @property
    def site_packages(self) -> tuple[str, ...]:
        """purelib and platlib, without duplicates: where installers put packages."""
        return tuple(dict.fromkeys(p for p in (self.purelib, self.platlib) if p))

    @property
    def search_path(self) -> tuple[str, ...]:
        """Where `import torch` would look, in order: sys.path, else the site-packages."""
        return self.sys_path or self.site_packages

    def to_json(self) -> dict[str, Any]:
        return {
            "executable": self.executable,
            "python_version": str(self.python_version),
            "implementation": self.implementation,
            "tags": [str(t) for t in self.tags[:5]],
            "purelib": self.purelib,
            "platlib": self.platlib,
            "sys_prefix": self.sys_prefix,
            "is_venv": self.is_venv,
        }


#: Runs inside the target. argv[1] is the directory that holds our `packaging`; it goes
#: first on sys.path so that the target need not have packaging, and is not reported.
_PROBE = r"""
import json, sys, sysconfig
path = [p for p in sys.path if p]
sys.path.insert(0, sys.argv[1])
from packaging.markers import default_environment
from packaging.tags import sys_tags
paths = sysconfig.get_paths()
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "implementation": sys.implementation.name,
    "tags": [str(t) for t in sys_tags()],
    "marker_env": default_environment(),
    "purelib": paths.get("purelib", ""),
    "platlib": paths.get("platlib", ""),
    "sys_path": path,
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
}))
"""

_cache: dict[tuple[str, int], Interpreter] = {}


def _packaging_root() -> str:
    """The directory that contains the `packaging` package we import."""
    return os.path.dirname(os.path.dirname(os.path.abspath(packaging.__file__)))


def _current() -> Interpreter:
    import sysconfig

    from packaging.markers import default_environment
    from packaging.tags import sys_tags

    paths = sysconfig.get_paths()
    return Interpreter(
        executable=sys.executable,
        python_version=Version(".".join(map(str, sys.version_info[:3]))),
        implementation=sys.implementation.name,
        tags=tuple(sys_tags()),
        marker_env={k: str(v) for k, v in default_environment().items()},
        purelib=paths.get("purelib", ""),
        platlib=paths.get("platlib", ""),
        sys_path=tuple(p for p in sys.path if p),
        sys_prefix=sys.prefix,
        base_prefix=sys.base_prefix,
        is_venv=sys.prefix != sys.base_prefix,
    )


def _from_probe(requested: str, data: Mapping[str, Any]) -> Interpreter:
    try:
        tags: list[Tag] = []
        for text in data["tags"]:
            interpreter, abi, plat = text.split("-")
            tags.append(Tag(interpreter, abi, plat))
        prefix = str(data["prefix"])
        base = str(data["base_prefix"])
        return Interpreter(
            # Keep the path we were given: a venv's python is often a symlink to the base
            # interpreter, and resolving it would lose the venv.
            executable=requested,
            python_version=Version(str(data["version"])),
            implementation=str(data["implementation"]),
            tags=tuple(tags),
            marker_env={str(k): str(v) for k, v in data["marker_env"].items()},
            purelib=str(data["purelib"]),
            platlib=str(data["platlib"]),
            sys_path=tuple(str(p) for p in data["sys_path"]),
            sys_prefix=prefix,
            base_prefix=base,
            is_venv=prefix != base,
        )
    except (KeyError, TypeError, ValueError, AttributeError, InvalidVersion) as err:
        raise InterpreterError(
            f"{requested}: the interpreter answered the probe with data wheelmagic cannot read "
            f"({type(err).__name__}: {err})",
            hint="check that it is a CPython or PyPy 3.8+ interpreter",
        ) from None


def _probe(python: str, timeout: float) -> Interpreter:
    hint = "pass --python the path of a working interpreter, e.g. /path/to/venv/bin/python"
    try:
        proc = subprocess.run(
            [python, "-c", _PROBE, _packaging_root()],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise InterpreterError(
            f"{python}: the interpreter did not answer within {timeout:g}s", hint=hint
        ) from None
    except OSError as err:
        raise InterpreterError(
            f"{python}: not a working Python interpreter ({err.strerror or err})", hint=hint
        ) from None
    if proc.returncode != 0:
        said = proc.stderr or proc.stdout
        if _echoes_probe(said):
            # not Python: a program that took the probe for a file name (`--python /bin/ls`)
            detail = "; it does not run Python code given with -c"
        else:
            tail = [line[:200] for line in said.strip().splitlines()[-3:]]
            detail = f": {' / '.join(tail)}" if tail else ""
        raise InterpreterError(
            f"{python}: not a working Python interpreter (exit status {proc.returncode}"
            + detail
            + ")",
            hint=hint,
        )
    lines = proc.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise InterpreterError(
            f"{python}: the interpreter ran but did not print the probe's answer", hint=hint
        )
    return _from_probe(python, data)


def _echoes_probe(text: str) -> bool:
    """Whether a program's output repeats the probe script (it read it as an argument)."""
    return any(line.strip() and line.strip() in text for line in _PROBE.splitlines()[1:4])


def inspect_interpreter(
    python: str | None = None, *, timeout: float = PROBE_TIMEOUT
) -> Interpreter:
    """The interpreter at `python` (default: this one), inspected once per path and mtime.

    `python` is a path, or a command name looked up on PATH (`python3.11`), as pip and uv take.
    """
    if python is not None:
        python = _on_path(python)
    current = python is None or os.path.abspath(python) == os.path.abspath(sys.executable)
    path = sys.executable if current or python is None else os.path.abspath(python)
    try:
        mtime = os.stat(path).st_mtime_ns
    except OSError as err:
        raise InterpreterError(
            f"{python or path}: no such interpreter ({err.strerror or err})",
            hint="pass --python the path of a working interpreter, e.g. /path/to/venv/bin/python",
        ) from None
    key = (path, mtime)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    result = _current() if current else _probe(path, timeout)
    _cache[key] = result
    return result


def _on_path(python: str) -> str:
    """A bare command name (`python3.11`, no directory part) that is not a file here -> its path
    on PATH (kept unresolved: a venv's `bin/python` symlink must stay the venv's)."""
    seps = [os.sep, *([os.altsep] if os.altsep else [])]
    if any(s in python for s in seps) or os.path.exists(python):
        return python
    import shutil

    found = shutil.which(python)
    if found is None:
        raise InterpreterError(
            f"{python}: no such interpreter (not a file, and no command of that name on PATH)",
            hint="pass --python a path (/path/to/venv/bin/python) or a command on PATH "
            "(python3.11)",
        )
    return found


def clear_cache() -> None:
    """Forget every inspected interpreter (tests; after an interpreter was replaced)."""
    _cache.clear()


# -- planning for another platform (`--python-platform`) --------------------------------------

#: uv's `--python-platform` names (https://docs.astral.sh/uv/reference/cli/#uv-pip-install
#: --python-platform) -> (os, arch, wheel platform tags best first). Defaults as uv's: glibc
#: 2.28 for `*-unknown-linux-gnu`, macOS 13.0 for `*-apple-darwin`.
_ALIASES = {
    "linux": "x86_64-unknown-linux-gnu",
    "macos": "aarch64-apple-darwin",
    "windows": "x86_64-pc-windows-msvc",
}
_MARKERS = {
    "linux": {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
    "macos": {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
    "windows": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
}
#: `platform.machine()` as each OS spells the architecture
_MACHINE = {
    ("linux", "x86_64"): "x86_64",
    ("linux", "aarch64"): "aarch64",
    ("macos", "x86_64"): "x86_64",
    ("macos", "aarch64"): "arm64",
    ("windows", "x86_64"): "AMD64",
    ("windows", "aarch64"): "ARM64",
}
PYTHON_PLATFORMS = (
    *_ALIASES,
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-manylinux_2_XX",
    "aarch64-manylinux_2_XX",
    "aarch64-apple-darwin",
    "x86_64-apple-darwin",
    "x86_64-pc-windows-msvc",
    "aarch64-pc-windows-msvc",
)


def python_platform(name: str) -> tuple[str, str, list[str]]:
    """(os, arch, wheel platform tags best first) for a uv `--python-platform` name."""
    from packaging.tags import mac_platforms

    spec = _ALIASES.get(name, name)
    arch, _, rest = spec.partition("-")
    if arch not in ("x86_64", "aarch64"):
        raise WheelmagicError(
            f"--python-platform {name}: unknown architecture {arch!r}",
            hint="use one of: " + ", ".join(PYTHON_PLATFORMS),
        )
    glibc = 28 if rest == "unknown-linux-gnu" else None
    if rest.startswith("manylinux_2_") and rest[len("manylinux_2_") :].isdigit():
        glibc = int(rest[len("manylinux_2_") :])
    if glibc is not None:
        tags = [f"manylinux_2_{m}_{arch}" for m in range(glibc, 16, -1)]
        tags += [f"manylinux2014_{arch}", f"linux_{arch}"]
        return "linux", arch, tags
    if rest == "apple-darwin":
        mac_arch = "arm64" if arch == "aarch64" else "x86_64"
        return "macos", arch, list(mac_platforms((13, 0), mac_arch))
    if rest == "pc-windows-msvc":
        return "windows", arch, ["win_arm64" if arch == "aarch64" else "win_amd64"]
    raise WheelmagicError(
        f"--python-platform {name}: not a platform wheelmagic knows",
        hint="use one of: " + ", ".join(PYTHON_PLATFORMS),
    )


def for_python_platform(interp: Interpreter, name: str) -> Interpreter:
    """`interp` as if it ran on the platform `name`: same Python, that platform's wheel tags
    and markers (for planning only: nothing can be installed into it from here)."""
    from dataclasses import replace

    from packaging.tags import compatible_tags, cpython_tags

    os_name, arch, platforms = python_platform(name)
    version = (interp.python_version.major, interp.python_version.minor)
    if interp.implementation == "cpython":
        nodot = f"{version[0]}{version[1]}"
        tags = [*cpython_tags(version, [f"cp{nodot}"], platforms)]
        tags += compatible_tags(version, f"cp{nodot}", platforms)
    else:
        tags = list(compatible_tags(version, None, platforms))
    markers = dict(interp.marker_env)
    markers.update(_MARKERS[os_name])
    markers["platform_machine"] = _MACHINE[(os_name, arch)]
    return replace(interp, tags=tuple(tags), marker_env=markers)


def platform_mismatch(
    platform_os: str | None, platform_arch: str | None, interp: Interpreter
) -> str | None:
    """A warning when a platform snapshot describes another OS or architecture than the
    target interpreter's tags (`--platform` alone does not change the wheel tags)."""
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(
        interp.marker_env.get("sys_platform", ""), interp.marker_env.get("sys_platform", "")
    )
    machine = interp.marker_env.get("platform_machine", "")
    arch = {"AMD64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "ARM64": "aarch64"}.get(
        machine, machine
    )
    if (platform_os in (None, system)) and (platform_arch in (None, arch)):
        return None
    suggestion = {
        ("linux", "x86_64"): "x86_64-unknown-linux-gnu",
        ("linux", "aarch64"): "aarch64-unknown-linux-gnu",
        ("macos", "aarch64"): "aarch64-apple-darwin",
        ("macos", "x86_64"): "x86_64-apple-darwin",
        ("windows", "x86_64"): "x86_64-pc-windows-msvc",
        ("windows", "aarch64"): "aarch64-pc-windows-msvc",
    }.get((platform_os or system, platform_arch or arch))
    plats = [t.platform for t in interp.tags if t.platform != "any"]
    tag = next((p for p in plats if p.startswith(("manylinux", "macosx", "win"))), None)
    tag = tag or (plats[0] if plats else "any")
    return (
        f"the platform snapshot is {platform_os} {platform_arch}, but the target interpreter "
        f"runs on {system} {arch}: the wheel tags ({tag}) are the interpreter's"
        + (
            f"; add --python-platform {suggestion} to plan with that machine's tags"
            if suggestion
            else ""
        )
    )
