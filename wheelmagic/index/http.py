"""HTTP for the index layer: one httpx client with our policy, and an ETag page cache.

Policy: plain http only to loopback or `--trusted-host`; redirects are followed by hand so that
each hop is checked (https->https, or loopback/trusted http; a downgrade is refused) and
credentials are never sent to another host. `send_following` (one GET, redirects hop by hop)
and `retrying` (bounded exponential backoff on connection errors and `Retryable`) are the one
loop both the index pages here and the wheel downloads (`wheelmagic.install.download`) use. Credentials come from the index URL's userinfo or
from `~/.netrc` (`NETRC`); proxies and `SSL_CERT_FILE` from the environment (httpx
`trust_env`); a CA bundle from `REQUESTS_CA_BUNDLE`/`PIP_CERT`/pip.conf `cert`.

Page cache: a small hand-written ETag / Last-Modified store, one file per URL under
`<cache>/http/`, written with `wheelmagic._fs.atomic_write` (atomic on POSIX and NFS), so many
processes on many machines can share it with no lock. We evaluated hishel: 2.0 keeps only
SQLite and Redis storages (the file storage of 0.x is gone), SQLite locking is unreliable on
the network file systems a JupyterHub shares caches on, and it would add msgpack/anysqlite.
Like pip, every page is revalidated (`Cache-Control: max-age=0` + `If-None-Match` /
`If-Modified-Since`): an unchanged index answers 304 and no body is downloaded again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import netrc
import os
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

import httpx

from wheelmagic._fs import atomic_write
from wheelmagic.errors import IndexError_
from wheelmagic.index.urls import check_redirect, check_transport, redact

MAX_REDIRECTS = 10
USER_AGENT = "wheelmagic"


@dataclass
class Fetched:
    url: str  # final URL after redirects
    status: int
    body: bytes
    content_type: str
    from_cache: bool = False


class TooLarge(IndexError_):
    pass


#: (cert, SSL_CERT_FILE, SSL_CERT_DIR) -> the verifying context: loading a CA bundle takes
#: 30-50 ms, and one install opens two clients (the index's and the downloader's)
_SSL_CONTEXTS: dict[tuple[str, str, str], ssl.SSLContext] = {}


def _ssl_context(cert: str | None) -> ssl.SSLContext:
    env = (cert or "", os.environ.get("SSL_CERT_FILE", ""), os.environ.get("SSL_CERT_DIR", ""))
    context = _SSL_CONTEXTS.get(env)
    if context is None:
        if cert:
            context = (
                ssl.create_default_context(cafile=cert)
                if os.path.isfile(cert)
                else ssl.create_default_context(capath=cert)
            )
        else:  # what httpx does for verify=True, trust_env=True
            context = httpx.create_ssl_context(verify=True, trust_env=True)
        _SSL_CONTEXTS[env] = context
    return context


def make_client(cert: str | None = None, timeout: float = 30.0) -> httpx.Client:
    """An httpx client as pip users expect: env proxies, SSL_CERT_FILE, a CA bundle option."""
    verify = _ssl_context(cert)
    return httpx.Client(
        trust_env=True,
        verify=verify,
        follow_redirects=False,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
    )


class Credentials:
    """Basic-auth per host: from index URLs' userinfo, then netrc. Never logged."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._by_host: dict[str, tuple[str, str]] = {}
        for url in urls:
            parts = urlsplit(url)
            if parts.username is not None and parts.hostname:
                self._by_host[parts.netloc.rpartition("@")[2].lower()] = (
                    unquote(parts.username),
                    unquote(parts.password or ""),
                )
        self._netrc: netrc.netrc | None | bool = False  # False: not read yet

    def auth_for(self, url: str) -> httpx.BasicAuth | None:
        parts = urlsplit(url)
        if parts.username is not None:
            return None  # httpx takes them from the URL
        host = (parts.hostname or "").lower()
        found = self._by_host.get(parts.netloc.lower()) or self._by_host.get(host)
        if found:
            return httpx.BasicAuth(*found)
        if self._netrc is False:
            try:
                path = os.environ.get("NETRC")
                self._netrc = (
                    netrc.netrc(path) if path or (Path.home() / ".netrc").exists() else None
                )
            except (OSError, netrc.NetrcParseError):
                self._netrc = None
        if isinstance(self._netrc, netrc.netrc):
            entry = self._netrc.authenticators(host)
            if entry and entry[0] is not None:
                return httpx.BasicAuth(entry[0], entry[2] or "")
        return None


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


