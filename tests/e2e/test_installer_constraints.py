"""pip's constraint files reach the installer too (issue 13, item 4, the installer side).

The plan honours PIP_CONSTRAINT, but the backends run pip and uv with an isolated
configuration: a dependency the installer resolves by itself (here `dep`, required by the
planned `app`) was not capped. Real pip and uv install into a throwaway venv from a real
static index; the constraint file caps `dep` below the newest release.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.e2e import clean_env, make_venv, wheelmagic
from support.wheels import build_wheel

from wheelmagic.index.build import build_index

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("backend", ["pip", "uv"])
def test_constraint_caps_a_dependency_the_installer_resolves(tmp_path: Path, backend: str) -> None:
    wheels = tmp_path / "w"
    build_wheel(wheels, "app", "1.0", requires=["dep"])
    build_wheel(wheels, "dep", "1.0")
    build_wheel(wheels, "dep", "2.0")
    build_index(wheels, tmp_path / "www")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("dep<2\n")
    python = make_venv(tmp_path / "venv", with_pip=backend == "pip")
    env = clean_env(
        tmp_path,
        {
            "PIP_CONSTRAINT": str(constraints),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        },
    )
    index = (tmp_path / "www" / "simple").as_uri() + "/"
    r = wheelmagic(
        "install", "app", "--yes", "--index-url", index, "--python", python, "--backend", backend,
        env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    shown = subprocess.run(
        [python, "-c", "import importlib.metadata as m; print(m.version('dep'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.strip() == "1.0"
