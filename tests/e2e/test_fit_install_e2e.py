"""Issue 15 end to end: the CLI installs the older release that uses the GPU, into a real venv.

A T4 whose driver (525.60.11) is one patch below CUDA 12's minor-version-compatibility floor,
and a per-backend tree shaped like PyTorch's (tests/support/torch_tree.py): the newest release
has no build this driver runs, so `wheelmagic install torch` installs 2.7.1+cu118 and says why.
Bad input (an unknown --prefer) is refused before anything is touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.e2e import clean_env, make_venv, py, wheelmagic
from support.server import serve_directory
from support.torch_tree import local_platform_tag, per_backend_tree

PLATFORMS = Path(__file__).resolve().parent.parent / "data" / "platforms"
TAG = local_platform_tag()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(TAG is None, reason="needs a Linux x86_64 CPython host"),
]
VERSION = "import importlib.metadata as m; print(m.version('torch'))"


def test_driver_below_the_floor_installs_the_release_that_uses_the_gpu(tmp_path: Path) -> None:
    assert TAG is not None
    # the tree's wheels are tagged for the venv's interpreter (this one)
    per_backend_tree(tmp_path / "www", TAG)
    (tmp_path / "www" / "pypi").mkdir()
    python = make_venv(tmp_path / "venv")
    snapshot = PLATFORMS / "nvidia-t4-driver525-60-11.snapshot.json"
    with serve_directory(tmp_path / "www") as srv:
        env = clean_env(
            tmp_path / "cache",
            {
                "WHEELMAGIC_PYTORCH_INDEX_BASE": srv.url("whl"),
                "WHEELMAGIC_PYTORCH_VARIANT_INDEX": srv.url("pypi/"),
            },
        )
        common = ["--platform", str(snapshot), "--python", python, "--index-url", srv.url("pypi/")]
        bad = wheelmagic("install", "torch", "--prefer", "oldest", "--yes", *common, env=env)
        assert bad.returncode != 0 and "--prefer" in bad.output
        assert py(python, VERSION).returncode != 0  # nothing installed
        ran = wheelmagic(
            "install",
            "torch",
            "--torch-backend",
            "auto",
            "--backend",
            "pip",
            "--yes",
            *common,
            env=env,
        )
    assert ran.returncode == 0, ran.output
    assert "torch 2.9.0 has no build that uses your Tesla T4" in ran.output
    assert "update the NVIDIA driver to >= 525.60.13" in ran.output
    assert py(python, VERSION).stdout.strip() == "2.7.1+cu118"