class PageCache:
    """ETag/Last-Modified store: `<dir>/<sha256(url, accept)>` = JSON header line + body."""

    def __init__(self, directory: Path | None) -> None:
        self.dir = directory

    def _path(self, url: str, accept: str) -> Path | None:
        if self.dir is None:
            return None
        key = hashlib.sha256(f"{_strip_userinfo(url)}\n{accept}".encode()).hexdigest()
        return self.dir / key[:2] / key

    def load(self, url: str, accept: str) -> tuple[dict[str, str], bytes] | None:
        path = self._path(url, accept)
        if path is None:
            return None
        try:
            with open(path, "rb") as fh:
                header = json.loads(fh.readline())
                body = fh.read()
        except (OSError, ValueError):
            return None
        if not isinstance(header, dict) or header.get("length") != len(body):
            return None
        return header, body

    def store(self, url: str, accept: str, response: httpx.Response, body: bytes) -> None:
        path = self._path(url, accept)
        if path is None:
            return
        cc = response.headers.get("cache-control", "").lower()
        etag = response.headers.get("etag")
        modified = response.headers.get("last-modified")
        if "no-store" in cc or not (etag or modified):
            return
        header = {
            "url": _strip_userinfo(url),
            "final_url": _strip_userinfo(str(response.url)),
            "etag": etag,
            "last_modified": modified,
            "content_type": response.headers.get("content-type", ""),
            "length": len(body),
            "stored": time.time(),
        }
        with contextlib.suppress(OSError):  # a cache we cannot write is only slower
            atomic_write(path, json.dumps(header).encode() + b"\n" + body)


