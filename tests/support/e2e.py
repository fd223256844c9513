"""End-to-end plumbing: a variant index built with `wheelmagic index build`, throwaway venvs,
and the real `wheelmagic` CLI as a subprocess with an isolated environment.

Nothing here reaches the internet: the real PyTorch wheels come from this machine's mirror
(`/opt/wheels`, `/opt/pypi-more/files`, `/opt/pypi/files`), repacked as variant wheels
(`support.wheels.repack`, cached under `.cache/repacked/`), and their dependencies are
symlinked, not copied. The one dependency the mirror lacks, `cuda-bindings` (torch 2.14.1
CUDA requires it; `import torch` does not use it), is a small stand-in wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from support.wheels import (
    MIRROR_DIRS,
    ROOT,
    TORCH_CPU,
    TORCH_CUDA,
    build_plain_wheel,
    repack,
)

PLATFORMS = ROOT / "tests" / "data" / "platforms"
DOCTOR_SNAPSHOTS = ROOT / "tests" / "data" / "doctor"

CPU_DEPS = (
    "filelock",
    "typing_extensions",
    "setuptools",
    "sympy",
    "mpmath",
    "networkx",
    "jinja2",
    "markupsafe",
    "fsspec",
)
CUDA_DEPS = ("cuda_toolkit", "cuda_pathfinder", "triton", "nvidia_")


def have_real_wheels(cuda: bool = False) -> bool:
    return TORCH_CPU.exists() and (not cuda or TORCH_CUDA.exists())


def snapshot(kind: str) -> Path:
    """A recorded platform snapshot: `cpu` (no GPU, x86-64-v3) or `h100` (driver 580, CUDA 13.0,
    cc 9.0), by exact file name: a new recording must never change what these tests plan for."""
    name = {
        "cpu": "cpu-x86_64-v3.snapshot.json",
        "h100": "nvidia-h100-driver580.snapshot.json",
    }[kind]
    for d in (PLATFORMS, DOCTOR_SNAPSHOTS):
        if (d / name).exists():
            return d / name
    raise FileNotFoundError(f"no {name} under {PLATFORMS} or {DOCTOR_SNAPSHOTS}")


def link_deps(wheel_dir: Path, prefixes: Iterable[str]) -> list[Path]:
    """Symlink every mirror wheel whose file name starts with one of `prefixes` + '-'/'_'."""
    out = []
    wheel_dir.mkdir(parents=True, exist_ok=True)
    for d in MIRROR_DIRS:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.whl")):
            name = path.name
            if not any(name.startswith(p if p.endswith("_") else p + "-") for p in prefixes):
                continue
            if name.startswith("torch"):
                continue
            dst = wheel_dir / name
            if not dst.exists():
                dst.symlink_to(path)
                out.append(dst)
    return out


def real_wheel_dir(wheel_dir: Path, *, cuda: bool) -> Path:
    """The wheels of the e2e index: repacked torch(es) + symlinked dependencies."""
    repack(TORCH_CPU, wheel_dir, label="null")
    link_deps(wheel_dir, CPU_DEPS)
    if cuda:
        repack(TORCH_CUDA, wheel_dir, label="cuda13.0")
        link_deps(wheel_dir, CUDA_DEPS)
        build_plain_wheel(wheel_dir, "cuda-bindings", "13.0.3")  # not on the mirror
    return wheel_dir


def clean_env(cache: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for CLI subprocesses: no pip/uv config of this machine, our caches."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "WHEELMAGIC_", "VIRTUAL_ENV"))
    }
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "WHEELMAGIC_CACHE_DIR": str(cache / "wheelmagic"),
            "UV_CACHE_DIR": str(cache / "uv"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(argv: list[str], env: Mapping[str, str], timeout: float = 900) -> Ran:
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=str(ROOT),
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)


def wheelmagic(*args: str, env: Mapping[str, str], timeout: float = 900) -> Ran:
    """The real CLI, as a user runs it."""
    return run([sys.executable, "-m", "wheelmagic", *args], env, timeout)


def index_build(wheel_dir: Path, out_dir: Path, env: Mapping[str, str]) -> Path:
    # hard links (the default; a copy across file systems): the test server, like many
    # static hosts, does not follow symlinks out of its root
    ran = wheelmagic("index", "build", str(wheel_dir), str(out_dir), env=env)
    assert ran.returncode == 0, ran.output
    # `index build` hard-links the symlink itself (not its target) in its default mode; turn
    # what it placed into real hard links to the mirror's files (same file system, no copy)
    for placed in (out_dir / "files").iterdir():
        if placed.is_symlink():
            target = placed.resolve()
            placed.unlink()
            try:
                os.link(target, placed)
            except OSError:
                import shutil

                shutil.copyfile(target, placed)
    return out_dir


def hook_env(cache: Path, platform: str, index_url: str, **extra: str) -> dict[str, str]:
    """For a process that imports torch under the hook: the platform, cache and index it is
    told, and none of this machine's pip/uv/wheelmagic settings or user site."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WHEELMAGIC_", "PIP_", "UV_")) and k != "PYTHONPATH"
    }
    env.update(
        WHEELMAGIC_PLATFORM=platform,
        WHEELMAGIC_CACHE_DIR=str(cache),
        WHEELMAGIC_INDEX_URL=index_url,
        PYTHONNOUSERSITE="1",
        **extra,
    )
    return env


def overlay_venv(prefix: Path) -> str:
    """A venv in about a second: no pip; this test run's packages (ipykernel, IPython, the
    editable wheelmagic, ...) are reached through a .pth, behind the venv's own. Returns its
    python."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True, timeout=120
    )
    python = str(prefix / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(site, "zz_wheelmagic_tests_parent.pth").write_text(
        f"import site; site.addsitedir({parent!r})\n"
    )
    return python


def make_venv(path: Path, *, with_pip: bool = True) -> str:
    argv = [sys.executable, "-m", "venv", str(path)]
    if not with_pip:
        argv.append("--without-pip")
    subprocess.run(argv, check=True, capture_output=True)
    return str(path / "bin" / "python")


def py(python: str, code: str, env: Mapping[str, str] | None = None) -> Ran:
    return run([python, "-c", code], env or clean_env(Path("/nonexistent")), timeout=300)


def pip_check(python: str, env: Mapping[str, str]) -> Ran:
    return run([python, "-m", "pip", "check"], env, timeout=300)
