"""pip's and uv's constraint files in planning (issue 13 item 4) and errors that name the
package, what exists and why it does not fit (item 5).

The real CLI against a real loopback index; pip's configuration is isolated: each test writes
its own pip.conf under its own XDG_CONFIG_DIRS/HOME (this machine's /etc/xdg/pip/pip.conf has a
constraint of its own) and strips PIP_*/UV_* from the environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.e2e import Ran, wheelmagic
from support.server import serve_directory
from support.wheels import build_wheel

from wheelmagic.errors import WheelmagicError
from wheelmagic.index.build import build_index
from wheelmagic.index.constraints import ConstraintFile, read_constraints
from wheelmagic.install.backends import find_uv

SNAPSHOT = Path(__file__).parent.parent / "data" / "platforms" / "cpu-x86_64-v3.snapshot.json"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("cidx")
    for version in ("2.13.0", "2.14.1", "2.15.0"):
        build_wheel(root / "w", "torch", version, label="null", properties={})
    build_index(root / "w", root / "www")
    with serve_directory(root / "www") as srv:
        yield srv.url("simple/")


def run(tmp_path: Path, *args: str, **env_extra: str) -> Ran:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "WHEELMAGIC"))}
    xdg = tmp_path / "xdg"
    xdg.mkdir(exist_ok=True)
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_DIRS=str(xdg),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        WHEELMAGIC_CACHE_DIR=str(tmp_path / "cache"),
    )
    env.update(env_extra)
    return wheelmagic(*args, env=env)


def plan(tmp_path: Path, index: str, *extra: str, req: str = "torch", **env: str) -> dict:  # type: ignore[type-arg]
    ran = run(
        tmp_path,
        "install",
        req,
        "--dry-run",
        "--json",
        "--platform",
        str(SNAPSHOT),
        "--index-url",
        index,
        "--torch-backend",
        "none",
        *extra,
        **env,
    )
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)  # type: ignore[no-any-return]


def chosen(p: dict) -> str:  # type: ignore[type-arg]
    return str(p["packages"][0]["version"])


def constraint_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pip_conf_constraint_caps_the_plan_and_explain_says_which(
    tmp_path: Path, index: str
) -> None:
    assert chosen(plan(tmp_path, index)) == "2.15.0"  # nothing configured: the newest
    cap = constraint_file(tmp_path, "admin.txt", "# the admin's cap\ntorch<=2.14.1  # why\n")
    (tmp_path / "xdg" / "pip").mkdir(parents=True)
    (tmp_path / "xdg" / "pip" / "pip.conf").write_text(f"[global]\nconstraint = {cap}\n")
    assert chosen(plan(tmp_path, index)) == "2.14.1"
    ran = run(
        tmp_path,
        "install",
        "torch",
        "--dry-run",
        "--explain",
        "--platform",
        str(SNAPSHOT),
        "--index-url",
        index,
        "--torch-backend",
        "none",
    )
    assert (
        f"torch: constraint torch<=2.14.1 ({cap} line 2, from pip config constraint) "
        "excluded 2.15.0" in ran.stdout
    ), ran.stdout


def test_pip_constraint_env_wins_over_pip_conf(tmp_path: Path, index: str) -> None:
    conf = constraint_file(tmp_path, "conf.txt", "torch<=2.14.1\n")
    env = constraint_file(tmp_path, "env.txt", "torch<2.14\n")
    (tmp_path / "xdg" / "pip").mkdir(parents=True)
    (tmp_path / "xdg" / "pip" / "pip.conf").write_text(f"[global]\nconstraint = {conf}\n")
    assert chosen(plan(tmp_path, index, PIP_CONSTRAINT=str(env))) == "2.13.0"


@pytest.mark.skipif(find_uv() is None, reason="uv is not installed")
def test_uv_constraint_applies_when_uv_installs(tmp_path: Path, index: str) -> None:
    cap = constraint_file(tmp_path, "uv.txt", "torch==2.13.0\n")
    assert chosen(plan(tmp_path, index, "--backend", "uv", UV_CONSTRAINT=str(cap))) == "2.13.0"
    assert chosen(plan(tmp_path, index, "--backend", "pip", UV_CONSTRAINT=str(cap))) == "2.15.0"


def test_a_constraint_that_excludes_everything_is_named(tmp_path: Path, index: str) -> None:
    cap = constraint_file(tmp_path, "c.txt", "torch<1\n")
    ran = run(
        tmp_path,
        "install",
        "torch",
        "--dry-run",
        "--platform",
        str(SNAPSHOT),
        "--index-url",
        index,
        "--torch-backend",
        "none",
        PIP_CONSTRAINT=str(cap),
    )
    assert ran.returncode != 0
    assert f"torch has 2.13.0, 2.14.1, 2.15.0 on {index}" in ran.stderr, ran.stderr
    assert f"constraint torch<1 ({cap} line 1, from PIP_CONSTRAINT)" in ran.stderr


def test_read_constraints_includes_comments_and_errors(tmp_path: Path) -> None:
    constraint_file(tmp_path, "inner.txt", "torchvision<0.30\n")
    outer = constraint_file(
        tmp_path, "outer.txt", "# c\n-c inner.txt\n--index-url x\ntorch<=2.14.1 # cap\n"
    )
    found, notes = read_constraints([ConstraintFile(str(outer), "PIP_CONSTRAINT")])
    assert [str(c.requirement) for c in found] == ["torchvision<0.30", "torch<=2.14.1"]
    assert notes == [f"{outer} line 3: option --index-url not used"]
    with pytest.raises(WheelmagicError, match="cannot read the constraint file"):
        read_constraints([ConstraintFile(str(tmp_path / "missing.txt"), "PIP_CONSTRAINT")])


# -- item 5: errors that name the package, what exists, and why it does not fit ------------


def fail(tmp_path: Path, index: str, *reqs: str) -> str:
    ran = run(
        tmp_path,
        "install",
        *reqs,
        "--dry-run",
        "--platform",
        str(SNAPSHOT),
        "--index-url",
        index,
        "--torch-backend",
        "none",
    )
    assert ran.returncode != 0, ran.stdout
    return ran.stderr


def test_a_version_that_does_not_exist_lists_the_ones_that_do(tmp_path: Path, index: str) -> None:
    err = fail(tmp_path, index, "torch==9.9")
    assert f"torch has 2.13.0, 2.14.1, 2.15.0 on {index}; none matches ==9.9" in err, err
    assert "for this machine" not in err and "--platform" not in err


def test_an_unknown_package_is_not_about_this_machine(tmp_path: Path, index: str) -> None:
    err = fail(tmp_path, index, "nosuchpkg")
    assert f"nosuchpkg is not on {index}" in err, err
    assert "for this machine" not in err and "--platform" not in err


def test_the_missing_companion_is_blamed(tmp_path: Path, index: str) -> None:
    err = fail(tmp_path, index, "torch", "torchvision")
    first = err.splitlines()[0]
    assert first == f"wheelmagic: error: torchvision is not on {index}", err
