"""A wheel staged before is reused without reading its zip again, and only while the memo,
the source and the staged file all check out (execute._staged_before; real wheels on disk).
"Read again" is observed by making `zipfile.ZipFile` unusable, not by timing."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from support.wheels import build_wheel

from wheelmagic.install import execute
from wheelmagic.install.plan import PlannedFile
from wheelmagic.variants.filename import parse_wheel_name


def _planned(path: Path) -> PlannedFile:
    w = parse_wheel_name(path.name)
    return PlannedFile(
        name=canonicalize_name(w.name),
        version=w.version,
        filename=path.name,
        label=None,
        url=path.as_uri(),
        index_url="file:///index/simple/",
        sha256=None,
        size=path.stat().st_size,
        properties={},
        supported={},
    )


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "wheels", "torch", "2.14.1", payload=1 << 16)


def _no_zip(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> object:
        raise AssertionError("zip read")

    monkeypatch.setattr(zipfile, "ZipFile", boom)


def _memo(cache: Path) -> Path:
    [memo] = (cache / "staged").glob(f"*/{execute.STAGED_MEMO}")
    return memo


def test_a_wheel_staged_before_is_reused_without_reading_it(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = execute._stage_one(_planned(wheel), wheel, cache)
    assert first.members  # what the backup watches came from the zip the first time
    _no_zip(monkeypatch)
    again = execute._stage_one(_planned(wheel), wheel, cache)
    assert (again.path, again.rewritten, again.requires, again.members) == (
        first.path,
        first.rewritten,
        first.requires,
        first.members,
    )


def _tamper_memo(memo: Path) -> None:
    data = json.loads(memo.read_text())
    data["source_sha256"] = "0" * 64
    memo.write_text(json.dumps(data))


def _share_memo(memo: Path) -> None:
    memo.chmod(0o666)


def _replace_staged(memo: Path) -> None:
    staged = memo.parent / json.loads(memo.read_text())["path"]
    staged.write_bytes(b"not the wheel")


def _escaping_name(memo: Path) -> None:
    data = json.loads(memo.read_text())
    data["path"] = "../../elsewhere.whl"
    memo.write_text(json.dumps(data))


def _garbage(memo: Path) -> None:
    memo.write_bytes(b"{garbage")


@pytest.mark.parametrize(
    "damage",
    [_tamper_memo, _share_memo, _replace_staged, _escaping_name, _garbage],
    ids=["other source", "others may write it", "staged file replaced", "escaping", "garbage"],
)
def test_a_memo_that_does_not_check_out_stages_again(
    wheel: Path, tmp_path: Path, damage: object
) -> None:
    cache = tmp_path / "cache"
    first = execute._stage_one(_planned(wheel), wheel, cache)
    assert callable(damage)
    damage(_memo(cache))
    assert execute._staged_before(wheel, first.path.parent) is None
    again = execute._stage_one(_planned(wheel), wheel, cache)  # the full path, and it works
    assert again.path.read_bytes() == wheel.read_bytes()


def test_other_bytes_under_the_same_name_are_staged_afresh(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    execute._stage_one(_planned(wheel), wheel, cache)
    other = build_wheel(tmp_path / "other", "torch", "2.14.1", payload=1 << 16)
    assert other.name == wheel.name and other.stat().st_size == wheel.stat().st_size
    os.replace(other, wheel)  # same name and size (the key), other bytes
    staged = execute._stage_one(_planned(wheel), wheel, cache)
    assert staged.path.read_bytes() == wheel.read_bytes()
