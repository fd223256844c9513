"""`--platform` for another OS warns; `--python-platform` plans with that platform's tags
(issue 13 item 6); `--python /bin/ls` is a one-line error (item 11)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.e2e import Ran, clean_env, wheelmagic
from support.server import serve_directory
from support.wheels import build_wheel

from wheelmagic.errors import WheelmagicError
from wheelmagic.index.build import build_index
from wheelmagic.interpreter import inspect_interpreter, python_platform

PLATFORMS = Path(__file__).parent.parent / "data" / "platforms"
M2 = PLATFORMS / "apple-m2-macos14.snapshot.json"
CP = f"cp{sys.version_info[0]}{sys.version_info[1]}"
LINUX = f"{CP}-{CP}-manylinux_2_28_x86_64"
MAC = f"{CP}-{CP}-macosx_11_0_arm64"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("ppidx")
    for tag in (LINUX, MAC):
        build_wheel(root / "w", "torch", "2.14.1", tag=tag)
    build_index(root / "w", root / "www")
    with serve_directory(root / "www") as srv:
        yield srv.url("simple/")


def run(tmp_path: Path, *args: str) -> Ran:
    return wheelmagic(*args, env=clean_env(tmp_path))


def plan(tmp_path: Path, index: str, *extra: str) -> dict:  # type: ignore[type-arg]
    ran = run(
        tmp_path,
        "install",
        "torch",
        "--dry-run",
        "--json",
        "--platform",
        str(M2),
        "--index-url",
        index,
        "--torch-backend",
        "none",
        *extra,
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)  # type: ignore[no-any-return]


@pytest.mark.skipif(
    not (sys.platform == "linux" and os.uname().machine == "x86_64"), reason="a Linux x86_64 host"
)
def test_a_snapshot_of_another_os_warns_and_names_the_option(tmp_path: Path, index: str) -> None:
    p = plan(tmp_path, index)
    assert p["packages"][0]["filename"].endswith("manylinux_2_28_x86_64.whl")
    (warning,) = [w for w in p["warnings"] if "platform snapshot" in w]
    assert "is macos aarch64, but the target interpreter runs on linux x86_64" in warning
    assert "--python-platform aarch64-apple-darwin" in warning


def test_python_platform_plans_with_that_platforms_tags(tmp_path: Path, index: str) -> None:
    p = plan(tmp_path, index, "--python-platform", "aarch64-apple-darwin")
    assert p["packages"][0]["filename"].endswith("macosx_11_0_arm64.whl")
    assert not [w for w in p["warnings"] if "platform snapshot" in w]


def test_python_platform_is_for_planning_only(tmp_path: Path, index: str) -> None:
    ran = run(
        tmp_path,
        "install",
        "torch",
        "--yes",
        "--platform",
        str(M2),
        "--index-url",
        index,
        "--torch-backend",
        "none",
        "--python-platform",
        "macos",
    )
    assert ran.returncode != 0
    assert "--python-platform macos plans for another machine" in ran.stderr, ran.stderr


def test_python_platform_names() -> None:
    assert python_platform("linux")[:2] == ("linux", "x86_64")
    assert python_platform("x86_64-manylinux_2_31")[2][0] == "manylinux_2_31_x86_64"
    assert "manylinux2014_aarch64" in python_platform("aarch64-unknown-linux-gnu")[2]
    assert python_platform("windows")[2] == ["win_amd64"]
    assert python_platform("macos")[2][0] == "macosx_13_0_arm64"
    with pytest.raises(WheelmagicError, match="not a platform wheelmagic knows"):
        python_platform("x86_64-beos")


def test_not_a_python_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(WheelmagicError) as err:
        inspect_interpreter("/bin/ls")
    message = str(err.value.message)
    assert "\n" not in message and "import json" not in message and len(message) < 200
    assert message.startswith("/bin/ls: not a working Python interpreter")
    ran = run(tmp_path, "install", "torch", "--dry-run", "--python", "/bin/ls")
    assert len(ran.stderr.strip().splitlines()) == 2, ran.stderr  # the error and its hint
