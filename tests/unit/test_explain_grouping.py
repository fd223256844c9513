"""`--explain` counts the files for other platforms and other Pythons in one line per
requirement; `--explain=all` lists them (issue 13 item 7)."""

from __future__ import annotations

import sys
from pathlib import Path

from support.e2e import clean_env, wheelmagic
from support.server import serve_directory
from support.wheels import build_wheel

from wheelmagic.index.build import build_index

SNAPSHOT = Path(__file__).parent.parent / "data" / "platforms" / "cpu-x86_64-v3.snapshot.json"
CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
OTHER_PY = f"cp{sys.version_info[0]}{sys.version_info[1] + 1}"
FITS = f"{CP}-{CP}-manylinux_2_28_x86_64"
OTHER_PLATFORMS = [f"{CP}-{CP}-win_amd64", f"{CP}-{CP}-macosx_11_0_arm64", f"{CP}-{CP}-win_arm64"]
OTHER_PYTHONS = [f"{OTHER_PY}-{OTHER_PY}-manylinux_2_28_x86_64"]


def explain(tmp_path: Path, flag: str) -> str:
    for tag in (FITS, *OTHER_PLATFORMS, *OTHER_PYTHONS):
        build_wheel(tmp_path / "w", "torch", "2.14.1", tag=tag)
    build_index(tmp_path / "w", tmp_path / "www")
    with serve_directory(tmp_path / "www") as srv:
        ran = wheelmagic(
            "install",
            "torch",
            "--dry-run",
            flag,
            "--platform",
            str(SNAPSHOT),
            "--index-url",
            srv.url("simple/"),
            "--torch-backend",
            "none",
            env=clean_env(tmp_path),
        )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def test_explain_counts_files_for_other_platforms_and_pythons(tmp_path: Path) -> None:
    out = explain(tmp_path, "--explain")
    assert "  x 3 files for other platforms, 1 for other Pythons; --explain=all shows them" in out
    for tag in (*OTHER_PLATFORMS, *OTHER_PYTHONS):
        assert tag not in out, out
    assert FITS in out  # the chosen file is still named


def test_explain_all_lists_them(tmp_path: Path) -> None:
    out = explain(tmp_path, "--explain=all")
    for tag in (*OTHER_PLATFORMS, *OTHER_PYTHONS):
        assert f"torch-2.14.1-{tag}.whl" in out, out
    assert "--explain=all shows them" not in out
