"""IndexClient against a real loopback server serving indexes that `index build` wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.version import Version
from support.server import Fault, Server, make_wheel, serve_directory, variant_doc

from wheelmagic.errors import IndexError_
from wheelmagic.index import IndexClient, resolve_indexes
from wheelmagic.index.build import build_index
from wheelmagic.index.sources import IndexConfig

CU = {"nvidia": {"cuda_version_lower_bound": ["12.8"], "sm_arch": ["90_real"]}}
NO_PT = {"torch_backend": "none"}


@pytest.fixture
def built(tmp_path: Path) -> Iterator[Server]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "demo", "1.0", requires_python=">=3.8")
    make_wheel(wheels, "demo", "1.0", label="cu128", variant_json=variant_doc("cu128", CU))
    make_wheel(wheels, "demo", "1.0", label="null", variant_json=variant_doc("null", {}))
    make_wheel(wheels, "demo", "0.9")
    build_index(wheels, tmp_path / "www")
    with serve_directory(tmp_path / "www") as srv:
        yield srv


def _config(*urls: str, **kw: object) -> IndexConfig:
    return IndexConfig(index_urls=tuple(urls), torch_backend="none", pytorch_defaults=False, **kw)  # type: ignore[arg-type]


def test_project_json_negotiation_and_variants(built: Server, tmp_path: Path) -> None:
    with IndexClient(_config(built.url("simple/")), tmp_path / "cache") as client:
        files = client.project("Demo")
    names = sorted(c.filename for c in files.candidates)
    assert names == [
        "demo-0.9-py3-none-any.whl",
        "demo-1.0-py3-none-any-cu128.whl",
        "demo-1.0-py3-none-any-null.whl",
        "demo-1.0-py3-none-any.whl",
    ]
    assert set(files.variants) == {Version("1.0")}
    assert set(files.variants[Version("1.0")].variants) == {"cu128", "null"}
    plain = next(c for c in files.candidates if c.filename == "demo-1.0-py3-none-any.whl")
    assert plain.requires_python == ">=3.8" and plain.sha256 and plain.size
    seen = [r for r in built.requests if r.path == "/simple/demo/"]
    assert "application/vnd.pypi.simple.v1+json" in seen[0].headers["Accept"]
    assert files.errors == []


def test_second_run_downloads_no_page_bodies(built: Server, tmp_path: Path) -> None:
    for _ in range(2):
        with IndexClient(_config(built.url("simple/")), tmp_path / "cache") as client:
            files = client.project("demo")
            assert len(files.candidates) == 4 and files.variants
    assert built.count("/simple/demo/") == 2 and built.body_count("/simple/demo/") == 1
    assert built.statuses("/simple/demo/") == [200, 304]
    assert built.statuses("/files/demo-1.0-variants.json") == [200, 304]


def test_html_only_server_and_odd_markup(built: Server, tmp_path: Path) -> None:
    h = "b" * 64
    odd = (
        f"<html><BODY><a href='../../files/demo-2.0-py3-none-any.whl#sha256={h}' "
        "data-requires-python='&gt;=3.10'>d<a href=../../files/demo-2.1-py3-none-any.whl>"
        "<a href='../../files/..%2f..%2fescape-1.0-py3-none-any.whl'>"
    ).encode()
    built.faults["/simple/demo/"] = Fault("body", body=odd, content_type="text/html")
    with IndexClient(_config(built.url("simple/")), None) as client:
        files = client.project("demo")
    assert [c.filename for c in files.candidates] == [
        "demo-2.0-py3-none-any.whl",
        "demo-2.1-py3-none-any.whl",
    ]
    assert files.candidates[0].requires_python == ">=3.10"
    assert any("unsafe" in n for n in files.notes)


@pytest.mark.parametrize("kind", ["malformed", "too-large", "bad-hash", "deep"])
def test_bad_variants_json_is_reported_not_used(built: Server, tmp_path: Path, kind: str) -> None:
    path = "/files/demo-1.0-variants.json"
    if kind == "malformed":
        built.faults[path] = Fault("body", body=b"{nope", content_type="application/json")
    elif kind == "too-large":
        built.faults[path] = Fault("body", body=b" " * (6 * 1024 * 1024))
    elif kind == "bad-hash":
        built.faults[path] = Fault("wrong-bytes")
    else:
        target = built.root / "files" / "demo-1.0-variants.json"
        deep = json.loads(target.read_text())
        nested: object = 1
        for _ in range(50):
            nested = [nested]
        deep["variants"]["null"] = {"x": nested}
        target.write_text(json.dumps(deep))
        # the page's hash no longer matches either; rebuild the link without a hash
        page = built.root / "simple/demo/index.json"
        doc = json.loads(page.read_text())
        for f in doc["files"]:
            if f["filename"].endswith("variants.json"):
                f["hashes"] = {}
        page.write_text(json.dumps(doc))
    with IndexClient(_config(built.url("simple/")), None) as client:
        files = client.project("demo")
    assert files.variants == {}
    assert len(files.errors) == 1 and "demo-1.0-variants.json" in files.errors[0]
    assert len(files.candidates) == 4  # the engine rejects the variant wheels as unknown


def test_several_indexes_union_merge_and_failures(built: Server, tmp_path: Path) -> None:
    wheels = tmp_path / "w2"
    wheels.mkdir()
    make_wheel(
        wheels,
        "demo",
        "1.0",
        tag="py2.py3-none-any",
        label="cu126",
        variant_json=variant_doc("cu126", {"nvidia": {"cuda_version_lower_bound": ["12.6"]}}),
    )
    build_index(wheels, tmp_path / "www2")
    with serve_directory(tmp_path / "www2") as second:
        config = _config(built.url("simple/"), second.url("simple/"), "http://127.0.0.1:9/simple/")
        with IndexClient(config, None) as client:
            client.http.retries = 0
            files = client.project("demo")
    assert len(files.candidates) == 5
    assert set(files.variants[Version("1.0")].variants) == {"cu128", "null", "cu126"}
    assert len(files.errors) == 1 and "127.0.0.1:9" in files.errors[0]


def test_all_indexes_failing_is_an_error_and_404_is_a_note(built: Server) -> None:
    with IndexClient(_config(built.url("simple/")), None) as client:
        assert client.project("missing").candidates == []
        built.faults["/simple/demo/"] = Fault("status", code=500, times=None)
        client.http.retries = 1
        client.http.backoff = 0.01
        with pytest.raises(IndexError_, match="no index could be read"):
            client.project("demo")


def test_500_then_200_is_retried(built: Server) -> None:
    built.faults["/simple/demo/"] = Fault("status", code=503, times=1)
    with IndexClient(_config(built.url("simple/")), None) as client:
        client.http.backoff = 0.01
        assert len(client.project("demo").candidates) == 4
    assert built.statuses("/simple/demo/") == [503, 200]


def test_redirect_policy(built: Server) -> None:
    built.faults["/simple/demo/"] = Fault("redirect", location="http://10.255.255.1/simple/demo/")
    with (
        IndexClient(_config(built.url("simple/")), None) as client,
        pytest.raises(IndexError_) as info,
    ):
        client.project("demo")
    assert "downgrades" in str(info.value)
    local = built.url("simple/demo/").replace("127.0.0.1", "localhost")
    built.faults["/simple/demo/"] = Fault("redirect", location=local)
    with IndexClient(_config(built.url("simple/")), None) as client:
        assert len(client.project("demo").candidates) == 4


def test_plain_http_refused_and_credentials_redacted() -> None:
    config = _config("http://user:hunter2@mirror.invalid/simple/")
    with IndexClient(config, None) as client, pytest.raises(IndexError_) as info:
        client.project("demo")
    assert "hunter2" not in str(info.value) and "--trusted-host mirror.invalid" in str(info.value)


def test_legacy_backend_indexes_as_virtual_variants(tmp_path: Path) -> None:
    root = tmp_path / "whl"
    for backend in ("cu128", "cpu"):
        d = tmp_path / f"w-{backend}"
        d.mkdir()
        make_wheel(d, "torch", f"2.8.0+{backend}", tag="cp311-cp311-manylinux_2_28_x86_64")
        make_wheel(d, "torchvision", f"0.23.0+{backend}", tag="cp311-cp311-manylinux_2_28_x86_64")
        build_index(d, root / backend)
    (root / "variant").mkdir()
    build_index(tmp_path / "w-cpu", root / "variant-unused")
    (root / "vi" / "simple").mkdir(parents=True)  # an empty variant index: 404 per project
    with serve_directory(root) as srv:
        config = resolve_indexes(
            srv.url("cu128/simple/"),
            env={
                "WHEELMAGIC_PYTORCH_INDEX_BASE": srv.url("").rstrip("/"),
                "WHEELMAGIC_PYTORCH_VARIANT_INDEX": srv.url("vi/simple/"),
            },
            torch_backend="auto",
            read_pip_files=False,
        )
        supported = {
            "nvidia": {"cuda_version_lower_bound": ["12.8", "12.6"], "sm_arch": ["90_real"]}
        }
        # the per-backend pages live at <base>/<backend>/<project>/ in PyTorch's layout
        for backend in ("cu128", "cpu"):
            for proj in ("torch", "torchvision"):
                src = root / backend / "simple" / proj
                dst = root / backend / proj
                dst.mkdir()
                page = (src / "index.html").read_text().replace("../../files/", "../files/")
                (dst / "index.html").write_text(page)
        with IndexClient(config, None, supported=supported) as client:
            # the lines this driver runs, then the other CUDA lines (to say why they lost), cpu
            backends = client.torch_backends()
            assert backends[:2] == ["cu128", "cu126"] and backends[-1] == "cpu"
            files = client.project("torchvision")
    labels = sorted((c.filename, c.virtual_label) for c in files.candidates)
    assert ("torchvision-0.23.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl", "cu128") in labels
    assert ("torchvision-0.23.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "null") in labels
    meta = files.variants[Version("0.23.0+cu128")]
    props = meta.variants["cu128"]["nvidia"]
    assert props["cuda_version_lower_bound"] == ("12.8",) and "120_real" in props["sm_arch"]
    assert files.variants[Version("0.23.0+cpu")].variants["null"] == {}


def test_file_index_and_find_links(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "demo", "1.0")
    make_wheel(wheels, "other", "1.0")
    build_index(wheels, tmp_path / "www")
    flat = tmp_path / "flat"
    flat.mkdir()
    make_wheel(flat, "demo", "3.0")
    make_wheel(flat, "other", "3.0")
    config = _config((tmp_path / "www" / "simple").as_uri(), find_links=(flat.as_uri(),))
    with IndexClient(config, None) as client:
        files = client.project("demo")
    assert sorted(c.filename for c in files.candidates) == [
        "demo-1.0-py3-none-any.whl",
        "demo-3.0-py3-none-any.whl",
    ]
    assert files.candidates[0].url.startswith("file://")


def test_resolve_indexes_order(tmp_path: Path) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(
        "[global]\nindex-url = https://conf/simple\nextra-index-url = "
        "file:///opt/pypi/simple file:///opt/pypi-more/simple\ntrusted-host = lan\n"
    )
    env = {"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    c = resolve_indexes(env=env)
    assert c.index_urls == (
        "https://conf/simple",
        "file:///opt/pypi/simple",
        "file:///opt/pypi-more/simple",
    )
    assert c.trusted_hosts == ("lan",) and c.pytorch_defaults
    c = resolve_indexes(env={**env, "PIP_INDEX_URL": "https://pipenv/simple"})
    assert c.index_urls[0] == "https://pipenv/simple"
    c = resolve_indexes(
        env={
            **env,
            "WHEELMAGIC_INDEX_URL": "https://wm/simple",
            "PIP_INDEX_URL": "https://pipenv/simple",
        }
    )
    assert c.index_urls[0] == "https://wm/simple" and not c.pytorch_defaults
    c = resolve_indexes(
        "https://opt/simple",
        ["https://x/simple"],
        env={**env, "WHEELMAGIC_INDEX_URL": "https://wm/simple"},
    )
    assert c.index_urls == ("https://opt/simple", "https://x/simple")
    c = resolve_indexes(env={"PIP_CONFIG_FILE": "/dev/null", "HOME": str(tmp_path)})
    assert c.index_urls == ("https://pypi.org/simple/",)
    c = resolve_indexes("https://opt/simple", torch_backend="cu128", env=env)
    assert c.pytorch_defaults and c.torch_backend == "cu128"
    with pytest.raises(IndexError_):
        resolve_indexes(torch_backend="cu999x", env=env)
