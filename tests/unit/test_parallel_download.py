"""Downloads at wire speed: several files of one plan at once, one combined progress display,
and the write/hash pipeline of one stream (real loopback server, real cache)."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from support.server import random_file, serve_directory

from wheelmagic.errors import DownloadError
from wheelmagic.install.download import Fetcher, _Pipeline, planned_downloader
from wheelmagic.install.execute import PARALLEL_DOWNLOADS, _combined, _download_all
from wheelmagic.install.plan import PlannedFile
from wheelmagic.install.progress import Combined, ProgressEvent


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _planned(base: str, path: Path, name: str, *, sha: str | None = None) -> PlannedFile:
    return PlannedFile(
        name=canonicalize_name(name),
        version=Version("1.0"),
        filename=path.name,
        label=None,
        url=f"{base}files/{path.name}",
        index_url=f"{base}simple/",
        sha256=sha or _sha(path),
        size=path.stat().st_size,
        properties={},
        supported={},
    )


@pytest.fixture
def served(tmp_path: Path) -> tuple[Path, list[Path]]:
    www = tmp_path / "www"
    (www / "files").mkdir(parents=True)
    files = []
    for i, name in enumerate(("torch", "torchvision", "torchaudio")):
        files.append(
            random_file(www / "files" / f"{name}-1.0-py3-none-any.whl", (3 << 20) + i, seed=i)
        )
    return www, files


def test_the_files_of_a_plan_download_together_with_one_progress(
    tmp_path: Path, served: tuple[Path, list[Path]]
) -> None:
    www, files = served
    events: list[ProgressEvent] = []
    together = threading.Barrier(len(files), timeout=60)
    with serve_directory(www) as srv:
        plan = [_planned(srv.base_url, f, f.name.split("-")[0]) for f in files]
        real = planned_downloader(tmp_path / "cache", None, _combined(events.append, plan))

        def download(p: PlannedFile) -> Path:
            together.wait()  # breaks (and fails the test) unless all three are under way
            return real(p)

        paths = _download_all(download, plan)
    assert len(files) <= PARALLEL_DOWNLOADS
    assert [_sha(p) for p in paths] == [_sha(f) for f in files]  # in plan order
    assert {e.filename for e in events} == {"3 files: torch-1.0-py3-none-any.whl and 2 more"}
    assert events[-1].finished and [e for e in events if e.finished] == [events[-1]]
    assert events[-1].done_bytes == events[-1].total_bytes == sum(f.stat().st_size for f in files)


def test_a_failed_file_fails_the_plan_naming_it(
    tmp_path: Path, served: tuple[Path, list[Path]]
) -> None:
    www, files = served
    with serve_directory(www) as srv:
        plan = [_planned(srv.base_url, f, f.name.split("-")[0]) for f in files]
        bad = plan[1]
        plan[1] = dataclasses.replace(bad, url=bad.url + ".missing")
        download = planned_downloader(tmp_path / "cache", None, None)
        with pytest.raises(DownloadError) as err:
            _download_all(download, plan)
    assert files[1].name in err.value.message and "404" in err.value.message


def test_one_file_has_its_own_progress() -> None:
    assert _combined(None, []) is None
    cb = print
    assert _combined(cb, []) is cb


def test_combined_progress_sums_files_and_finishes_last() -> None:
    got: list[ProgressEvent] = []
    now = [0.0]
    c = Combined(got.append, [("a.whl", 100), ("b.whl", 50)], clock=lambda: now[0])

    def ev(name: str, done: int, total: int, finished: bool = False) -> None:
        now[0] += 1.0
        c(ProgressEvent(name, total, done, 0.0, None, finished))

    ev("a.whl", 10, 100)
    ev("b.whl", 50, 50, finished=True)
    ev("a.whl", 60, 100)
    assert [e.done_bytes for e in got] == [10, 60, 110]
    assert not any(e.finished for e in got)
    ev("a.whl", 100, 100, finished=True)
    assert got[-1].finished and got[-1].done_bytes == got[-1].total_bytes == 150
    assert {e.filename for e in got} == {"2 files: a.whl and 1 more"}


def test_combined_progress_is_throttled_but_delivers_the_end() -> None:
    got: list[ProgressEvent] = []
    c = Combined(got.append, [("a.whl", 100), ("b.whl", None)], clock=lambda: 5.0)
    for i in range(50):
        c(ProgressEvent("a.whl", 100, i, 0.0, None))
    assert len(got) == 1  # the clock did not move: one event
    c(ProgressEvent("a.whl", 100, 100, 0.0, None, True))
    c(ProgressEvent("b.whl", None, 7, 0.0, None, True))
    assert got[-1].finished and got[-1].total_bytes is None and got[-1].done_bytes == 107


def test_a_large_stream_is_written_and_hashed_exactly(tmp_path: Path) -> None:
    """Several pipeline batches and a ragged end: the stored file and its hash are exact."""
    www = tmp_path / "www"
    (www / "files").mkdir(parents=True)
    f = random_file(www / "files" / "big-1.0-py3-none-any.whl", (5 << 20) + 12345, seed=7)
    from wheelmagic.install.cache import WheelCache

    with serve_directory(www) as srv, Fetcher(WheelCache(tmp_path / "cache")) as fetcher:
        got = fetcher.fetch(f"{srv.base_url}files/{f.name}", sha256=_sha(f), size=f.stat().st_size)
    assert got.path.read_bytes() == f.read_bytes()


def test_a_failing_writer_fails_the_download() -> None:
    h = hashlib.sha256()

    def full_disk(_chunk: bytes) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"), _Pipeline(full_disk, h.update) as sink:
        for _ in range(4):
            sink.put(b"x" * (_Pipeline.BATCH // 2))
