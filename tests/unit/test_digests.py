"""A wheel's sha256 is remembered on the file across processes (install.digests), and only
believed for this user's own, unchanged, not-shared file; anything else is hashed again.

"A new process" is simulated by emptying `cache._VERIFIED`; "hashed" is observed by making
`hashlib.sha256` unusable (no timing).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from wheelmagic.install import cache, digests


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    p = tmp_path / "torch-2.14.1-cp311-cp311-linux_x86_64.whl"
    p.write_bytes(os.urandom(3 << 20))
    p.chmod(0o644)
    try:
        os.setxattr(p, "user.wheelmagic.probe", b"1")
    except OSError:
        pytest.skip("this file system keeps no user extended attributes")
    return p


def _new_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_VERIFIED", {})


def _no_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object) -> object:
        raise AssertionError("hashed")

    monkeypatch.setattr(cache.hashlib, "sha256", boom)


def test_a_hashed_file_is_not_hashed_again_by_the_next_process(
    wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = _digest(wheel)
    assert cache.verified_sha256(wheel) == want
    _new_process(monkeypatch)
    _no_hashing(monkeypatch)
    assert cache.verified_sha256(wheel) == want


def test_a_file_we_wrote_is_remembered_too(wheel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = _digest(wheel)
    cache.remember(wheel, want)
    _new_process(monkeypatch)
    _no_hashing(monkeypatch)
    assert cache.verified_sha256(wheel) == want


def test_rewritten_bytes_are_hashed_again(wheel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.verified_sha256(wheel)
    with open(wheel, "r+b") as fh:  # same inode, same size, other bytes: a new mtime
        fh.write(b"planted!")
    _new_process(monkeypatch)
    assert cache.verified_sha256(wheel) == _digest(wheel)


def test_a_copy_that_kept_the_attribute_is_hashed_again(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.verified_sha256(wheel)
    copy = tmp_path / "copy.whl"
    shutil.copy2(wheel, copy)  # copies xattrs and mtime; not the inode
    assert os.getxattr(copy, digests.ATTR) == os.getxattr(wheel, digests.ATTR)
    _new_process(monkeypatch)
    _no_hashing(monkeypatch)
    with pytest.raises(AssertionError, match="hashed"):
        cache.verified_sha256(copy)


def test_a_file_others_may_write_is_hashed_again(
    wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.verified_sha256(wheel)
    wheel.chmod(0o664)
    _new_process(monkeypatch)
    _no_hashing(monkeypatch)
    with pytest.raises(AssertionError, match="hashed"):
        cache.verified_sha256(wheel)


@pytest.mark.parametrize(
    "value",
    [b"", b"garbage", b"x" * 500, b"zz" * 32 + b" 1 2 3 4", "\u00e9".encode()],
    ids=["empty", "garbage", "long", "not hex", "not ascii"],
)
def test_a_malformed_or_planted_value_is_hashed_again(
    wheel: Path, monkeypatch: pytest.MonkeyPatch, value: bytes
) -> None:
    os.setxattr(wheel, digests.ATTR, value)
    _new_process(monkeypatch)
    assert cache.verified_sha256(wheel) == _digest(wheel)


def test_a_value_for_another_file_identity_is_not_believed(
    wheel: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = wheel.stat()
    fake = f"{'0' * 64} {st.st_dev} {st.st_ino + 1} {st.st_mtime_ns} {st.st_size}"
    os.setxattr(wheel, digests.ATTR, fake.encode())
    _new_process(monkeypatch)
    assert cache.verified_sha256(wheel) == _digest(wheel)
