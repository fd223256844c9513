"""Reading simple-repository project pages: PEP 691 JSON and PEP 503 HTML (pure functions).

`parse_project_page(body, content_type, base_url)` turns one page into `IndexFile`s: absolute
URLs (relative links resolved against the page or its `<base href>`), hashes from the JSON
`hashes` table or the `#sha256=` fragment, `requires-python` (the HTML parser unescapes
`&gt;=`), yanked status, PEP 658/714 metadata links. Links that name unsafe files (path
separators, `..`) are dropped with a note, so nothing downstream can write outside the cache.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelmagic.index.urls import filename_from_url, redact, safe_filename

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_CONTENT_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_HASH_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128, "md5": 32, "sha1": 40, "sha224": 56}


class PageError(ValueError):
    """A page that cannot be read at all (bad JSON, unsupported API version)."""


@dataclass(frozen=True)
class IndexFile:
    """One file link on a project page."""

    filename: str
    url: str
    hashes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    requires_python: str | None = None
    #: None: not yanked; otherwise the reason ("" when none was given)
    yanked: str | None = None
    metadata_url: str | None = None
    size: int | None = None
    #: the PEP 658 metadata file's sha256, when the page gives it
    metadata_sha256: str | None = None

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")


@dataclass
class Page:
    files: list[IndexFile]
    notes: list[str] = field(default_factory=list)


def _clean_hashes(items: Iterable[tuple[str, object]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for algo, value in items:
        algo = str(algo).lower()
        if (
            isinstance(value, str)
            and _HEX.match(value)
            and _HASH_LENGTHS.get(algo, len(value)) == len(value)
        ):
            out[algo] = value.lower()
    return out


def _fragment_hashes(fragment: str) -> dict[str, str]:
    pairs = []
    for part in fragment.split("&"):
        algo, sep, value = part.partition("=")
        if sep:
            pairs.append((algo, value))
    return _clean_hashes(pairs)


def _metadata_url(url: str, value: object) -> str | None:
    """PEP 658/714: `true`, `"true"`, `"sha256=..."` or a hash dict mean `<url>.metadata`."""
    if value is None or value is False or value == "false":
        return None
    return url + ".metadata"


def _metadata_sha256(value: object) -> str | None:
    """PEP 658/714: `"sha256=..."` or `{"sha256": ...}` give the metadata file's hash."""
    if isinstance(value, str):
        return _fragment_hashes(value).get("sha256")
    if isinstance(value, dict):
        return _clean_hashes(value.items()).get("sha256")
    return None


def _make(
    url: str,
    name_hint: str | None,
    hashes: dict[str, str],
    requires_python: str | None,
    yanked: str | None,
    metadata: object,
    size: int | None,
    notes: list[str],
) -> IndexFile | None:
    try:
        filename = safe_filename(name_hint or filename_from_url(url))
    except ValueError:
        notes.append(f"ignored a link with an unsafe file name: {redact(url)}")
        return None
    rp = requires_python.strip() if requires_python else None
    meta_url = _metadata_url(url, metadata)
    meta_sha = _metadata_sha256(metadata) if meta_url else None
    return IndexFile(filename, url, hashes, rp or None, yanked, meta_url, size, meta_sha)


