"""`wheelmagic.interpreter`: this interpreter in-process, others through a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.tags import sys_tags
from packaging.version import Version

from wheelmagic.errors import WheelmagicError
from wheelmagic.interpreter import InterpreterError, clear_cache, inspect_interpreter


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real throwaway venv without pip (and without packaging)."""
    root = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    return root


def test_current_interpreter_in_process() -> None:
    interp = inspect_interpreter()
    assert interp.executable == sys.executable
    assert interp.python_version == Version(".".join(map(str, sys.version_info[:3])))
    assert interp.tags == tuple(sys_tags())
    assert interp.marker_env["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert interp.implementation == sys.implementation.name
    assert interp.purelib and interp.purelib in interp.site_packages
    assert "" not in interp.sys_path
    assert inspect_interpreter(sys.executable) is interp  # same path: in-process, cached


def test_venv_without_packaging(venv: Path) -> None:
    python = venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import packaging"], capture_output=True)
    assert probe.returncode != 0, "the throwaway venv should not have packaging"
    interp = inspect_interpreter(str(python))
    assert interp.executable == str(python)  # not resolved to the base interpreter
    assert interp.is_venv
    assert Path(interp.sys_prefix) == venv.resolve() or Path(interp.sys_prefix) == venv
    assert Path(interp.purelib).name == "site-packages"
    assert str(venv.name) in interp.purelib
    assert interp.purelib in interp.sys_path
    assert interp.tags[0] == next(iter(sys_tags()))  # same base Python as ours
    assert interp.marker_env["implementation_name"] == sys.implementation.name
    # our packaging's directory was only borrowed for the probe
    import packaging

    ours = os.path.dirname(os.path.dirname(packaging.__file__))
    assert ours not in interp.sys_path
    assert interp.to_json()["is_venv"] is True


def test_cached_per_path_and_mtime(venv: Path) -> None:
    python = str(venv / "bin" / "python")
    first = inspect_interpreter(python)
    assert inspect_interpreter(python) is first
    clear_cache()
    assert inspect_interpreter(python) is not first


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "python"
    with pytest.raises(InterpreterError) as err:
        inspect_interpreter(str(missing))
    assert str(missing) in str(err.value)
    assert "--python" in str(err.value)
    assert isinstance(err.value, WheelmagicError)


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fakepython"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_not_a_python(tmp_path: Path) -> None:
    fake = _script(tmp_path, "echo 'not python' >&2; exit 3")
    with pytest.raises(InterpreterError, match=r"not a working Python interpreter \(exit status 3"):
        inspect_interpreter(fake)


def test_garbage_output(tmp_path: Path) -> None:
    fake = _script(tmp_path, "echo hello")
    with pytest.raises(InterpreterError, match="did not print the probe's answer") as err:
        inspect_interpreter(fake)
    assert fake in str(err.value)


def test_not_executable(tmp_path: Path) -> None:
    path = tmp_path / "python"
    path.write_text("")
    with pytest.raises(InterpreterError, match="not a working Python interpreter"):
        inspect_interpreter(str(path))


def test_timeout(tmp_path: Path) -> None:
    fake = _script(tmp_path, "sleep 5")
    with pytest.raises(InterpreterError, match="did not answer within 0.5s"):
        inspect_interpreter(fake, timeout=0.5)
