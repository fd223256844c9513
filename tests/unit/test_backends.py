"""Installer command lines: index passwords never appear in argv (the process list)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wheelmagic.index.constraints import ConstraintFile
from wheelmagic.install.backends import _index_args, index_env


@dataclass
class Ix:
    index_urls: tuple[str, ...]
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    constraints: tuple[ConstraintFile, ...] = ()


SECRET = "https://alice:s3cret@pkgs.example/simple"


def test_password_urls_go_to_the_environment_not_argv() -> None:
    ix = Ix((SECRET, "https://pypi.org/simple"))
    for uv in (False, True):
        argv = _index_args(ix, uv=uv)
        assert not any("s3cret" in a for a in argv)
        assert "https://pypi.org/simple" in argv  # no password: stays a flag
        env = index_env(ix, uv=uv)
        assert env == {("UV_INDEX_URL" if uv else "PIP_INDEX_URL"): SECRET}


def test_extra_index_with_password_moves_all_extras_together() -> None:
    ix = Ix(("https://pypi.org/simple", SECRET, "https://other.example/simple"))
    argv = _index_args(ix, uv=False)
    assert argv[:2] == ["--index-url", "https://pypi.org/simple"]
    assert "--extra-index-url" not in argv
    assert index_env(ix, uv=False) == {
        "PIP_EXTRA_INDEX_URL": f"{SECRET} https://other.example/simple"
    }


def test_plain_urls_stay_flags() -> None:
    ix = Ix(("https://pypi.org/simple", "https://download.pytorch.org/whl/cu128"))
    assert index_env(ix, uv=False) == {}
    assert _index_args(ix, uv=False) == [
        "--index-url",
        "https://pypi.org/simple",
        "--extra-index-url",
        "https://download.pytorch.org/whl/cu128",
    ]
