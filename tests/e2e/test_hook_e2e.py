"""The import hook end to end: real processes, a throwaway venv, a loopback variant index.

Synthetic torch-like wheels (tests/support/wheels.py) are published with `wheelmagic index
build` and served on 127.0.0.1; a throwaway venv gets a build installed with `wheelmagic
install`; then ``python -c "import wheelmagic.hook as h; h.install(); import torch"`` runs
with ``WHEELMAGIC_PLATFORM=<snapshot>`` and the real offline doctor, policy and install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.e2e import hook_env
from support.server import Server, serve_directory
from support.wheels import build_wheel

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
H100 = ROOT / "tests" / "data" / "platforms" / "nvidia-h100-driver580.snapshot.json"
NO_GPU = {"os": "linux", "arch": "x86_64", "cpu": {"x86_64_level": 3}}
VERSION = "2.9.0"
IMPORT = "import wheelmagic.hook as h; h.install(); import torch; print('BUILD', torch.__build__)"


def _publish(wheels: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "wheelmagic", "index", "build", str(wheels), str(out)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return out


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """torch 2.9.0 as a CPU (null) and two CUDA variants, plus a broken cuda13.0 build."""
    d = tmp_path_factory.mktemp("index")
    for label in ("null", "cuda12.8", "cuda13.0"):
        build_wheel(d / "wheels", "torch", VERSION, label=label)
    _publish(d / "wheels", d / "www")
    with serve_directory(d / "www") as srv:
        yield srv


@pytest.fixture(scope="module")
def broken_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Only a cuda13.0 build whose import fails like a missing CUDA runtime library."""
    d = tmp_path_factory.mktemp("broken-index")
    build_wheel(d / "wheels", "torch", VERSION, label="cuda13.0", broken=True)
    _publish(d / "wheels", d / "www")
    with serve_directory(d / "www") as srv:
        yield srv


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A throwaway venv that sees wheelmagic (and its dependencies) through a .pth file."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    v = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(v)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(v), "platbase": str(v)})["purelib"])
    ours = sysconfig.get_paths()["purelib"]
    (site / "zz_wheelmagic.pth").write_text(f"{ROOT}\n{ours}\n")
    return v


def _snapshot(tmp_path: Path, facts: dict[str, object] | None) -> str:
    if facts is None:
        return str(H100)
    path = tmp_path / "no-gpu.json"
    path.write_text(json.dumps(facts))
    return str(path)


def run(
    venv: Path,
    code: str,
    *,
    platform: str,
    index: Server,
    cache: Path,
    policy: str | None = None,
    index_url: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = hook_env(cache, platform, index_url or index.url("simple/"))
    if policy is not None:
        env["WHEELMAGIC_ON_MISMATCH"] = policy
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=venv,
    )


def install(venv: Path, label: str, *, index: Server, cache: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHEELMAGIC_", "PIP_"))}
    env.update(WHEELMAGIC_PLATFORM=str(H100), WHEELMAGIC_CACHE_DIR=str(cache))
    r = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "wheelmagic",
            "install",
            f"torch=={VERSION}",
            "--variant",
            label,
            "--yes",
            "--index-url",
            index.url("simple/"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr


def build_of(venv: Path, tmp_path: Path) -> str:  # noqa: ARG001
    """The installed build, read from torch/version.py without importing torch."""
    r = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util as u, pathlib; s = u.find_spec('torch'); "
            "print(pathlib.Path(s.origin).with_name('version.py').read_text())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return r.stdout


def test_cuda_build_on_a_machine_without_gpu_is_fixed_in_process(
    venv: Path, index: Server, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(venv, "cuda12.8", index=index, cache=cache)
    no_gpu = _snapshot(tmp_path, NO_GPU)
    r = run(venv, IMPORT, platform=no_gpu, index=index, cache=cache)
    assert r.returncode == 0, r.stderr
    assert "installing the fitting build" in r.stderr
    assert "continuing the import of torch with the new build" in r.stderr
    assert r.stdout.strip() == "BUILD cpu"
    # the next process finds a fitting build: silent
    r2 = run(venv, IMPORT, platform=no_gpu, index=index, cache=cache)
    assert r2.returncode == 0 and r2.stdout.strip() == "BUILD cpu"
    assert "wheelmagic" not in r2.stderr


def test_cpu_build_on_a_gpu_machine(venv: Path, index: Server, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    install(venv, "null", index=index, cache=cache)
    # auto: suboptimal only warns, with the exact command, in one line
    r = run(venv, IMPORT, platform=str(H100), index=index, cache=cache)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "BUILD cpu"
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("wheelmagic:")]
    assert len(lines) == 1 and "wheelmagic install torch" in lines[0]
    # fix: replaced with a CUDA build, and the import goes on with it
    r = run(venv, IMPORT, platform=str(H100), index=index, cache=cache, policy="fix")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("BUILD cuda"), r.stderr


@pytest.mark.parametrize("policy", ["warn", "off"])
def test_warn_and_off_change_nothing(
    venv: Path, index: Server, tmp_path: Path, policy: str
) -> None:
    cache = tmp_path / "cache"
    install(venv, "cuda12.8", index=index, cache=cache)
    before = build_of(venv, tmp_path)
    r = run(
        venv, IMPORT, platform=_snapshot(tmp_path, NO_GPU), index=index, cache=cache, policy=policy
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "BUILD cuda12.8"
    assert build_of(venv, tmp_path) == before
    if policy == "off":
        assert r.stderr == ""
    else:
        assert "does not work on this machine" in r.stderr
        assert "to fix it run: wheelmagic install torch" in r.stderr


def test_failed_fix_leaves_the_build_and_does_not_loop(
    venv: Path, index: Server, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(venv, "cuda12.8", index=index, cache=cache)
    before = build_of(venv, tmp_path)
    dead = "http://127.0.0.1:9/simple/"
    for attempt in range(3):
        r = run(
            venv,
            IMPORT,
            platform=_snapshot(tmp_path, NO_GPU),
            index=index,
            cache=cache,
            index_url=dead,
        )
        assert r.returncode == 0, r.stderr  # the old build still imports
        assert r.stdout.strip() == "BUILD cuda12.8"
        assert build_of(venv, tmp_path) == before
        if attempt == 0:
            assert "the fix failed; the installed build was left in place" in r.stderr
        else:
            assert "installing the fitting build" not in r.stderr
            assert "not fixing torch automatically again" in r.stderr


def test_failing_import_is_explained_fixed_and_works_after_restart(
    venv: Path, index: Server, broken_index: Server, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(venv, "cuda13.0", index=broken_index, cache=cache)
    r = run(venv, IMPORT, platform=str(H100), index=index, cache=cache)
    assert r.returncode == 1
    assert "ImportError: libcudart.so.13: cannot open shared object file" in r.stderr
    assert "importing torch failed because an accelerator library" in r.stderr
    assert "restart this Python process and import torch again" in r.stderr
    r2 = run(venv, IMPORT, platform=str(H100), index=index, cache=cache)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout.strip() == "BUILD cuda13.0"
