"""The remembered verdict: the last "fits" of a target environment, and what it depended on.

`preinstall`'s no-op and the import hook's check run on every start of a server or a kernel,
and nearly always find what they found last time. The full answer (the offline doctor) probes
the GPU, inspects the interpreter and parses metadata; this module keeps that answer beside a
*fingerprint* of everything it was made from, and gives it back while the fingerprint still
matches, from a few `stat` calls, directory listings and small reads:

- the interpreter: its path, and the size, mtime and inode of the file it resolves to, and the
  venv's ``pyvenv.cfg``;
- the target's search path (recorded by the full run) and, in each entry, the dist-info (or
  egg-info) directories of the watched packages: their names (so the versions), the size and
  mtime of their ``RECORD`` and ``variant.json``, and the ``<module>/version.py`` the doctor
  reads; the ``.pth`` files of each entry (they change the search path);
- the platform facts the verdict depends on: the platform file (``--platform`` or
  ``WHEELMAGIC_PLATFORM``: path, size, mtime) or, when probing, the NVIDIA driver version
  (``/proc/driver/nvidia/version``, ``/sys/module/nvidia/version``), the GPU list (the entries
  of ``/proc/driver/nvidia/gpus`` and their ``information``), the amdgpu version and KFD
  nodes, ``/dev/dxg`` (WSL2), the kernel release; the environment variables that select or
  override devices or the search path (``CUDA_VISIBLE_DEVICES``, the ``*_VARIANT_PROVIDER_*``
  and ``UV_*`` overrides, ``WHEELMAGIC_*``, ``PYTHONPATH``, ...);
- wheelmagic itself: its version and the files that make the verdict.

Only a ``fits`` verdict is remembered: anything else needs the full diagnosis (its reasons and
its fix) anyway. Any difference, a missing, corrupt or foreign record falls back to the full
path, which writes a fresh record (`wheelmagic._fs.atomic_write`: readers see the old or the
new record, never a torn one).

Standard library only (no `packaging`, no httpx, no `dataclasses`, no subprocess): the whole
point is to be cheap, and the hook's finder imports this on the first ``import torch``.
The record lives in ``<cache>/verdicts/``; `wheelmagic cache clear` removes it with the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zlib
from collections.abc import Iterable, Mapping, Sequence

from wheelmagic import __version__
from wheelmagic._fs import atomic_write, cache_dir

SCHEMA = "wheelmagic-verdict/1"

#: the packages the hook's doctor judges (`wheelmagic.installed.DEFAULT_PACKAGES`)
WATCHED_DISTS: tuple[str, ...] = ("torch", "torchvision", "torchaudio")

#: environment variables that change what is detected or where packages are found
ENV_NAMES: tuple[str, ...] = (
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "HIP_VISIBLE_DEVICES",
    "ROCR_VISIBLE_DEVICES",
    "ZE_AFFINITY_MASK",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONNOUSERSITE",
    "VIRTUAL_ENV",
)
#: ... and every variable starting with one of these (the overrides of
#: `wheelmagic.platform.detect._apply_overrides`, and wheelmagic's own settings)
ENV_PREFIXES: tuple[str, ...] = (
    "WHEELMAGIC_",
    "UV_",
    "NV_VARIANT_PROVIDER_",
    "AMD_VARIANT_PROVIDER_",
    "INTEL_VARIANT_PROVIDER_",
)
#: files read as text when probing (under `sysroot`): driver versions
SYSTEM_FILES: tuple[str, ...] = (
    "proc/driver/nvidia/version",
    "sys/module/nvidia/version",
    "sys/module/amdgpu/version",
)
#: directories listed when probing (under `sysroot`): GPUs, KFD nodes
SYSTEM_DIRS: tuple[str, ...] = (
    "proc/driver/nvidia/gpus",
    "sys/devices/virtual/kfd/kfd/topology/nodes",
)
#: paths whose existence (and mtime) counts when probing (under `sysroot`)
SYSTEM_PATHS: tuple[str, ...] = ("dev/dxg", "dev/kfd")
#: wheelmagic's files that make a verdict (a changed rule is a changed verdict)
_OWN_FILES: tuple[str, ...] = (
    "installed.py",
    "pytorch/diagnose.py",
    "pytorch/facts.py",
    "providers/nvidia.py",
    "platform/detect.py",
)

Fingerprint = list[object]


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(4096)
    except OSError:
        return None


def _listdir(path: str) -> list[str] | None:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return None


def _normal(name: str) -> str:
    """PEP 503 normalization, without `re`: ``Torch_Vision`` -> ``torch-vision``."""
    return name.lower().replace("_", "-").replace(".", "-")


def interpreter_path(python: str | None) -> str:
    """The interpreter path `inspect_interpreter` would inspect for `python`."""
    if python is None or os.path.abspath(python) == os.path.abspath(sys.executable):
        return sys.executable
    return os.path.abspath(python)


def _interpreter(path: str) -> Fingerprint:
    real = os.path.realpath(path)
    venv = os.path.join(os.path.dirname(os.path.dirname(path)), "pyvenv.cfg")
    return ["interpreter", path, real, _stat(real), _stat(venv)]


def _packages(search_path: Sequence[str], names: Iterable[str]) -> Fingerprint:
    wanted = {_normal(n) for n in names}
    out: Fingerprint = ["packages", sorted(wanted)]
    # a cheap first cut over big site-packages listings: the names as dist-info dirs spell them
    prefixes = tuple({p for n in wanted for p in (f"{n}-", f"{n.replace('-', '_')}-")})
    for entry in search_path:
        path = entry or "."
        try:
            listing = os.listdir(path)
        except OSError:
            out.append([entry, None])
            continue
        found: list[object] = []
        for item in sorted(
            i for i in listing if i.endswith(".pth") or i.lower().startswith(prefixes)
        ):
            if item.endswith(".pth"):
                found.append([item, _stat(os.path.join(path, item))])
                continue
            stem, dot, kind = item.rpartition(".")
            if not dot or kind not in ("dist-info", "egg-info", "egg-link"):
                continue
            project = stem.partition("-")[0]
            if _normal(project) not in wanted:
                continue
            d = os.path.join(path, item)
            module = project.lower()
            found.append(
                [
                    item,
                    _stat(d),
                    _stat(os.path.join(d, "RECORD")),
                    _stat(os.path.join(d, "variant.json")),
                    _stat(os.path.join(path, module, "version.py")),
                ]
            )
        out.append([entry, found])
    return out


def _platform(platform_file: str | None, environ: Mapping[str, str], sysroot: str) -> Fingerprint:
    source = platform_file or environ.get("WHEELMAGIC_PLATFORM", "").strip()
    out: Fingerprint = ["platform"]
    if source:
        # a recorded snapshot replaces every probe
        out.append(["file", os.path.abspath(source), _stat(source)])
    else:
        for rel in SYSTEM_FILES:
            out.append([rel, _read(os.path.join(sysroot, rel))])
        for rel in SYSTEM_DIRS:
            d = os.path.join(sysroot, rel)
            listing = _listdir(d)
            out.append([rel, listing])
            if listing is not None and rel.endswith("nvidia/gpus"):
                for gpu in listing:
                    out.append([gpu, _read(os.path.join(d, gpu, "information"))])
        for rel in SYSTEM_PATHS:
            out.append([rel, _stat(os.path.join(sysroot, rel))])
        u = os.uname() if hasattr(os, "uname") else None
        out.append(["kernel", [u.sysname, u.release, u.machine] if u else sys.platform])
    env = sorted(
        [k, v]
        for k, v in environ.items()
        if k in ENV_NAMES or k.startswith(ENV_PREFIXES)
        # where the record lives is not a fact the verdict depends on
        if k != "WHEELMAGIC_CACHE_DIR"
    )
    out.append(["environ", env])
    return out


def _own() -> Fingerprint:
    here = os.path.dirname(os.path.abspath(__file__))
    return ["wheelmagic", __version__, [_stat(os.path.join(here, f)) for f in _OWN_FILES]]


def fingerprint(
    python: str,
    search_path: Sequence[str],
    names: Iterable[str],
    *,
    platform_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    sysroot: str = "/",
) -> Fingerprint:
    """Everything a verdict about `names` in `python` (seen on `search_path`) depends on.

    `sysroot` is where ``/proc``, ``/sys`` and ``/dev`` are read (tests pass a directory of
    recorded files). A JSON value: compare it with ``==`` after a JSON round trip.
    """
    env = os.environ if environ is None else environ
    return [
        SCHEMA,
        _interpreter(python),
        _packages(search_path, names),
        _platform(platform_file, env, sysroot),
        _own(),
    ]


def record_path(kind: str, key: str, cache: str | os.PathLike[str] | None = None) -> str:
    """Where the record of (`kind`, `key`) lives: one small JSON file per target and question."""
    base = os.fspath(cache) if cache is not None else os.fspath(cache_dir())
    crc = zlib.crc32(key.encode("utf-8", "surrogateescape"))
    return os.path.join(base, "verdicts", f"{kind}-{crc:08x}.json")


class Remembered:
    """A record read back: the verdict, and what to fingerprint it against."""

    __slots__ = ("fingerprint", "names", "search_path", "verdict")

    def __init__(
        self,
        verdict: dict[str, object],
        search_path: list[str],
        names: list[str],
        fingerprint: object,
    ) -> None:
        self.verdict = verdict
        self.search_path = search_path
        self.names = names
        self.fingerprint = fingerprint


def load(kind: str, key: str, cache: str | os.PathLike[str] | None = None) -> Remembered | None:
    """The record of (`kind`, `key`); None when absent, corrupt, foreign or of another key."""
    try:
        with open(record_path(kind, key, cache), "rb") as fh:
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or data.get("key") != key:
        return None
    verdict, path, names = data.get("verdict"), data.get("search_path"), data.get("names")
    if not isinstance(verdict, dict) or verdict.get("status") != "fits":
        return None
    if not isinstance(path, list) or not all(isinstance(p, str) for p in path):
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return Remembered(verdict, path, names, data.get("fingerprint"))


def recall(
    kind: str,
    key: str,
    python: str,
    *,
    search_path: Sequence[str] | None = None,
    platform_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    cache: str | os.PathLike[str] | None = None,
    sysroot: str = "/",
) -> dict[str, object] | None:
    """The remembered verdict of (`kind`, `key`) when nothing it depends on changed, else None.

    `search_path` None: the one the full run recorded (a target interpreter's, which only a
    subprocess could tell again).
    """
    got = load(kind, key, cache)
    if got is None:
        return None
    now = fingerprint(
        python,
        got.search_path if search_path is None else search_path,
        got.names,
        platform_file=platform_file,
        environ=environ,
        sysroot=sysroot,
    )
    # a JSON round trip turns tuples into lists, so compare like with like
    if json.loads(json.dumps(now)) != got.fingerprint:
        return None
    return got.verdict


def remember(
    kind: str,
    key: str,
    fp: Fingerprint,
    *,
    search_path: Sequence[str],
    names: Iterable[str],
    verdict: Mapping[str, object],
    cache: str | os.PathLike[str] | None = None,
) -> bool:
    """Write the record (`fp` computed *before* the full check ran); False when it could not.

    Only a ``fits`` verdict is kept; anything else removes the record.
    """
    path = record_path(kind, key, cache)
    if verdict.get("status") != "fits":
        forget(kind, key, cache)
        return False
    data = {
        "schema": SCHEMA,
        "key": key,
        "search_path": list(search_path),
        "names": sorted({_normal(n) for n in names}),
        "fingerprint": fp,
        "verdict": dict(verdict),
    }
    from pathlib import Path

    try:
        atomic_write(Path(path), json.dumps(data, indent=1).encode())
    except (OSError, TypeError, ValueError):
        return False
    return True


def forget(kind: str, key: str, cache: str | os.PathLike[str] | None = None) -> None:
    with contextlib.suppress(OSError):
        os.unlink(record_path(kind, key, cache))


# -- the two questions asked ----------------------------------------------------------------


def preinstall_key(python: str, requirements: Sequence[str], platform_file: str | None) -> str:
    """`preinstall REQ...` for one interpreter (the requirement strings as given, in order)."""
    return json.dumps(["preinstall", python, list(requirements), platform_file or ""])


def hook_key(python: str, path: Sequence[str]) -> str:
    """The hook's check: this interpreter with this `sys.path`."""
    return json.dumps(["hook", python, list(path)])


def hook_fits(environ: Mapping[str, str] | None = None) -> bool:
    """The import hook's fast answer: True when this process's last check said ``fits`` and
    nothing it depended on changed (then the doctor need not run)."""
    python = sys.executable
    path = list(sys.path)
    got = recall("hook", hook_key(python, path), python, search_path=path, environ=environ)
    return got is not None


def hook_fingerprint(
    environ: Mapping[str, str] | None = None,
) -> tuple[str, list[str], Fingerprint]:
    """Taken *before* the hook's doctor runs: (key, search path, fingerprint), for
    `remember_hook` when the doctor says fits."""
    python = sys.executable
    path = list(sys.path)
    return hook_key(python, path), path, fingerprint(python, path, WATCHED_DISTS, environ=environ)


def remember_hook(
    key: str, path: Sequence[str], fp: Fingerprint, status: str, why: str = ""
) -> bool:
    return remember(
        "hook",
        key,
        fp,
        search_path=path,
        names=WATCHED_DISTS,
        verdict={"status": status, "why": why},
    )
