"""`--python` takes a command name on PATH (`--python python3.11`), as pip and uv do (issue 15)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from wheelmagic.interpreter import InterpreterError, clear_cache, inspect_interpreter


def test_a_command_name_is_looked_up_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.99wm").symlink_to(sys.executable)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    clear_cache()
    found = inspect_interpreter("python3.99wm")
    # the PATH entry itself, unresolved (a venv's bin/python symlink must stay the venv's)
    assert found.executable == str(bin_dir / "python3.99wm")
    assert found.python_version.major == sys.version_info.major


def test_an_unknown_command_name_says_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(InterpreterError) as err:
        inspect_interpreter("python3.99-not-here")
    assert "no command of that name on PATH" in err.value.message
    assert "python3.11" in (err.value.hint or "")
