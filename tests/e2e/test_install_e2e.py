"""The main job with real PyTorch wheels: the right variant, installed, importing, healthy.

One loopback index, built by `wheelmagic index build` from this machine's real wheels repacked
as variants (torch 2.13.0 `null` from the CPU build, torch 2.14.1 `cuda13.0` from the CUDA 13.0
build) plus their real dependencies (the nvidia-* runtime wheels, ~3 GB, symlinked). One venv
goes through the story in order: CPU install -> (H100 snapshot) CUDA install -> back to CPU.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.e2e import (
    clean_env,
    have_real_wheels,
    index_build,
    make_venv,
    pip_check,
    py,
    real_wheel_dir,
    snapshot,
    wheelmagic,
)
from support.server import Server, serve_directory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not have_real_wheels(cuda=True), reason="no real torch wheels here"),
]


class World:
    def __init__(self, srv: Server, env: dict[str, str], python: str) -> None:
        self.srv = srv
        self.env = env
        self.python = python
        self.url = srv.url("simple/")

    def cli(self, *args: str, platform: str, timeout: float = 900):  # type: ignore[no-untyped-def]
        return wheelmagic(
            *args,
            "--index-url",
            self.url,
            "--platform",
            str(snapshot(platform)),
            "--python",
            self.python,
            env=self.env,
            timeout=timeout,
        )

    def plan(self, platform: str) -> dict:  # type: ignore[type-arg]
        ran = self.cli("install", "torch", "--dry-run", "--json", platform=platform)
        assert ran.returncode == 0, ran.output
        return json.loads(ran.stdout)  # type: ignore[no-any-return]

    def torch(self) -> str:
        ran = py(
            self.python,
            "import torch; t = torch.ones(2); "
            "print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), "
            "int(t.sum()))",
            self.env,
        )
        assert ran.returncode == 0, ran.output
        return ran.stdout.strip().splitlines()[-1]

    def healthy(self) -> None:
        ran = pip_check(self.python, self.env)
        assert ran.returncode == 0, ran.output


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("e2e-real")
    env = clean_env(base / "cache")
    wheels = real_wheel_dir(base / "wheels", cuda=True)
    www = index_build(wheels, base / "www", env)
    python = make_venv(base / "venv")
    with serve_directory(www) as srv:
        yield World(srv, env, python)


def test_cpu_platform_installs_the_null_variant(world: World) -> None:
    plan = world.plan("cpu")
    [torch] = plan["packages"]
    assert (torch["name"], torch["version"], torch["variant"]) == ("torch", "2.13.0", "null")
    assert torch["filename"].endswith("-null.whl") and torch["sha256"]
    assert plan["platform"] and plan["reasons"]

    ran = world.cli("install", "torch", "--yes", platform="cpu")
    assert ran.returncode == 0, ran.output
    assert world.torch() == "2.13.0+cpu None False 2"
    world.healthy()
    site = py(world.python, "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout
    assert (Path(site.strip()) / "torch-2.13.0.dist-info" / "variant.json").exists()


def test_preinstall_is_a_fast_offline_noop_when_it_fits(world: World) -> None:
    before = len(world.srv.requests)
    ran = world.cli("preinstall", "torch", platform="cpu")
    assert ran.returncode == 0, ran.output
    assert "already fits" in ran.stdout and len(ran.stdout.strip().splitlines()) == 1
    assert len(world.srv.requests) == before  # no network at all
    assert ran.seconds < 10


def test_h100_snapshot_installs_cuda13_with_nvidia_deps(world: World) -> None:
    plan = world.plan("h100")
    [torch] = plan["packages"]
    assert (torch["version"], torch["variant"]) == ("2.14.1", "cuda13.0")

    ran = world.cli("install", "torch", "--yes", platform="h100", timeout=1200)
    assert ran.returncode == 0, ran.output
    # this machine has no GPU: the CUDA build imports and reports no device
    assert world.torch() == "2.14.1+cu130 13.0 False 2"
    world.healthy()
    listed = py(
        world.python,
        "import importlib.metadata as m; "
        "print(sorted(d.metadata['Name'].lower() for d in m.distributions()))",
    ).stdout
    for dep in ("nvidia-cublas", "nvidia-cudnn-cu13", "nvidia-nccl-cu13", "cuda-toolkit", "triton"):
        assert dep in listed, listed
    doctor = wheelmagic(
        "doctor", "--platform", str(snapshot("h100")), "--python", world.python, env=world.env
    )
    assert doctor.returncode == 0, doctor.output
    assert "fits" in doctor.output
    again = world.cli("preinstall", "torch", platform="h100")
    assert again.returncode == 0 and "already fits" in again.stdout, again.output


def test_switch_back_to_cpu_downgrade_and_forward_again(world: World) -> None:
    if "cu130" not in world.torch():
        assert world.cli("install", "torch", "--yes", platform="h100").returncode == 0
    ran = world.cli("install", "torch", "--yes", "--backend", "pip", platform="cpu")
    assert ran.returncode == 0, ran.output
    assert "downgraded torch" in ran.stdout
    assert world.torch() == "2.13.0+cpu None False 2"
    world.healthy()
    ran = world.cli("install", "torch", "--yes", "--backend", "uv", platform="h100")
    assert ran.returncode == 0, ran.output
    assert "upgraded torch" in ran.stdout
    assert world.torch() == "2.14.1+cu130 13.0 False 2"
    world.healthy()


def test_dry_run_changes_nothing(world: World) -> None:
    before = world.torch()
    ran = world.cli("install", "torch", "--dry-run", platform="cpu")
    assert ran.returncode == 0, ran.output
    assert world.torch() == before
    assert sys.executable  # the CLI ran with this interpreter
