"""`wheelmagic index build` with a missing or empty input directory is an error that writes
nothing (issue 13 item 8)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wheelmagic", "index", "build", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("kind", ["missing", "empty", "file", "no-wheels"])
def test_no_wheels_to_index_is_an_error(kind: str, tmp_path: Path) -> None:
    src = tmp_path / "in"
    if kind == "empty":
        src.mkdir()
    elif kind == "file":
        src.write_text("not a directory")
    elif kind == "no-wheels":
        src.mkdir()
        (src / "torch-2.14.1.tar.gz").write_bytes(b"sdist")
    out = tmp_path / "out"
    ran = build(str(src), str(out))
    assert ran.returncode != 0
    (first, hint) = ran.stderr.strip().splitlines()
    assert first.startswith(f"wheelmagic: error: {src}: "), ran.stderr
    assert hint.startswith("  -> ")
    assert not out.exists()
