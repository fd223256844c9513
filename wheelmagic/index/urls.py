"""URL helpers shared by the index client and downloads: redaction and transport policy (pure)."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

from wheelmagic.errors import IndexError_


def redact(url: str) -> str:
    """The URL without its password (and without a token used as user name): safe to print."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    if "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return urlunsplit(
        (parts.scheme, f"{_hide(userinfo)}@{hostport}", parts.path, parts.query, parts.fragment)
    )


def _hide(userinfo: str) -> str:
    """`user:password` -> `user:****`; a lone token (often the secret itself) -> `****`."""
    user, sep, _pw = userinfo.partition(":")
    return f"{user}:****" if sep else "****"


#: `scheme://userinfo@` anywhere in free text (an installer's output, an exception message)
_USERINFO_IN_TEXT = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/@<>'\"`]+)@")


def redact_text(text: str) -> str:
    """`text` with every URL's credentials hidden as `redact` hides them: for messages, logs and
    records that may quote a URL (an installer's error, an exception), not only for one URL."""
    if "@" not in text:
        return text
    return _USERINFO_IN_TEXT.sub(lambda m: f"{m.group(1)}{_hide(m.group(2))}@", text)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_matches(host: str | None, port: int | None, trusted: Iterable[str]) -> bool:
    """pip's --trusted-host: `host` or `host:port`."""
    if not host:
        return False
    for item in trusted:
        h, _, p = item.partition(":")
        if h.lower() == host.lower() and (not p or (port is not None and str(port) == p)):
            return True
    return False


def check_transport(url: str, trusted_hosts: Iterable[str] = (), *, what: str = "index") -> None:
    """Refuse plain http except loopback and --trusted-host; allow https and file."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("https", "file"):
        return
    if scheme == "http":
        if is_loopback(parts.hostname) or host_matches(parts.hostname, parts.port, trusted_hosts):
            return
        raise IndexError_(
            f"refusing plain-http {what} {redact(url)}: anyone on the network could swap the files",
            hint=f"use https, or pass --trusted-host {parts.hostname} if you trust that network",
        )
    raise IndexError_(
        f"unsupported URL scheme {scheme!r} for {what} {redact(url)}",
        hint="use an https://, http://localhost or file:// URL",
    )


def check_redirect(source: str, target: str, trusted_hosts: Iterable[str] = ()) -> None:
    """Follow redirects only https->https, or to loopback/trusted http; never downgrade."""
    t = urlsplit(target)
    if t.scheme == "https":
        return
    if t.scheme == "http" and (
        is_loopback(t.hostname) or host_matches(t.hostname, t.port, trusted_hosts)
    ):
        return  # loopback, or a host the user marked trusted
    raise IndexError_(
        f"refusing redirect from {redact(source)} to {redact(target)}: it downgrades to "
        f"{t.scheme or 'an unknown scheme'}",
        hint="ask the index operator to serve https, or use the target URL directly with "
        "--trusted-host if you trust it",
    )


def ensure_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def safe_filename(name: str) -> str:
    """A file name from an index, checked: no path separators, no `..`, no control chars."""
    decoded = unquote(name)
    if (
        not decoded
        or "/" in decoded
        or "\\" in decoded
        or decoded in (".", "..")
        or decoded.startswith(".")
        or any(ord(c) < 32 for c in decoded)
        or posixpath.basename(decoded) != decoded
    ):
        raise ValueError(f"unsafe file name {name!r}")
    return decoded


def filename_from_url(url: str) -> str:
    """The last path segment of a URL, percent-decoded (the index's file name)."""
    path = urlsplit(url).path
    return unquote(path.rsplit("/", 1)[-1])
