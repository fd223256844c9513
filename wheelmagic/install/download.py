"""Downloads: streamed, sha256-verified while streaming, resumable, retried, cached.

`Fetcher.fetch(url, filename=..., sha256=...)` returns a path in the content-addressed cache;
`planned_downloader(...)` wraps one for `execute` (`PlannedFile -> Path`). Requests, redirects
and retries go through `wheelmagic.index.http`'s one loop (`send_following`, `retrying`).
A file is used only after its hash matched (or, when the index gave no hash, after we hashed
it and said so). Interrupted downloads keep `tmp/<key>.part` and continue with
`Range: bytes=N-` (checked against `Content-Range`; a 200 restarts from zero). Connection
errors, 5xx and 429 are retried with bounded exponential backoff; other 4xx are final.

Parallel range requests (`parallel=N`) split a large file over N connections. On loopback
they were not faster than one stream that hashes as it goes (see benchmarks/bench_download.py
and the report), so the default is one stream; the option stays for high-latency links.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from wheelmagic.errors import DownloadError, IndexError_
from wheelmagic.index.http import (
    Credentials,
    Retryable,
    file_url_path,
    make_client,
    retrying,
    send_following,
)
from wheelmagic.index.urls import check_transport, redact, safe_filename
from wheelmagic.install.cache import WheelCache, open_part, part_size
from wheelmagic.install.progress import ProgressCallback, Throttle

if TYPE_CHECKING:
    from wheelmagic.index.sources import IndexConfig
    from wheelmagic.install.plan import PlannedFile

CHUNK = 1 << 20
PARALLEL_MIN_BYTES = 64 << 20


@dataclass
class FetchResult:
    path: Path
    sha256: str
    from_cache: bool
    notes: list[str] = field(default_factory=list)


class Fetcher:
    """Downloads into a `WheelCache`. Thread-safe; one per session is enough."""

    def __init__(
        self,
        cache: WheelCache | None = None,
        *,
        client: httpx.Client | None = None,
        trusted_hosts: Iterable[str] = (),
        credentials: Credentials | None = None,
        progress: ProgressCallback | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        timeout: float = 60.0,
        parallel: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache = cache or WheelCache()
        self._own_client = client is None
        self.client = client or make_client(timeout=timeout)
        self.trusted_hosts = tuple(trusted_hosts)
        self.credentials = credentials or Credentials()
        self.progress = progress
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.parallel = parallel
        self.sleep = sleep

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ------------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        filename: str | None = None,
        sha256: str | None = None,
        size: int | None = None,
        package: str | None = None,
        index_url: str | None = None,
    ) -> FetchResult:
        """The verified file for `url` (from the cache when it is there)."""
        what = package or "the file"
        try:
            name = safe_filename(filename or urlsplit(url).path.rsplit("/", 1)[-1])
        except ValueError:
            raise DownloadError(
                f"{what}: refusing to download {redact(url)}: its file name {filename!r} "
                "contains a path separator or '..'",
                hint=f"the index {redact(index_url or url)} serves a bad link; report it",
            ) from None
        sha256 = sha256.lower() if sha256 else None
        if sha256:
            hit = self.cache.get(sha256, name, size=size)
            if hit:
                self._finished(name, hit)
                return FetchResult(hit, sha256, True)
        key = sha256 or "url-" + hashlib.sha256(url.encode()).hexdigest()
        with self.cache.lock(key):
            if sha256:
                hit = self.cache.get(sha256, name, size=size)
                if hit:
                    self._finished(name, hit)
                    return FetchResult(hit, sha256, True)
            part = self.cache.part_path(key)
            if urlsplit(url).scheme == "file":
                if index_url and urlsplit(index_url).scheme.lower() in ("http", "https"):
                    raise DownloadError(
                        f"{what}: refusing {redact(url)}: the index {redact(index_url)} links "
                        "a file on this machine; local files are read only from a file:// "
                        "index or --find-links directory you name",
                        hint="the index is hostile or broken; nothing was installed",
                    )
                actual = self._copy_local(url, part, name, what, size)
            else:
                check_transport(url, self.trusted_hosts, what="download")
                actual = self._download(url, part, name, size, what, index_url)
            notes: list[str] = []
            if sha256 and actual != sha256:
                part.unlink(missing_ok=True)
                _meta_path(part).unlink(missing_ok=True)
                raise DownloadError(
                    f"{what}: {name} from {redact(url)} failed verification: expected sha256 "
                    f"{sha256}, got {actual}; the file was discarded and not installed",
                    hint="run the command again; if it fails the same way, the index (or a "
                    f"proxy) serves a different file than it lists: report it to "
                    f"{redact(index_url or url)}",
                )
            if not sha256:
                notes.append(
                    f"{what}: the index gave no hash for {name}; stored it by its "
                    f"computed sha256 {actual}"
                )
            path = self.cache.put(part, actual, name)
            _meta_path(part).unlink(missing_ok=True)
            return FetchResult(path, actual, False, notes)

    # -- internals ---------------------------------------------------------------------------

    def _finished(self, name: str, path: Path) -> None:
        if self.progress:
            n = path.stat().st_size
            t = Throttle(self.progress, name, n, start_bytes=n)
            t.finish()

    def _copy_local(
        self, url: str, part: Path, name: str, what: str, size: int | None = None
    ) -> str:
        """Copy a local file, reading at most the listed size (else its own size) + 1 byte.

        `/proc/self/pagemap` and friends report size 0 and read forever: the cap stops them.
        """
        src = file_url_path(url)
        if not src.is_file():
            raise DownloadError(
                f"{what}: {src} does not exist",
                hint="check the file:// index or --find-links directory",
            )
        limit = size if size is not None else src.stat().st_size
        h = hashlib.sha256()
        throttle = Throttle(self.progress, name, limit)
        copied = 0
        with open(src, "rb") as fi, open_part(part) as fo:
            while copied <= limit and (block := fi.read(min(CHUNK, limit + 1 - copied))):
                copied += len(block)
                if copied > limit:
                    break
                h.update(block)
                fo.write(block)
                throttle.update(len(block))
        if copied > limit:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"{what}: {src} is larger than the {limit} bytes listed for it; refusing to "
                "read more",
                hint="the index lists a wrong size, or the file is not a wheel; nothing was "
                "installed",
            )
        throttle.finish()
        return h.hexdigest()

    def _download(
        self, url: str, part: Path, name: str, size: int | None, what: str, index_url: str | None
    ) -> str:
        def once() -> str:
            if self.parallel > 1 and not part.exists():
                done = self._try_parallel(url, part, name, size, what, index_url)
                if done is not None:
                    return done
            return self._attempt(url, part, name, size, what, index_url)

        def give_up(attempts: int, err: BaseException) -> DownloadError:
            have = part.stat().st_size if part.exists() else 0
            return DownloadError(
                f"{what}: downloading {name} from {redact(url)} failed after "
                f"{attempts} attempts: {redact(str(err) or type(err).__name__)}",
                hint=f"{have} bytes are kept; run the command again to resume, and "
                "check the network or proxy (HTTPS_PROXY)",
            )

        return retrying(
            once,
            retries=self.retries,
            backoff=self.backoff,
            max_backoff=self.max_backoff,
            sleep=self.sleep,
            give_up=give_up,
        )

    def _open(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """A streamed GET through `wheelmagic.index.http.send_following`; the caller closes it.

        A refused redirect becomes a `DownloadError` (the download failed, nothing installed).
        """
        try:
            return send_following(
                self.client,
                url,
                headers=headers,
                trusted_hosts=self.trusted_hosts,
                credentials=self.credentials,
            )
        except IndexError_ as err:
            raise DownloadError(err.message, hint=err.hint) from None

    def _status_error(
        self, resp: httpx.Response, url: str, name: str, what: str, index_url: str | None
    ) -> DownloadError:
        where = redact(index_url or url)
        if resp.status_code == 404:
            return DownloadError(
                f"{what}: {name} is not at {redact(url)} (HTTP 404)",
                hint=f"the index {where} lists a file it does not serve; check the index URL, "
                "or run again later (the file may have been removed or be still uploading)",
            )
        if resp.status_code in (401, 403):
            return DownloadError(
                f"{what}: {redact(url)} refused access (HTTP {resp.status_code})",
                hint="put credentials in the index URL or ~/.netrc",
            )
        return DownloadError(
            f"{what}: {redact(url)} answered HTTP {resp.status_code}",
            hint=f"check the index {where}",
        )

    def _attempt(
        self, url: str, part: Path, name: str, size: int | None, what: str, index_url: str | None
    ) -> str:
        offset = part_size(part)  # 0 for a link or someone else's file: never resumed
        meta = _load_meta(part) if offset else {}
        if offset and size is not None and offset > size:
            part.unlink()
            offset, meta = 0, {}
        headers: dict[str, str] = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            validator = meta.get("etag") or meta.get("last_modified")
            if validator:
                headers["If-Range"] = validator
        resp = self._open(url, headers)
        try:
            status = resp.status_code
            if status >= 500 or status == 429:
                raise Retryable(f"HTTP {status}")
            if status == 416 and offset:
                total = _content_range_total(resp.headers.get("content-range", ""))
                if total == offset:
                    return _hash_file(part)  # we already have all of it
                part.unlink()
                raise Retryable("the server could not resume; starting again")
            if status not in (200, 206):
                raise self._status_error(resp, url, name, what, index_url)
            h = hashlib.sha256()
            if status == 206:
                start, total = _parse_content_range(resp.headers.get("content-range", ""))
                if start != offset:
                    resp.close()
                    part.unlink(missing_ok=True)
                    raise Retryable("the server resumed at the wrong offset; starting again")
                _hash_into(part, h)
                mode = "ab"
            else:
                offset = 0
                total = _int(resp.headers.get("content-length"))
                mode = "wb"
                _save_meta(part, resp)
            expected_total = size if size is not None else total
            throttle = Throttle(self.progress, name, expected_total, start_bytes=offset)
            with open_part(part, append=mode == "ab") as fh:
                with _Pipeline(fh.write, h.update) as sink:
                    for chunk in resp.iter_raw():
                        sink.put(chunk)
                        throttle.update(len(chunk))
                fh.flush()
            have = part.stat().st_size
            if expected_total is not None and have < expected_total:
                raise Retryable(f"the connection ended after {have} of {expected_total} bytes")
            if expected_total is not None and have > expected_total:
                part.unlink()
                raise DownloadError(
                    f"{what}: {redact(url)} sent {have} bytes, more than the {expected_total} "
                    "expected; the file was discarded",
                    hint="run again; if it persists, report the index",
                )
            throttle.finish()
            return h.hexdigest()
        finally:
            resp.close()

    def _try_parallel(
        self, url: str, part: Path, name: str, size: int | None, what: str, index_url: str | None
    ) -> str | None:
        """Split a large file over `parallel` range requests; None when not worth it."""
        resp = self._open(url, {"Range": "bytes=0-0", "Accept-Encoding": "identity"})
        try:
            if resp.status_code != 206:
                return None
            _start, total = _parse_content_range(resp.headers.get("content-range", ""))
        finally:
            resp.close()
        if total is None or total < PARALLEL_MIN_BYTES:
            return None
        n = self.parallel
        bounds = [(i * total // n, (i + 1) * total // n - 1) for i in range(n)]
        throttle = Throttle(self.progress, name, total)
        lock = threading.Lock()
        with open_part(part) as fh:
            fh.truncate(total)
        fd = os.open(part, os.O_WRONLY | os.O_NOFOLLOW)

        def segment(b: tuple[int, int]) -> None:
            pos = b[0]
            r = self._open(url, {"Range": f"bytes={b[0]}-{b[1]}", "Accept-Encoding": "identity"})
            try:
                if r.status_code != 206:
                    raise Retryable(f"HTTP {r.status_code} for a range request")
                for chunk in r.iter_raw():
                    os.pwrite(fd, chunk, pos)
                    pos += len(chunk)
                    with lock:
                        throttle.update(len(chunk))
            finally:
                r.close()
            if pos != b[1] + 1:
                raise Retryable("a range ended early")

        try:
            with ThreadPoolExecutor(max_workers=n) as pool:
                list(pool.map(segment, bounds))
        except BaseException:
            part.unlink(missing_ok=True)  # segments cannot be resumed: start over single-stream
            raise
        finally:
            os.close(fd)
        throttle.finish()
        return _hash_file(part)


class _Pipeline:
    """Write and hash a stream's chunks on worker threads (one per `works`) while the caller
    receives.

    Receiving (httpx/h11 in Python), writing and sha256 each take a similar share of a
    loopback download when done in turn on one thread; `write` and `update` release the GIL
    for large buffers, so the threads overlap them (the writer and the hasher read the same
    immutable `bytes`). httpcore hands over 64 KiB at a time: they are joined into `BATCH`
    bytes first, so the workers see one queue hand-off (and one syscall, one `update`) per
    MiB instead of sixteen. Each queue holds at most `DEPTH` batches, so memory stays bounded
    (about `DEPTH` x `BATCH`) whatever the file's size. The first error of a worker is raised
    to the caller at the next `put` or at exit.
    """

    BATCH = 1 << 20
    DEPTH = 16

    def __init__(self, *works: Callable[[bytes], object]) -> None:
        self._queues: list[queue.Queue[bytes | None]] = []
        self._threads: list[threading.Thread] = []
        self._pending: list[bytes] = []
        self._size = 0
        self.error: BaseException | None = None
        for work in works:
            q: queue.Queue[bytes | None] = queue.Queue(self.DEPTH)
            t = threading.Thread(target=self._run, args=(q, work), daemon=True)
            self._queues.append(q)
            self._threads.append(t)
            t.start()

    def _run(self, q: queue.Queue[bytes | None], work: Callable[[bytes], object]) -> None:
        while (chunk := q.get()) is not None:
            if self.error is None:
                try:
                    work(chunk)
                except BaseException as err:  # handed to the caller
                    self.error = err

    def put(self, chunk: bytes) -> None:
        if self.error is not None:
            raise self.error
        self._pending.append(chunk)
        self._size += len(chunk)
        if self._size >= self.BATCH:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._pending:
            batch = b"".join(self._pending)
            self._pending, self._size = [], 0
            for q in self._queues:
                q.put(batch)

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self._hand_over()
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join()
        if self.error is not None and exc[0] is None:
            raise self.error


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _parse_content_range(value: str) -> tuple[int | None, int | None]:
    # "bytes 100-199/200"
    try:
        unit, _, rest = value.partition(" ")
        span, _, total = rest.partition("/")
        start = int(span.split("-")[0])
        return start, (int(total) if total.isdigit() else None)
    except ValueError:
        return None, None


def _content_range_total(value: str) -> int | None:
    _, _, total = value.rpartition("/")
    return int(total) if total.isdigit() else None


def _nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def _hash_into(path: Path, h: hashlib._Hash) -> None:
    with open(path, "rb", opener=_nofollow) as fh:
        while block := fh.read(CHUNK):
            h.update(block)


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    _hash_into(path, h)
    return h.hexdigest()


def _meta_path(part: Path) -> Path:
    return part.with_suffix(".json")


def _save_meta(part: Path, resp: httpx.Response) -> None:
    data = {"etag": resp.headers.get("etag"), "last_modified": resp.headers.get("last-modified")}
    with contextlib.suppress(OSError), open_part(_meta_path(part)) as fh:
        fh.write(json.dumps(data).encode())


def _load_meta(part: Path) -> dict[str, str]:
    try:
        with open(_meta_path(part), encoding="utf-8", opener=_nofollow) as fh:
            data = json.loads(fh.read(1 << 16))
        return {k: v for k, v in data.items() if isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        return {}


#: fetch one planned file into the cache, verified; return its path
Downloader = Callable[["PlannedFile"], Path]


def planned_downloader(
    cache_dir: Path | str | None = None,
    indexes: IndexConfig | None = None,
    progress: ProgressCallback | None = None,
) -> Downloader:
    """The downloader `wheelmagic.install.execute` uses: `PlannedFile -> verified cached path`.

    `indexes` gives trusted hosts, the CA bundle and the credentials of the index URLs
    (applied to files on the same hosts).
    """
    urls = [*indexes.index_urls, *indexes.find_links] if indexes is not None else []
    fetcher = Fetcher(
        WheelCache(cache_dir),
        client=make_client(indexes.cert if indexes is not None else None, timeout=60.0),
        trusted_hosts=indexes.trusted_hosts if indexes is not None else (),
        credentials=Credentials(urls),
        progress=progress,
    )

    def download(planned: PlannedFile) -> Path:
        return fetcher.fetch(
            planned.url,
            filename=planned.filename,
            sha256=planned.sha256,
            size=planned.size,
            package=f"{planned.name} {planned.version}",
            index_url=planned.index_url,
        ).path

    return download
