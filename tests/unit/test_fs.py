"""The one cache directory and the one atomic write."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wheelmagic._fs import atomic_write, cache_dir


def test_cache_dir_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path


@pytest.mark.parametrize("xdg", [None, "", "  ", "/somewhere/cache"])
def test_cache_dir_is_platformdirs_answer(
    xdg: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Linux shortcut (no platformdirs import at kernel start) must agree with platformdirs."""
    from platformdirs import user_cache_dir

    monkeypatch.delenv("WHEELMAGIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    if xdg is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert cache_dir() == Path(user_cache_dir("wheelmagic"))
    if sys.platform.startswith("linux"):
        assert cache_dir() == Path(xdg.strip() if xdg and xdg.strip() else tmp_path / ".cache") / (
            "wheelmagic"
        )


def test_the_cache_users_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attempts, downloads and `cache clear` use the same directory."""
    from wheelmagic.attempts import Attempts
    from wheelmagic.install.cache import WheelCache

    monkeypatch.delenv("WHEELMAGIC_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert Attempts().directory == WheelCache().dir == cache_dir()


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.json"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f"
    atomic_write(target, b"old")
    with pytest.raises(TypeError):
        atomic_write(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]
