"""A real HTTP server on 127.0.0.1 for tests: serves a directory like a static index host.

The one loopback server of the test suite (and the benchmarks): plain or TLS, on a free port or
a given one (a server that "comes back" on the same port), with faults armed from the start.
Use it as a context manager (or through the `index_server` fixture, imported into a test
module with `from support.server import index_server  # noqa: F401`):

    with serve_directory(tmp_path) as srv:
        url = srv.url("simple/")            # http://127.0.0.1:PORT/simple/
        srv.faults["/files/x.whl"] = Fault("drop", after=1000)
        ...
        assert srv.count("/simple/torch/") == 2
        assert srv.body_count("/simple/torch/") == 1   # the second run got a 304

What it does:
* directories: with `Accept: application/vnd.pypi.simple.v1+json` and an `index.json`
  present, serves that (content type `application/vnd.pypi.simple.v1+json`), else
  `index.html` (`text/html`); no listing otherwise (404);
* `Range: bytes=N-` / `N-M` -> 206 with `Content-Range`; `Accept-Ranges: bytes`;
* `ETag` and `Last-Modified` on every file; `If-None-Match` / `If-Modified-Since` -> 304;
  `Cache-Control: max-age=600` like PyPI (clients must revalidate anyway);
* fault injection per path, `Fault(kind, ...)`, each for `times` requests (None: always):
  `status` (answer `code`, e.g. 500 or 404), `wrong-bytes` (serve other bytes of the same
  length), `truncate` (send `after` bytes, no Content-Length, close), `drop` (declare the full
  length, send `after` bytes, close: the connection dies mid-file), `slow` (`delay` seconds
  per 64 KiB chunk), `redirect` (302 to `location`), `body` (serve `body` with `content_type`),
  `no-range` (ignore Range, answer 200), `gate` (hold the request until `gate`, an Event, is
  set; then serve it normally);
* `requests`: every request seen (method, path, headers, status, body bytes sent).
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
CHUNK = 64 * 1024
_XOR = bytes(b ^ 0x5A for b in range(256))


@dataclass
class Fault:
    kind: str
    times: int | None = 1
    code: int = 500
    after: int = 0
    delay: float = 0.0
    location: str = ""
    body: bytes = b""
    content_type: str = "text/html"
    #: `gate`: hold the request until the test sets this event (at most 300 s), then serve it
    gate: threading.Event | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0
    body_bytes: int = 0


@dataclass
class Server:
    root: Path
    base_url: str = ""
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "") -> str:
        return self.base_url + path.lstrip("/")

    def count(self, path: str, method: str = "GET") -> int:
        return sum(1 for r in self.requests if r.path == path and r.method == method)

    def body_count(self, path: str) -> int:
        """Requests to `path` that were answered with a body (200/206)."""
        return sum(1 for r in self.requests if r.path == path and r.status in (200, 206))

    def statuses(self, path: str) -> list[int]:
        return [r.status for r in self.requests if r.path == path]

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            fault = self.faults.get(path)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self.faults[path]
            return fault


def _make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _record(self, status: int, sent: int) -> Seen:
            """Recorded before the body goes out, so a client never sees an unrecorded reply."""
            seen = Seen(
                self.command, urlsplit(self.path).path, dict(self.headers.items()), status, sent
            )
            with server.lock:
                server.requests.append(seen)
            return seen

        def _simple(
            self,
            status: int,
            body: bytes = b"",
            headers: dict[str, str] | None = None,
            head: bool = False,
        ) -> None:
            self._record(status, 0 if head else len(body))
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body and not head:
                self.wfile.write(body)

        def _serve(self, head: bool) -> None:
            path = urlsplit(self.path).path
            fault = server.take_fault(path)
            if fault and fault.kind == "gate" and fault.gate is not None:
                fault.gate.wait(300)  # the test opens it once it saw what it waits for
                fault = None
            if fault and fault.kind == "status":
                self._simple(fault.code, f"injected {fault.code}".encode(), head=head)
                return
            if fault and fault.kind == "redirect":
                self._simple(302, headers={"Location": fault.location}, head=head)
                return
            if fault and fault.kind == "body":
                self._simple(200, fault.body, {"Content-Type": fault.content_type}, head=head)
                return
            local = (server.root / unquote(path).lstrip("/")).resolve()
            if server.root.resolve() not in (local, *local.parents):
                self._simple(404, b"outside root", head=head)
                return
            ctype = "application/octet-stream"
            if local.is_dir():
                accept = self.headers.get("Accept", "")
                if JSON_TYPE in accept and (local / "index.json").is_file():
                    local, ctype = local / "index.json", JSON_TYPE
                elif (local / "index.html").is_file():
                    local, ctype = local / "index.html", "text/html; charset=utf-8"
                else:
                    self._simple(404, b"no index", head=head)
                    return
            elif local.suffix == ".json":
                ctype = "application/json"
            elif local.suffix == ".html":
                ctype = "text/html; charset=utf-8"
            if not local.is_file():
                self._simple(404, b"not found", head=head)
                return
            st = local.stat()
            etag = (
                '"'
                + hashlib.sha1(f"{st.st_mtime_ns}-{st.st_size}-{local}".encode()).hexdigest()
                + '"'
            )
            modified = email.utils.formatdate(st.st_mtime, usegmt=True)
            common = {
                "ETag": etag,
                "Last-Modified": modified,
                "Content-Type": ctype,
                "Cache-Control": "max-age=600",
                "Accept-Ranges": "bytes",
                "Vary": "Accept",
            }
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            if (inm and inm == etag) or (not inm and ims == modified):
                self._record(304, 0)
                self.send_response(304)
                for k in ("ETag", "Last-Modified", "Cache-Control"):
                    self.send_header(k, common[k])
                self.end_headers()
                return
            size = st.st_size
            start, end = 0, size - 1
            status = 200
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes=") and not (fault and fault.kind == "no-range"):
                a, _, b = rng[6:].partition("-")
                try:
                    start = int(a) if a else max(0, size - int(b))
                    end = min(int(b), size - 1) if (a and b) else size - 1
                except ValueError:
                    start, end = 0, size - 1
                if start >= size:
                    self._simple(416, headers={"Content-Range": f"bytes */{size}"}, head=head)
                    return
                status = 206
            length = end - start + 1
            seen = self._record(status, 0)
            self.send_response(status)
            for k, v in common.items():
                self.send_header(k, v)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            kind = fault.kind if fault else None
            if kind != "truncate":
                self.send_header("Content-Length", str(length))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            if head:
                return
            limit = fault.after if kind in ("truncate", "drop") and fault else length
            sent = 0
            with open(local, "rb") as fh:
                fh.seek(start)
                while sent < min(limit, length):
                    chunk = fh.read(min(CHUNK, min(limit, length) - sent))
                    if not chunk:
                        break
                    if kind == "wrong-bytes":
                        chunk = chunk.translate(_XOR)
                    if kind == "slow" and fault:
                        time.sleep(fault.delay)
                    try:
                        self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        break
                    sent += len(chunk)
                    seen.body_bytes = sent
            if kind in ("truncate", "drop"):
                self.wfile.flush()
                self.close_connection = True
                with suppress(OSError):
                    self.connection.shutdown(2)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up on purpose (size caps, drops) are not errors here


@contextmanager
def serve_directory(
    root: Path | str,
    host: str = "127.0.0.1",
    *,
    port: int = 0,
    faults: dict[str, Fault] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[Server]:
    """Serve `root` in a background thread until the block ends.

    `port`: 0 picks a free one; a fixed port lets a test stop a server and bring another up
    where clients expect it. `faults`: armed before the first request can arrive. `tls`:
    (certificate, key) PEM files; the server then speaks https only.
    """
    server = Server(Path(root), faults=dict(faults or {}))
    httpd = _QuietServer((host, port), _make_handler(server))
    httpd.daemon_threads = True
    scheme = "http"
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    server.base_url = f"{scheme}://{host}:{httpd.server_address[1]}/"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for a server the test starts, stops and restarts)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def index_server(tmp_path: Path) -> Iterator[Server]:
    """A loopback server over `tmp_path / "www"` (created empty)."""
    root = tmp_path / "www"
    root.mkdir()
    with serve_directory(root) as srv:
        yield srv


def random_file(path: Path, size: int, seed: int = 0) -> Path:
    """A file of `size` pseudo-random bytes (fast: os.urandom in 1 MiB blocks)."""
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(left, 1 << 20)
            fh.write(os.urandom(n))
            left -= n
    return path


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    label: str | None = None,
    variant_json: dict[str, object] | None = None,
    requires_python: str | None = None,
    payload: bytes = b"",
) -> Path:
    """A tiny valid wheel (zipfile); with `label`, a variant wheel carrying `variant_json`."""
    import zipfile

    from packaging.utils import canonicalize_name

    dist = canonicalize_name(name).replace("-", "_")
    filename = f"{dist}-{version}-{tag}" + (f"-{label}" if label else "") + ".whl"
    info = f"{dist}-{version}.dist-info"
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    if requires_python:
        meta += f"Requires-Python: {requires_python}\n"
    path = directory / filename
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{dist}/__init__.py", b"# test\n" + payload)
        zf.writestr(f"{info}/METADATA", meta)
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n")
        if variant_json is not None:
            import json

            zf.writestr(f"{info}/variant.json", json.dumps(variant_json))
        zf.writestr(f"{info}/RECORD", "")
    return path


def variant_doc(
    label: str,
    properties: dict[str, dict[str, list[str]]],
    namespaces: tuple[str, ...] = ("nvidia",),
) -> dict[str, object]:
    """A PEP 825 variant.json for one label."""
    return {
        "$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json",
        "default-priorities": {"namespace": list(namespaces)},
        "variants": {label: properties},
    }