def parse_json_page(body: bytes, base_url: str) -> Page:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise PageError(f"not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise PageError("the JSON page is not an object")
    meta = doc.get("meta", {})
    api = str(meta.get("api-version", "1.0")) if isinstance(meta, dict) else "1.0"
    if not api.startswith("1."):
        raise PageError(f"unsupported simple API version {api}")
    files = doc.get("files", [])
    if not isinstance(files, list):
        raise PageError("'files' is not a list")
    notes: list[str] = []
    out: list[IndexFile] = []
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            notes.append("ignored a malformed file entry")
            continue
        url, frag = urldefrag(urljoin(base_url, item["url"]))
        hashes_obj = item.get("hashes")
        hashes = _clean_hashes(hashes_obj.items()) if isinstance(hashes_obj, dict) else {}
        if not hashes and frag:
            hashes = _fragment_hashes(frag)
        yanked_v = item.get("yanked", False)
        yanked = (yanked_v if isinstance(yanked_v, str) else "") if yanked_v else None
        rp = item.get("requires-python")
        size = item.get("size")
        metadata = item.get("core-metadata", item.get("dist-info-metadata"))
        filename = item.get("filename") if isinstance(item.get("filename"), str) else None
        made = _make(
            url,
            filename,
            hashes,
            rp if isinstance(rp, str) else None,
            yanked,
            metadata,
            size if isinstance(size, int) and size >= 0 else None,
            notes,
        )
        if made:
            out.append(made)
    return Page(out, notes)


class _LinkParser(HTMLParser):
    """Collects <a> tags and <base href>; tolerant of unclosed tags and odd markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base is None:
            href = dict(attrs).get("href")
            if href:
                self.base = href
        elif tag == "a":
            self.anchors.append(dict(attrs))

    handle_startendtag = handle_starttag


def parse_html_page(body: bytes, base_url: str) -> Page:
    text = body.decode("utf-8", errors="replace")
    parser = _LinkParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception as err:  # html.parser is lenient; guard anyway
        raise PageError(f"unreadable HTML: {err}") from None
    base = urljoin(base_url, parser.base) if parser.base else base_url
    notes: list[str] = []
    out: list[IndexFile] = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, frag = urldefrag(urljoin(base, href.strip()))
        yanked = (attrs.get("data-yanked") or "") if "data-yanked" in attrs else None
        metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        if "data-core-metadata" not in attrs and "data-dist-info-metadata" not in attrs:
            metadata = None
        elif metadata is None:
            metadata = "true"  # attribute present without a value
        made = _make(
            url,
            None,
            _fragment_hashes(frag),
            attrs.get("data-requires-python"),
            yanked,
            metadata,
            None,
            notes,
        )
        if made:
            out.append(made)
    return Page(out, notes)


def parse_project_page(body: bytes, content_type: str, base_url: str) -> Page:
    """One project page -> its files. JSON when the server said so, HTML otherwise."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if (
        ctype.startswith("application/vnd.pypi.simple.")
        and ctype.endswith("+json")
        or (ctype == "application/json")
    ):
        page = parse_json_page(body, base_url)
    else:
        page = parse_html_page(body, base_url)
    kept = [f for f in page.files if link_allowed(base_url, f.url)]
    page.notes.extend(
        f"ignored a link to {redact(f.url)}: a page from {urlsplit(base_url).scheme}:// may "
        "only link to http(s) files"
        for f in page.files
        if f not in kept
    )
    page.files = [
        f
        if f.metadata_url is None or link_allowed(base_url, f.metadata_url)
        else replace(f, metadata_url=None)
        for f in kept
    ]
    return page


def link_allowed(page_url: str, link: str) -> bool:
    """A remote page links only to http(s); `file:` links only from a `file:` index the user named.

    Without this a PEP 691 `url: file:///home/u/...` on a remote index would make wheelmagic
    read (and install) a file from the user's own disk.
    """
    page, target = urlsplit(page_url).scheme.lower(), urlsplit(link).scheme.lower()
    if target in ("http", "https"):
        return True
    return target == "file" and page == "file"


def variants_json_version(filename: str, project: str) -> Version | None:
    """`torch-2.10.0-variants.json` -> Version('2.10.0') when it belongs to `project`."""
    if not filename.endswith("-variants.json"):
        return None
    stem = filename[: -len("-variants.json")]
    name, sep, version = stem.rpartition("-")
    if not sep or canonicalize_name(name) != canonicalize_name(project):
        return None
    try:
        return Version(version)
    except InvalidVersion:
        return None


def json_depth_ok(data: object, limit: int = 32) -> bool:
    """True when `data` nests no deeper than `limit` (variants.json needs about 5)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
    return True
