"""`cache info|clear|prune` account for everything wheelmagic keeps, by kind (issue 13, item 1).

Each kind is written by the module that writes it in real use: the download cache's `put`, the
stager, the environment backup, the index page cache, the install log directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support.wheels import build_plain_wheel

from wheelmagic.index.http import PageCache
from wheelmagic.install.cache import KIND_NAMES, WheelCache, sha256_of
from wheelmagic.install.lock import Backup
from wheelmagic.install.stage import stage_wheel
from wheelmagic.variants.markers import VariantEnvironment


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def fill(cache_dir: Path, tmp_path: Path) -> WheelCache:
    """One of each kind, through the real writers."""
    cache = WheelCache(cache_dir)
    src = tmp_path / "src"
    env = VariantEnvironment.for_wheel(None, {}, {})
    for version in ("1.0", "2.0", "3.0"):
        wheel = build_plain_wheel(src, "demo", version)
        copy = tmp_path / f"copy-{version}.whl"
        copy.write_bytes(wheel.read_bytes())
        stored = cache.put(copy, sha256_of(wheel), wheel.name)
        staged = stage_wheel(stored, cache_dir / "staged" / version, env=env)
        os.utime(staged.path, (int(version[0]), int(version[0])))  # 1.0 is the oldest
    # a backup left in the cache (a read-only prefix), as a killed install leaves it
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "x.py").write_text("x = 1\n")
    info = site / "x-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: x\nVersion: 1.0\n")
    (info / "RECORD").write_text(f"x.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    # a prefix the backup cannot be written into (root ignores a read-only mode, so none)
    Backup.take(["x"], [str(site)], str(tmp_path / "not-a-prefix"), cache_dir)
    url = "https://example.invalid/simple/demo/"
    PageCache(cache_dir / "http").store(
        url,
        "application/json",
        httpx.Response(
            200, headers={"etag": '"1"'}, content=b"{}", request=httpx.Request("GET", url)
        ),
        b'{"files": []}',
    )
    (cache_dir / "logs").mkdir()
    (cache_dir / "logs" / "install-1.log").write_text("pip said things\n")
    return cache


def test_info_counts_every_kind_and_all_bytes(tmp_path: Path) -> None:
    cache = fill(tmp_path / "cache", tmp_path)
    info = cache.info()
    assert [u.kind.name for u in info.kinds] == list(KIND_NAMES)
    assert all(u.files > 0 and u.bytes > 0 for u in info.kinds), info.kinds
    locks = _du(tmp_path / "cache" / "locks") if (tmp_path / "cache" / "locks").exists() else 0
    assert sum(u.bytes for u in info.kinds) + locks == info.total_bytes == _du(tmp_path / "cache")
    assert "rollback" in info.usage("staged").kind.why


def test_clear_named_kinds_then_all(tmp_path: Path) -> None:
    cache = fill(tmp_path / "cache", tmp_path)
    cache.clear(["staged", "backups"])
    info = cache.info()
    assert info.usage("staged").bytes == info.usage("backups").bytes == 0
    assert info.usage("downloads").files == 3 and info.usage("http").files == 1
    cache.clear()
    assert all(u.bytes == 0 for u in cache.info().kinds)
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*") if "locks" not in p.parts)


def test_prune_bounds_every_kind(tmp_path: Path) -> None:
    cache = fill(tmp_path / "cache", tmp_path)
    cache.prune(0)
    info = cache.info()
    assert {u.kind.name: u.bytes for u in info.kinds if u.bytes} == {}


def test_trim_staged_keeps_the_installed_build_and_the_one_before(tmp_path: Path) -> None:
    cache = fill(tmp_path / "cache", tmp_path)
    removed = cache.trim_staged()
    assert [p.name for p in removed] == ["1.0"]
    assert sorted(p.name for p in (tmp_path / "cache" / "staged").iterdir()) == ["2.0", "3.0"]


def test_cache_command_reports_kinds_and_clears_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelmagic.commands import cache as cache_cmd

    fill(tmp_path / "cc", tmp_path)
    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path / "cc"))
    parser = argparse.ArgumentParser()
    cache_cmd.register(parser.add_subparsers())

    def call(*argv: str) -> str:
        args = parser.parse_args(["cache", *argv])
        assert args.func(args) == 0
        return capsys.readouterr().out

    data = json.loads(call("info", "--json"))
    assert set(data["kinds"]) == set(KIND_NAMES) == set(cache_cmd._KIND_NAMES)
    assert data["total_bytes"] == _du(tmp_path / "cc")
    text = call("info")
    assert all(f"  {k}" in text for k in KIND_NAMES)
    call("clear", "http")
    assert json.loads(call("info", "--json"))["kinds"]["http"]["bytes"] == 0
    call("clear")
    assert json.loads(call("info", "--json"))["kinds"]["staged"]["bytes"] == 0


def test_a_confirmed_install_leaves_no_backup(tmp_path: Path) -> None:
    """The backup of the replaced build is removed as soon as the install is confirmed."""
    from packaging.utils import canonicalize_name
    from support.wheels import build_wheel

    from wheelmagic.install.backends import PipBackend
    from wheelmagic.install.execute import execute
    from wheelmagic.install.plan import Plan, PlannedFile
    from wheelmagic.interpreter import clear_cache, inspect_interpreter
    from wheelmagic.variants.filename import parse_wheel_name

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    clear_cache()
    interp = inspect_interpreter(str(venv / "bin" / "python"))
    cache_dir = tmp_path / "cache"
    for version in ("1.0", "2.0"):  # install, then replace it (a backup is taken of 1.0)
        path = build_wheel(tmp_path / "w", "demo-pkg", version)
        w = parse_wheel_name(path.name)
        planned = PlannedFile(
            name=canonicalize_name(w.name),
            version=w.version,
            filename=path.name,
            label=None,
            url=path.as_uri(),
            index_url="file:///test-index/simple/",
            sha256=None,
            size=path.stat().st_size,
            properties={},
            supported={},
        )
        plan = Plan(["demo-pkg"], [planned], [], platform=None, interpreter=interp)  # type: ignore[arg-type]
        execute(
            plan, cache_dir=cache_dir, backend=PipBackend(), download=lambda _p, path=path: path
        )
    assert WheelCache(cache_dir).info().usage("backups").files == 0
    leftovers = [p for p in (venv / ".wheelmagic-backup").rglob("*") if p.is_file()]
    assert leftovers == []
