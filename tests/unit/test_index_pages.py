"""Pure page parsing and URL policy: no network."""

from __future__ import annotations

import json

import pytest
from packaging.version import Version

from wheelmagic.errors import IndexError_
from wheelmagic.index.pages import (
    PageError,
    json_depth_ok,
    parse_project_page,
    variants_json_version,
)
from wheelmagic.index.urls import check_redirect, check_transport, redact, safe_filename

H = "a" * 64
BASE = "https://example.org/simple/torch/"


def test_html_relative_urls_hash_requires_python_yanked_metadata() -> None:
    body = f"""<html><body>
    <a href="../../files/torch-2.8.0-cp311-cp311-linux_x86_64.whl#sha256={H}"
       data-requires-python="&gt;=3.9" data-dist-info-metadata="sha256={H}">x</a>
    <a href="https://cdn.example.org/torch-2.7.0-py3-none-any.whl" data-yanked="broken build">y</a>
    <a href="/abs/torch-2.6.0-py3-none-any.whl" data-yanked data-core-metadata="true">z</a>
    </body></html>""".encode()
    page = parse_project_page(body, "text/html; charset=utf-8", BASE)
    a, b, c = page.files
    assert a.url == "https://example.org/files/torch-2.8.0-cp311-cp311-linux_x86_64.whl"
    assert a.sha256 == H and a.requires_python == ">=3.9"
    assert a.metadata_url == a.url + ".metadata" and a.yanked is None
    assert b.yanked == "broken build" and b.metadata_url is None
    assert c.url == "https://example.org/abs/torch-2.6.0-py3-none-any.whl"
    assert c.yanked == "" and c.metadata_url is not None


def test_html_odd_markup_base_href_and_unsafe_names() -> None:
    body = f"""<!DOCTYPE html><HTML><base href="https://mirror.example/pkgs/">
    <A HREF='w-1.0-py3-none-any.whl#SHA256={H.upper()}'>w</A
    ><a>no href</a><a href="">empty</a><p><a href="w-2.0-py3-none-any.whl#md5=xyz">
    <a href="%2e%2e%2fevil-1.0-py3-none-any.whl">evil</a>
    <a href="sub/..%2F..%2Fetc-1.0-py3-none-any.whl">evil2</a>
    <a href="w-3.0-py3-none-any.whl" data-requires-python="&lt;4,&gt;=3.8 ">ok
    """.encode()
    page = parse_project_page(body, "text/html", BASE)
    names = [f.filename for f in page.files]
    assert names == ["w-1.0-py3-none-any.whl", "w-2.0-py3-none-any.whl", "w-3.0-py3-none-any.whl"]
    assert page.files[0].url.startswith("https://mirror.example/pkgs/")
    assert page.files[0].sha256 == H  # upper-case hex normalised
    assert page.files[1].hashes == {}  # invalid md5 ignored
    assert page.files[2].requires_python == "<4,>=3.8"
    assert len([n for n in page.notes if "unsafe" in n]) == 2


def test_json_page() -> None:
    doc = {
        "meta": {"api-version": "1.1"},
        "name": "torch",
        "files": [
            {
                "filename": "torch-2.8.0-py3-none-any.whl",
                "url": "../../files/t.whl",
                "hashes": {"sha256": H},
                "requires-python": ">=3.9",
                "yanked": "bad",
                "core-metadata": {"sha256": H},
                "size": 10,
            },
            {
                "filename": "torch-2.7.0-py3-none-any.whl",
                "url": "https://x/t2.whl#sha256=" + H,
                "hashes": {},
                "yanked": False,
            },
            {"filename": "../x.whl", "url": "x"},
            "garbage",
        ],
    }
    page = parse_project_page(json.dumps(doc).encode(), "application/vnd.pypi.simple.v1+json", BASE)
    a, b = page.files
    assert a.url == "https://example.org/files/t.whl" and a.filename.startswith("torch-2.8.0")
    assert a.yanked == "bad" and a.size == 10 and a.metadata_url
    assert b.sha256 == H and b.url == "https://x/t2.whl" and b.yanked is None
    assert len(page.notes) == 2


def test_json_page_errors() -> None:
    with pytest.raises(PageError):
        parse_project_page(b"{not json", "application/vnd.pypi.simple.v1+json", BASE)
    with pytest.raises(PageError):
        parse_project_page(
            b'{"meta": {"api-version": "2.0"}, "files": []}',
            "application/vnd.pypi.simple.v1+json",
            BASE,
        )
    deep = b"[" * 100000 + b"]" * 100000
    with pytest.raises(PageError):
        parse_project_page(deep, "application/vnd.pypi.simple.v1+json", BASE)


def test_variants_json_version_and_depth() -> None:
    assert variants_json_version("torch-2.10.0-variants.json", "torch") == Version("2.10.0")
    assert variants_json_version("my_pkg-1.0-variants.json", "My-Pkg") == Version("1.0")
    assert variants_json_version("torchvision-0.25.0-variants.json", "torch") is None
    assert variants_json_version("torch-2.10.0.json", "torch") is None
    nested: object = 1
    for _ in range(40):
        nested = [nested]
    assert not json_depth_ok(nested, 32) and json_depth_ok({"a": {"b": [1]}}, 32)


def test_redact_and_safe_filename() -> None:
    assert redact("https://user:s3cret@host/simple/") == "https://user:****@host/simple/"
    assert redact("https://tok@host/x") == "https://****@host/x"
    assert "s3cret" not in redact("https://u:s3cret@h/")
    for bad in ("../x.whl", "a/b.whl", "a\\b.whl", "..", ".hidden.whl", "%2e%2e%2fx.whl"):
        with pytest.raises(ValueError):
            safe_filename(bad)
    assert (
        safe_filename("torch-2.8.0%2Bcu128-py3-none-any.whl")
        == "torch-2.8.0+cu128-py3-none-any.whl"
    )


def test_transport_and_redirect_policy() -> None:
    check_transport("https://pypi.org/simple/")
    check_transport("http://127.0.0.1:8000/simple/")
    check_transport("http://localhost/simple/")
    check_transport("file:///opt/pypi/simple")
    check_transport("http://mirror.lan:8080/simple/", ["mirror.lan"])
    with pytest.raises(IndexError_, match="--trusted-host mirror.lan"):
        check_transport("http://mirror.lan/simple/")
    with pytest.raises(IndexError_):
        check_transport("http://mirror.lan:8080/simple/", ["mirror.lan:9090"])
    check_redirect("https://a/x", "https://b/y")
    check_redirect("http://127.0.0.1/x", "http://localhost/y")
    with pytest.raises(IndexError_, match="downgrades"):
        check_redirect("https://a/x", "http://b/y")
