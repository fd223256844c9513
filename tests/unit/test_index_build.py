"""`wheelmagic index build`: the static layout and the variant.json checks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from support.server import make_wheel, variant_doc

from wheelmagic.commands import index as index_cmd
from wheelmagic.errors import VariantMetadataError
from wheelmagic.index.build import build_index
from wheelmagic.index.pages import parse_project_page

CU = {"nvidia": {"cuda_version_lower_bound": ["12.8"], "sm_arch": ["90_real"]}}


def _wheels(d: Path) -> Path:
    d.mkdir()
    make_wheel(d, "demo", "1.0", requires_python=">=3.9")
    make_wheel(d, "demo", "1.0", label="cu128", variant_json=variant_doc("cu128", CU))
    make_wheel(d, "demo", "1.0", label="null", variant_json=variant_doc("null", {}))
    make_wheel(d, "other-pkg", "0.1")
    return d


def test_build_layout_and_pages(tmp_path: Path) -> None:
    wheels = _wheels(tmp_path / "wheels")
    out = tmp_path / "out"
    report = build_index(wheels, out)
    assert report.variants_files == ["demo-1.0-variants.json"]
    merged = json.loads((out / "files" / "demo-1.0-variants.json").read_text())
    assert set(merged["variants"]) == {"cu128", "null"}
    assert (out / "simple" / "other-pkg" / "index.html").is_file()
    html_page = parse_project_page(
        (out / "simple/demo/index.html").read_bytes(), "text/html", "http://h/simple/demo/"
    )
    json_page = parse_project_page(
        (out / "simple/demo/index.json").read_bytes(),
        "application/vnd.pypi.simple.v1+json",
        "http://h/simple/demo/",
    )
    assert [f.filename for f in html_page.files] == [f.filename for f in json_page.files]
    plain = next(f for f in html_page.files if f.filename == "demo-1.0-py3-none-any.whl")
    assert plain.requires_python == ">=3.9" and plain.url == "http://h/files/" + plain.filename
    assert all(f.sha256 for f in html_page.files)


def test_build_symlink_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wheels = _wheels(tmp_path / "wheels")
    parser = argparse.ArgumentParser()
    index_cmd.register(parser.add_subparsers())
    args = parser.parse_args(
        ["index", "build", str(wheels), str(tmp_path / "o"), "--link", "--json"]
    )
    assert args.func(args) == 0
    assert (tmp_path / "o/files/demo-1.0-py3-none-any.whl").is_symlink()
    assert "demo" in json.loads(capsys.readouterr().out)["projects"]


def test_build_rejects_inconsistent_variant_json(tmp_path: Path) -> None:
    d = tmp_path / "w"
    d.mkdir()
    make_wheel(
        d,
        "demo",
        "1.0",
        tag="cp311-cp311-linux_x86_64",
        label="cu128",
        variant_json=variant_doc("cu128", CU),
    )
    other = {"nvidia": {"cuda_version_lower_bound": ["12.6"]}}
    make_wheel(
        d,
        "demo",
        "1.0",
        tag="cp312-cp312-linux_x86_64",
        label="cu128",
        variant_json=variant_doc("cu128", other),
    )
    with pytest.raises(VariantMetadataError, match="different properties"):
        build_index(d, tmp_path / "o")


def test_build_rejects_label_mismatch_and_missing_variant_json(tmp_path: Path) -> None:
    d = tmp_path / "w"
    d.mkdir()
    make_wheel(d, "demo", "1.0", label="cu128", variant_json=variant_doc("cu126", CU))
    with pytest.raises(VariantMetadataError, match="file name says"):
        build_index(d, tmp_path / "o")
    d2 = tmp_path / "w2"
    d2.mkdir()
    make_wheel(d2, "demo", "1.0", label="cu128")
    with pytest.raises(VariantMetadataError, match="no demo-1.0.dist-info/variant.json"):
        build_index(d2, tmp_path / "o2")