class Http:
    """GET with our transport policy, manual redirects, size caps and the page cache."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        trusted_hosts: Iterable[str] = (),
        credentials: Credentials | None = None,
        cache: PageCache | None = None,
        retries: int = 2,
        backoff: float = 0.3,
    ) -> None:
        self.client = client
        self.trusted_hosts = tuple(trusted_hosts)
        self.credentials = credentials or Credentials()
        self.cache = cache or PageCache(None)
        self.retries = retries
        self.backoff = backoff

    def get(self, url: str, *, accept: str, max_bytes: int, what: str = "index page") -> Fetched:
        """GET `url`; a 304 is answered from the cache. Raises IndexError_ for refused/failed."""
        if urlsplit(url).scheme == "file":
            return read_file_url(url, max_bytes)
        check_transport(url, self.trusted_hosts, what=what)
        cached = self.cache.load(url, accept)
        headers = {"Accept": accept, "Cache-Control": "max-age=0"}
        if cached:
            if cached[0].get("etag"):
                headers["If-None-Match"] = cached[0]["etag"]
            if cached[0].get("last_modified"):
                headers["If-Modified-Since"] = cached[0]["last_modified"]

        def give_up(_attempts: int, err: BaseException) -> IndexError_:
            return IndexError_(
                f"could not fetch {what} {redact(url)}: {_describe(err)}",
                hint="check the network, proxy (HTTPS_PROXY) and index URL, then retry",
            )

        return retrying(
            lambda: self._get_following(url, headers, accept, max_bytes, cached, what),
            retries=self.retries,
            backoff=self.backoff,
            give_up=give_up,
        )

    def _get_following(
        self,
        url: str,
        headers: dict[str, str],
        accept: str,
        max_bytes: int,
        cached: tuple[dict[str, str], bytes] | None,
        what: str,
    ) -> Fetched:
        resp = send_following(
            self.client,
            url,
            headers=headers,
            trusted_hosts=self.trusted_hosts,
            credentials=self.credentials,
        )
        try:
            current = str(resp.url)
            if resp.status_code == 304 and cached:
                return Fetched(
                    cached[0].get("final_url") or current,
                    200,
                    cached[1],
                    cached[0].get("content_type", ""),
                    from_cache=True,
                )
            if resp.status_code >= 500:
                raise Retryable(f"HTTP {resp.status_code}")
            if resp.status_code != 200:
                return Fetched(current, resp.status_code, b"", resp.headers.get("content-type", ""))
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise TooLarge(
                    f"{what} {redact(current)} is {int(declared)} bytes, over "
                    f"the {max_bytes}-byte limit",
                    hint="this is not a normal index file; check the index",
                )
            chunks: list[bytes] = []
            total = 0
            for chunk in resp.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise TooLarge(
                        f"{what} {redact(current)} is over the {max_bytes}-byte limit",
                        hint="this is not a normal index file; check the index",
                    )
                chunks.append(chunk)
            body = b"".join(chunks)
            self.cache.store(url, accept, resp, body)
            return Fetched(current, 200, body, resp.headers.get("content-type", ""))

        finally:
            resp.close()


# ---------------------------------------------------------------------------------------------
# the one request loop: redirects hop by hop, retries with backoff


class Retryable(Exception):
    """A transient failure (5xx, 429, a connection that ended early): try again."""


T = TypeVar("T")


def send_following(
    client: httpx.Client,
    url: str,
    *,
    headers: Mapping[str, str],
    trusted_hosts: Iterable[str] = (),
    credentials: Credentials | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> httpx.Response:
    """A streamed GET of `url`, following redirects by hand; the caller closes the response.

    Each hop is checked with `check_redirect` (https, or loopback/trusted http; a downgrade
    raises `IndexError_`). Credentials are looked up for each hop's own host, so a password
    for the index never travels to the host it redirects to, and an `Authorization` header
    given by the caller is dropped when the host changes. `response.url` is the final URL.
    """
    creds = credentials or Credentials()
    trusted = tuple(trusted_hosts)
    sent = dict(headers)
    current = url
    for _ in range(max_redirects + 1):
        request = client.build_request("GET", current, headers=sent)
        resp = client.send(request, stream=True, auth=creds.auth_for(current))
        if resp.status_code not in _REDIRECTS or "location" not in resp.headers:
            return resp
        resp.close()
        target = urljoin(current, resp.headers["location"])
        check_redirect(current, target, trusted)
        if urlsplit(target).netloc != urlsplit(current).netloc:
            sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
        current = target
    raise IndexError_(f"too many redirects fetching {redact(url)}", hint="check the URL")


def retrying(
    call: Callable[[], T],
    *,
    retries: int,
    backoff: float,
    give_up: Callable[[int, BaseException], BaseException],
    max_backoff: float = float("inf"),
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()`, again after `backoff * 2**n` seconds (at most `max_backoff`) when it fails
    with a connection error or `Retryable`; after `retries` retries, raise `give_up(attempts,
    last error)`. Anything else (a 404, a refused redirect, a bad hash) is final at once.
    """
    attempt = 0
    while True:
        try:
            return call()
        except (httpx.TransportError, Retryable) as err:
            attempt += 1
            if attempt > retries:
                raise give_up(attempt, err) from None
            sleep(min(max_backoff, backoff * 2 ** (attempt - 1)))


_REDIRECTS = frozenset((301, 302, 303, 307, 308))


def _describe(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return redact(text) if "://" in text else text


def file_url_path(url: str) -> Path:
    return Path(url2pathname(urlsplit(url).path))


def read_file_url(url: str, max_bytes: int) -> Fetched:
    """file:// pages: a file, a directory's index.html, or a generated listing of a directory."""
    path = file_url_path(url)
    try:
        if path.is_dir():
            index = path / "index.html"
            if index.is_file():
                path = index
                url = url.rstrip("/") + "/index.html"
            else:
                links = "".join(
                    f'<a href="{p.name}">{p.name}</a>\n'
                    for p in sorted(path.iterdir())
                    if p.is_file()
                )
                base = url if url.endswith("/") else url + "/"
                return Fetched(base, 200, links.encode(), "text/html")
        if not path.is_file():
            return Fetched(url, 404, b"", "")
        if path.stat().st_size > max_bytes:
            raise TooLarge(
                f"{redact(url)} is over the {max_bytes}-byte limit",
                hint="this is not a normal index file; check the index",
            )
        ctype = "application/json" if path.suffix == ".json" else "text/html"
        return Fetched(url, 200, path.read_bytes(), ctype)
    except OSError as err:
        raise IndexError_(f"cannot read {url}: {err.strerror}", hint="check the path") from None
