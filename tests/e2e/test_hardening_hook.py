"""Issue 11, item 11's bound: an import never waits forever for another process, nor goes on.

A real process imports a mismatched torch (no GPU, a CUDA build installed) while this test
holds the lock another wheelmagic process would hold: the environment's install lock
(`install.lock.environment_lock`, as `wheelmagic install` holds it while replacing files) or
the hook's fix lock (another kernel fixing torch). With ``WHEELMAGIC_HOOK_LOCK_WAIT=1`` the import stops with an
`ImportError` that says what is going on and what to do; torch is not imported and nothing in
the environment changes. (The waiting that ends well is tests/kernel/test_hook_races.py.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from filelock import FileLock
from support.e2e import hook_env
from support.server import Server, serve_directory
from support.wheels import build_wheel

from wheelmagic.install.lock import environment_lock, lock_path

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
H100 = ROOT / "tests" / "data" / "platforms" / "nvidia-h100-driver580.snapshot.json"
VERSION = "2.9.0"
CODE = (
    "import sys, wheelmagic.hook as h; h.install()\n"
    "try:\n    import torch\nexcept ImportError as err:\n"
    "    print('IMPORTERROR', err); sys.exit(3)\n"
    "print('IMPORTED', 'torch' in sys.modules)\n"
)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from wheelmagic.index.build import build_index

    d = tmp_path_factory.mktemp("busy-index")
    for label in ("null", "cuda12.8"):
        build_wheel(d / "wheels", "torch", VERSION, label=label)
    build_index(d / "wheels", d / "www", link="copy")
    with serve_directory(d / "www") as srv:
        yield srv


@pytest.mark.parametrize("held", ["install", "fix"])
def test_import_stops_with_an_explanation_when_the_other_process_takes_too_long(
    index: Server, tmp_path: Path, held: str
) -> None:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (site / "zz_wheelmagic.pth").write_text(f"{ROOT}\n{sysconfig.get_paths()['purelib']}\n")
    py = str(venv / "bin" / "python")
    cache = tmp_path / "cache"
    setup = subprocess.run(
        [py, "-m", "wheelmagic", "install", f"torch=={VERSION}", "--variant", "cuda12.8", "--yes"],
        env=hook_env(cache, str(H100), index.url("simple/")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert setup.returncode == 0, setup.stderr
    no_gpu = tmp_path / "no-gpu.json"
    no_gpu.write_text(json.dumps({"os": "linux", "arch": "x86_64", "cpu": {"x86_64_level": 3}}))
    install_lock = lock_path(str(venv), cache)
    before = sorted(p.name for p in site.iterdir())
    holder: AbstractContextManager[object] = (
        environment_lock(str(venv), cache)  # what `wheelmagic install` holds
        if held == "install"
        else FileLock(str(install_lock.with_name(install_lock.name + ".hook")))  # a hook's fix
    )
    with holder:
        r = subprocess.run(
            [py, "-c", CODE],
            env=hook_env(cache, str(no_gpu), index.url("simple/"), WHEELMAGIC_HOOK_LOCK_WAIT="1"),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    assert r.returncode == 3, r.stdout + r.stderr
    doing = "installing into" if held == "install" else "fixing"
    who = f" (pid {os.getpid()}, since " if held == "install" else ""  # the install's owner
    assert f"another process{who}" in r.stderr, r.stderr
    assert f"is {doing} {venv}; waiting for it (up to 1s)" in r.stderr, r.stderr
    assert r.stdout.startswith("IMPORTERROR wheelmagic: not importing torch"), r.stdout
    assert "may be half replaced" in r.stdout and "WHEELMAGIC_HOOK_LOCK_WAIT" in r.stdout
    assert "installing the fitting build" not in r.stderr
    assert sorted(p.name for p in site.iterdir()) == before
