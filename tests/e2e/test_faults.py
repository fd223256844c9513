"""When an install fails, the previous torch still imports and the message says what to do.

Small synthetic torch wheels (`import torch; torch.__build__` names the build) on a real
loopback index built by `wheelmagic index build`, real venvs, the real CLI. Each test installs
torch 2.14.1 first, then tries 2.15.0 with one fault injected.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.e2e import clean_env, index_build, make_venv, py, snapshot, wheelmagic
from support.server import Fault, Server, serve_directory
from support.wait import wait_until
from support.wheels import build_plain_wheel, build_wheel

from wheelmagic.install.lock import environment_lock

pytestmark = pytest.mark.e2e

NEW = "/files/torch-2.15.0-py3-none-any-null.whl"


@dataclass
class Setup:
    srv: Server
    env: dict[str, str]
    python: str
    wheels: Path
    www: Path
    cache: Path

    def install(self, *reqs: str, extra: tuple[str, ...] = (), timeout: float = 300) -> object:
        return wheelmagic(
            "install",
            *reqs,
            "--yes",
            "--index-url",
            self.srv.url("simple/"),
            "--platform",
            str(snapshot("cpu")),
            "--python",
            self.python,
            *extra,
            env=self.env,
            timeout=timeout,
        )

    def add(self, **kw: object) -> None:
        """Add torch 2.15.0 (with `kw`) to the index and rebuild it."""
        build_wheel(self.wheels, version="2.15.0", label="null", **kw)  # type: ignore[arg-type]
        index_build(self.wheels, self.www, self.env)

    def build(self) -> str:
        ran = py(self.python, "import torch; print(torch.__version__, torch.__build__)")
        return ran.stdout.strip() if ran.returncode == 0 else "IMPORT FAILED: " + ran.stderr


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    wheels = tmp_path / "wheels"
    build_plain_wheel(wheels, "filelock", "3.0")
    build_wheel(wheels, version="2.14.1", label="null", requires=["filelock"])
    cache = tmp_path / "cache"
    env = clean_env(cache)
    www = index_build(wheels, tmp_path / "www", env)
    python = make_venv(tmp_path / "venv", with_pip=False)  # fast; pip runs with --python
    with serve_directory(www) as srv:
        s = Setup(srv, env, python, wheels, www, cache)
        ran = s.install("torch==2.14.1")
        assert ran.returncode == 0, ran.output  # type: ignore[attr-defined]
        assert s.build() == "2.14.1+cpu cpu"
        yield s


def test_corrupted_wheel_hash_mismatch(setup: Setup) -> None:
    setup.add(requires=["filelock"])
    setup.srv.faults[NEW] = Fault("wrong-bytes", times=None)
    ran = setup.install("torch==2.15.0")
    assert ran.returncode != 0  # type: ignore[attr-defined]
    err = ran.stderr  # type: ignore[attr-defined]
    assert "torch-2.15.0-py3-none-any-null.whl" in err
    assert "sha256" in err.lower() or "hash" in err.lower()
    assert setup.srv.url("") in err  # the index / URL is named
    assert "->" in err  # and a next step
    assert setup.build() == "2.14.1+cpu cpu"


def test_server_dies_mid_download(setup: Setup) -> None:
    setup.add(requires=["filelock"], payload=3 << 20)
    setup.srv.faults[NEW] = Fault("drop", after=200_000, times=None)
    ran = setup.install("torch==2.15.0")
    assert ran.returncode != 0  # type: ignore[attr-defined]
    assert "torch-2.15.0" in ran.stderr  # type: ignore[attr-defined]
    assert setup.build() == "2.14.1+cpu cpu"
    # one drop only: the next run resumes the partial file and succeeds
    setup.srv.faults[NEW] = Fault("drop", after=200_000, times=1)
    ran = setup.install("torch==2.15.0")
    assert ran.returncode == 0, ran.output  # type: ignore[attr-defined]
    assert setup.build() == "2.15.0+cpu cpu"


@pytest.mark.parametrize("backend", ["pip", "uv"])
def test_dependency_missing_on_the_index(setup: Setup, backend: str) -> None:
    setup.add(requires=["filelock", "nvidia-not-there==1.0"])
    ran = setup.install("torch==2.15.0", extra=("--backend", backend))
    assert ran.returncode != 0  # type: ignore[attr-defined]
    err = ran.stderr  # type: ignore[attr-defined]
    assert "torch 2.15.0" in err and "torch-2.15.0-py3-none-any-null.whl" in err
    assert "nvidia-not-there" in err
    assert "a dependency is not available on the index" in err
    assert "--extra-index-url" in err  # the next step
    assert "installed as before" in err
    assert setup.build() == "2.14.1+cpu cpu"


@pytest.mark.parametrize("backend", ["pip", "uv"])
def test_installer_fails_midway(setup: Setup, backend: str) -> None:
    """The new wheel cannot be written (a file where a directory must go)."""
    setup.add(requires=["filelock"], extra_files={"torch/version.py/x": b""})
    ran = setup.install("torch==2.15.0", extra=("--backend", backend))
    assert ran.returncode != 0  # type: ignore[attr-defined]
    assert "could not install torch 2.15.0" in ran.stderr  # type: ignore[attr-defined]
    assert setup.build() == "2.14.1+cpu cpu"
    check = subprocess.run(
        [sys.executable, "-m", "pip", "--python", setup.python, "check"],
        capture_output=True,
        text=True,
        env=setup.env,
    )
    assert check.returncode == 0, check.stdout


def test_second_concurrent_install_waits_then_gives_up(setup: Setup) -> None:
    setup.add(requires=["filelock"])
    prefix = str(Path(setup.python).parent.parent)
    setup.env["WHEELMAGIC_LOCK_TIMEOUT"] = "1"
    with environment_lock(prefix, setup.cache):
        ran = setup.install("torch==2.15.0")
    assert ran.returncode != 0  # type: ignore[attr-defined]
    err = ran.stderr  # type: ignore[attr-defined]
    assert "another wheelmagic install" in err and "still running" in err
    assert "waiting for it" in ran.output  # type: ignore[attr-defined]
    assert setup.build() == "2.14.1+cpu cpu"
    # once the lock is free, the same command goes through
    ran = setup.install("torch==2.15.0")
    assert ran.returncode == 0, ran.output  # type: ignore[attr-defined]
    assert setup.build() == "2.15.0+cpu cpu"


def test_interrupted_download(setup: Setup) -> None:
    """Ctrl-C while downloading: nothing installed, the old torch works, exit status 130."""
    setup.add(requires=["filelock"], payload=2 << 20)
    setup.srv.faults[NEW] = Fault("slow", delay=0.2, times=None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wheelmagic",
            "install",
            "torch==2.15.0",
            "--yes",
            "--index-url",
            setup.srv.url("simple/"),
            "--platform",
            str(snapshot("cpu")),
            "--python",
            setup.python,
        ],
        env=setup.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Ctrl-C once part of the file has been sent (each 64 KiB takes 0.2 s: most is still to come)
    wait_until(
        lambda: any(r.path == NEW and r.body_bytes > 0 for r in setup.srv.requests),
        what="the download of the new build to start",
    )
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert setup.build() == "2.14.1+cpu cpu"
    assert not os.path.exists(Path(setup.python).parent.parent / ".wheelmagic-backup")
