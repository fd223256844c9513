"""Downloads and the cache against the loopback server, with injected faults."""

from __future__ import annotations

import argparse
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import Fault, Server, random_file, serve_directory

from wheelmagic.errors import DownloadError
from wheelmagic.install.cache import WheelCache, parse_size
from wheelmagic.install.download import Fetcher, planned_downloader
from wheelmagic.install.progress import NullProgress, ProgressEvent, Throttle

NAME = "demo-1.0-py3-none-any.whl"
SIZE = 3 * 1024 * 1024 + 17


@pytest.fixture
def srv(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "www"
    root.mkdir()
    random_file(root / NAME, SIZE)
    with serve_directory(root) as server:
        yield server


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetcher(tmp_path: Path, **kw: object) -> Fetcher:
    kw.setdefault("sleep", lambda _s: None)
    return Fetcher(WheelCache(tmp_path / "cache"), **kw)  # type: ignore[arg-type]


def test_download_verifies_and_caches(srv: Server, tmp_path: Path) -> None:
    sha = _sha(srv.root / NAME)
    events: list[ProgressEvent] = []
    with _fetcher(tmp_path, progress=events.append) as f:
        first = f.fetch(srv.url(NAME), filename=NAME, sha256=sha, size=SIZE)
        second = f.fetch(srv.url(NAME), filename=NAME, sha256=sha)
    assert first.path == second.path and second.from_cache and not first.from_cache
    assert first.path.read_bytes() == (srv.root / NAME).read_bytes()
    assert first.path.is_relative_to(tmp_path / "cache" / "wheels")
    assert srv.count("/" + NAME) == 1
    assert events[-1].finished and events[-1].done_bytes == SIZE
    assert not list((tmp_path / "cache" / "tmp").glob("*.part"))


def test_wrong_hash_is_never_used(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("wrong-bytes", times=None)
    sha = _sha(srv.root / NAME)
    with _fetcher(tmp_path) as f, pytest.raises(DownloadError) as info:
        f.fetch(srv.url(NAME), filename=NAME, sha256=sha, package="demo 1.0")
    msg = str(info.value)
    assert sha in msg and srv.url(NAME) in msg and "demo 1.0" in msg and "->" in msg
    assert not list((tmp_path / "cache").rglob(NAME))
    assert not list((tmp_path / "cache" / "tmp").glob("*.part"))


def test_dropped_connection_resumes_with_range(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("drop", after=1024 * 1024)
    sha = _sha(srv.root / NAME)
    with _fetcher(tmp_path) as f:
        result = f.fetch(srv.url(NAME), filename=NAME, sha256=sha)
    assert _sha(result.path) == sha
    ranges = [r.headers.get("Range") for r in srv.requests if r.path == "/" + NAME]
    assert ranges[0] is None and ranges[1] == f"bytes={1024 * 1024}-"
    assert srv.statuses("/" + NAME) == [200, 206]


def test_truncated_body_with_known_size_resumes(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("truncate", after=500_000)
    sha = _sha(srv.root / NAME)
    with _fetcher(tmp_path) as f:
        result = f.fetch(srv.url(NAME), filename=NAME, sha256=sha, size=SIZE)
    assert _sha(result.path) == sha and srv.statuses("/" + NAME) == [200, 206]


def test_truncated_body_unknown_size_fails_hash(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("truncate", after=500_000)
    with _fetcher(tmp_path) as f, pytest.raises(DownloadError, match="failed verification"):
        f.fetch(srv.url(NAME), filename=NAME, sha256=_sha(srv.root / NAME))


def test_server_ignoring_range_restarts(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("drop", after=100_000)
    sha = _sha(srv.root / NAME)
    with _fetcher(tmp_path) as f:
        f.retries = 0
        with pytest.raises(DownloadError, match="run the command again to resume"):
            f.fetch(srv.url(NAME), filename=NAME, sha256=sha)
        srv.faults["/" + NAME] = Fault("no-range")
        result = f.fetch(srv.url(NAME), filename=NAME, sha256=sha)
    assert _sha(result.path) == sha and srv.statuses("/" + NAME)[-1] == 200


def test_500_then_200(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("status", code=500, times=2)
    sleeps: list[float] = []
    with _fetcher(tmp_path, sleep=sleeps.append, backoff=0.5) as f:
        f.fetch(srv.url(NAME), filename=NAME, sha256=_sha(srv.root / NAME))
    assert srv.statuses("/" + NAME) == [500, 500, 200] and sleeps == [0.5, 1.0]


def test_persistent_500_is_bounded(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("status", code=502, times=None)
    with _fetcher(tmp_path, retries=2) as f, pytest.raises(DownloadError, match="3 attempts"):
        f.fetch(srv.url(NAME), filename=NAME)
    assert srv.count("/" + NAME) == 3


def test_404_names_url_and_next_step(srv: Server, tmp_path: Path) -> None:
    with _fetcher(tmp_path) as f, pytest.raises(DownloadError) as info:
        f.fetch(srv.url("gone-1.0-py3-none-any.whl"), index_url=srv.url("simple/"))
    assert "HTTP 404" in str(info.value) and "check the index" in str(info.value)
    assert srv.count("/gone-1.0-py3-none-any.whl") == 1  # no retries on 4xx


def test_slow_server_times_out_then_resumes(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("slow", delay=0.6, times=1)
    sha = _sha(srv.root / NAME)
    with _fetcher(tmp_path, timeout=0.3) as f:
        result = f.fetch(srv.url(NAME), filename=NAME, sha256=sha)
    assert _sha(result.path) == sha and srv.count("/" + NAME) >= 2


def test_no_hash_from_index(srv: Server, tmp_path: Path) -> None:
    with _fetcher(tmp_path) as f:
        result = f.fetch(srv.url(NAME))
    assert result.sha256 == _sha(srv.root / NAME)
    assert "gave no hash" in result.notes[0]
    assert result.path.parent.name == result.sha256


@pytest.mark.parametrize("bad", ["../evil.whl", "a/b.whl", "..", "x\\y.whl"])
def test_unsafe_filenames_rejected(srv: Server, tmp_path: Path, bad: str) -> None:
    with _fetcher(tmp_path) as f, pytest.raises(DownloadError, match="path separator"):
        f.fetch(srv.url(NAME), filename=bad)
    assert srv.requests == []
    assert not list(tmp_path.glob("*.whl")) and not (tmp_path / "evil.whl").exists()


def test_redirect_downgrade_refused(srv: Server, tmp_path: Path) -> None:
    srv.faults["/" + NAME] = Fault("redirect", location="http://10.255.255.1/" + NAME)
    with _fetcher(tmp_path) as f, pytest.raises(DownloadError, match="downgrades"):
        f.fetch(srv.url(NAME))


def test_redirect_to_another_host_leaves_the_credentials_behind(
    srv: Server, tmp_path: Path
) -> None:
    """The shared request loop: a password for the index host is not sent where it redirects."""
    from wheelmagic.index.http import Credentials

    other = srv.url(NAME).replace("127.0.0.1", "localhost")
    srv.faults["/" + NAME] = Fault("redirect", location=other)
    creds = Credentials([srv.url("simple/").replace("http://", "http://user:hunter2@")])
    with _fetcher(tmp_path, credentials=creds) as f:
        result = f.fetch(srv.url(NAME), sha256=_sha(srv.root / NAME))
    assert result.path.read_bytes() == (srv.root / NAME).read_bytes()
    first, second = srv.requests
    assert first.status == 302 and first.headers.get("Authorization", "").startswith("Basic ")
    assert second.status == 200 and "Authorization" not in second.headers


def test_plain_http_to_untrusted_host_refused(tmp_path: Path) -> None:
    from wheelmagic.errors import IndexError_

    with _fetcher(tmp_path) as f, pytest.raises(IndexError_, match="trusted-host"):
        f.fetch("http://files.invalid/" + NAME)


def test_concurrent_fetchers_download_once(srv: Server, tmp_path: Path) -> None:
    sha = _sha(srv.root / NAME)
    srv.faults["/" + NAME] = Fault("slow", delay=0.01)
    results: list[Path] = []

    def work() -> None:
        with _fetcher(tmp_path) as f:
            results.append(f.fetch(srv.url(NAME), filename=NAME, sha256=sha).path)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert srv.count("/" + NAME) == 1


def test_parallel_ranges(tmp_path: Path) -> None:
    import wheelmagic.install.download as dl

    root = tmp_path / "www"
    root.mkdir()
    random_file(root / NAME, 5_000_001)
    old = dl.PARALLEL_MIN_BYTES
    dl.PARALLEL_MIN_BYTES = 1
    try:
        with serve_directory(root) as srv, _fetcher(tmp_path, parallel=4) as f:
            result = f.fetch(srv.url(NAME), sha256=_sha(root / NAME))
            assert srv.statuses("/" + NAME) == [206] * 5
    finally:
        dl.PARALLEL_MIN_BYTES = old
    assert _sha(result.path) == _sha(root / NAME)


def test_file_urls_and_planned_downloader(srv: Server, tmp_path: Path) -> None:
    sha = _sha(srv.root / NAME)

    class Planned:
        name, version, filename, sha256, size = "demo", "1.0", NAME, sha, SIZE
        url = (srv.root / NAME).as_uri()
        index_url = "file:///x"

    path = planned_downloader(tmp_path / "c2")(Planned())
    assert _sha(path) == sha and srv.requests == []


def test_cache_prune_clear_and_sizes(srv: Server, tmp_path: Path) -> None:
    cache = WheelCache(tmp_path / "cache")
    with Fetcher(cache) as f:
        a = f.fetch(srv.url(NAME)).path
    other = srv.root / "b-1.0-py3-none-any.whl"
    random_file(other, 1000)
    with Fetcher(cache) as f:
        b = f.fetch(srv.url(other.name)).path
    os.utime(a, (1, 1))
    assert cache.info().wheels == 2
    assert cache.prune(2000) == [a] and b.exists() and not a.exists()
    assert cache.get(_sha(other), other.name, verify=True) == b
    b.write_bytes(b"corrupt")
    assert cache.get(_sha(other), other.name, verify=True) is None
    cache.clear()
    assert cache.info().wheels == 0
    assert parse_size("20G") == 20 << 30 and parse_size("1.5M") == int(1.5 * (1 << 20))


def test_cache_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelmagic.commands import cache as cache_cmd

    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path / "cc"))
    parser = argparse.ArgumentParser()
    cache_cmd.register(parser.add_subparsers())
    for argv in (
        ["cache", "info", "--json"],
        ["cache", "prune", "--max-size", "1G"],
        ["cache", "clear"],
    ):
        args = parser.parse_args(argv)
        assert args.func(args) == 0
    assert str(tmp_path / "cc") in capsys.readouterr().out


def test_progress_throttle_and_renderers() -> None:
    now = [0.0]
    events: list[ProgressEvent] = []
    t = Throttle(events.append, "f.whl", 1000, clock=lambda: now[0])
    for _ in range(100):
        now[0] += 0.001
        t.update(10)
    t.finish()
    assert len(events) == 2 and events[-1].finished and events[-1].done_bytes == 1000
    NullProgress()(events[0])
