"""The README's quick start (issue 13 item 11): `detect` runs once, and the demo says how to
serve its index again, which works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.server import serve_directory

ROOT = Path(__file__).resolve().parents[2]
CPU_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")


def test_setup_leaves_detect_to_the_demo() -> None:
    setup = (ROOT / "scripts" / "setup-and-demo.sh").read_text()
    commands = [line for line in setup.splitlines() if not line.lstrip().startswith("#")]
    assert not [c for c in commands if re.search(r"wheelmagic\b.*\bdetect\b", c)]
    assert any(c.startswith("bash scripts/demo.sh") for c in commands)


@pytest.mark.skipif(not CPU_WHEEL.exists(), reason="the package mirror's torch wheels are absent")
def test_demo_detects_once_and_its_index_can_be_served_again(tmp_path: Path) -> None:
    ran = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PY": sys.executable},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = ran.stdout
    assert out.count("== wheelmagic detect") == 1 and out.count("platform: ") == 1, out
    assert "To serve it again" in out
    www = ROOT / ".cache" / "demo" / "www"
    with serve_directory(www) as srv:
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "wheelmagic",
                "install",
                "torch",
                "--dry-run",
                "--index-url",
                srv.url("simple/"),
                "--platform",
                str(ROOT / "tests/data/platforms/nvidia-h100-driver580.snapshot.json"),
            ],
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp_path),
                "PIP_CONFIG_FILE": "/dev/null",
                "WHEELMAGIC_CACHE_DIR": str(tmp_path / "cache"),
            },
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert again.returncode == 0 and "torch 2.14.1 [cuda13.0]" in again.stdout, again.stderr
