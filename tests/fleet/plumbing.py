"""Fleets: many machines sharing one index and one cache (JupyterHub users, Dask workers,
an offline mirror). The plumbing the fleet tests share (the fixtures are imported by conftest.py):

* `fleet_index`: small real variant wheels (torch 2.14.1 as `null`, `cuda12.8`, `cuda13.0`,
  plus a plain dependency) built by `support.wheels`, written with `wheelmagic index build`
  and served on loopback by `support.server`, which counts every request;
* `fleet_venv(...)`: a throwaway venv (no pip: the project venv's packages come through a
  `.pth` added *after* its own site-packages, so installs land in the throwaway venv) with
  console scripts `wheelmagic`, `jupyterhub-singleuser` and `dask` in its `bin/`, like an
  image that `pip install`ed them;
* `machine(kind)`: a recorded platform snapshot (`tests/data/platforms`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.e2e import overlay_venv
from support.server import Server, serve_directory
from support.wheels import LABELS, build_plain_wheel, build_wheel

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ROOT / "tests" / "data" / "platforms"

#: machine kind -> (recorded snapshot, the torch build that fits it on `fleet_index`)
MACHINES: dict[str, tuple[str, str]] = {
    "cpu": ("cpu-x86_64-v3.snapshot.json", "cpu"),
    "t4": ("nvidia-t4-driver535.snapshot.json", "cuda12.8"),
    "h100": ("nvidia-h100-driver580.snapshot.json", "cuda13.0"),
}

SCRIPTS = {
    "wheelmagic": "from wheelmagic.cli import main",
    "jupyterhub-singleuser": "from jupyterhub.singleuser import main",
    "dask": "from dask.__main__ import main",
}


def machine(kind: str) -> Path:
    path = PLATFORMS / MACHINES[kind][0]
    assert path.is_file(), path
    return path


def expected_build(kind: str) -> str:
    return MACHINES[kind][1]


@dataclass
class FleetIndex:
    server: Server
    url: str
    wheels: Path

    def wheel_downloads(self) -> int:
        """GET requests for wheel files answered with a body (a 304 or a HEAD is not one)."""
        return sum(
            1
            for r in list(self.server.requests)
            if r.method == "GET" and r.path.endswith(".whl") and r.status in (200, 206)
        )


def build_fleet_wheels(wheels: Path, payload: int = 1 << 20) -> Path:
    build_wheel(
        wheels, "torch", "2.14.1", label="null", payload=payload, properties={}, requires=["mpdep"]
    )
    for label in ("cuda12.8", "cuda13.0"):
        build_wheel(
            wheels,
            "torch",
            "2.14.1",
            label=label,
            payload=payload,
            properties={"nvidia": LABELS[label]["nvidia"]},
            requires=["mpdep"],
        )
    build_plain_wheel(wheels, "mpdep", "1.0")
    return wheels


@pytest.fixture(scope="module")
def fleet_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetIndex]:
    from wheelmagic.index.build import build_index

    base = tmp_path_factory.mktemp("fleet-index")
    wheels = build_fleet_wheels(base / "wheels")
    www = base / "www"
    build_index(wheels, www, link="copy")
    with serve_directory(www) as srv:
        yield FleetIndex(srv, srv.url("simple/"), wheels)


@dataclass
class FleetVenv:
    prefix: Path
    python: str

    @property
    def bin(self) -> Path:
        return self.prefix / "bin"

    def run(self, code: str, env: dict[str, str] | None = None) -> str:
        out = subprocess.run(
            [self.python, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def torch_build(self) -> str:
        """`torch.__build__` of the torch in this venv, asserting it is this venv's own."""
        build, where = self.run("import torch; print(torch.__build__, torch.__file__)").split()
        assert where.startswith(str(self.prefix)), where
        return build


def fleet_venv(base: Path) -> FleetVenv:
    """A venv with the project's packages behind its own, and their console scripts."""
    prefix = base / "venv"
    python = overlay_venv(prefix)
    for name, imp in SCRIPTS.items():
        script = prefix / "bin" / name
        script.write_text(
            f"#!{python}\nimport sys\n{imp}\nif __name__ == '__main__':\n    sys.exit(main())\n"
        )
        script.chmod(0o755)
    return FleetVenv(prefix, python)


def fleet_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A clean environment: none of this machine's pip/uv/wheelmagic settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WHEELMAGIC_", "PIP_", "UV_", "VIRTUAL_ENV", "PYTHON", "JUPYTER"))
    }
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "UV_CACHE_DIR": str(tmp / "uv-cache"),
            # never the developer's own cache (a test that shares one passes its own)
            "WHEELMAGIC_CACHE_DIR": str(tmp / "wm-cache"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra)
    return env
