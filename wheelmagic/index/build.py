"""`wheelmagic index build WHEEL_DIR OUT_DIR`: a static, variant-enabled simple index.

Layout (any static file server can host it; our client and pip read it):

    OUT_DIR/files/<wheel>                          copied, hard-linked, or symlinked (--link)
    OUT_DIR/files/<wheel>.metadata                 its METADATA (PEP 658, linked from the pages)
    OUT_DIR/files/<name>-<version>-variants.json   merged from the wheels' variant.json
    OUT_DIR/simple/index.html, index.json          the project list (PEP 503 / PEP 691)
    OUT_DIR/simple/<project>/index.html            PEP 503 page: `../../files/...#sha256=`,
                                                   `data-requires-python`
    OUT_DIR/simple/<project>/index.json            the same as PEP 691 JSON

A static server cannot negotiate on `Accept`, so it serves `index.html` for the directory; a
server that can (like the test server) returns `index.json` for
`Accept: application/vnd.pypi.simple.v1+json`. Both carry the same files.

Big wheels: only the central directory and the dist-info members are read from each zip, and
the hash is computed with a streaming read.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelmagic._fs import sha256_file
from wheelmagic.errors import InvalidWheelName, VariantMetadataError, WheelmagicError
from wheelmagic.variants.filename import WheelName, parse_wheel_name
from wheelmagic.variants.metadata import VariantsMetadata, merge_metadata, parse_variants_json

LINK_MODES = ("auto", "copy", "hardlink", "symlink")


@dataclass
class WheelInfo:
    path: Path
    wheel: WheelName
    sha256: str
    size: int
    requires_python: str | None
    #: the wheel's own `*.dist-info/variant.json`, parsed (None for a non-variant wheel)
    variant: VariantsMetadata | None
    #: the wheel's METADATA, served beside it as `<wheel>.metadata` (PEP 658)
    metadata: bytes = b""


def read_wheel(path: Path) -> WheelInfo:
    """Facts about one wheel: hash, Requires-Python, its variant.json (checked vs the name)."""
    wheel = parse_wheel_name(path.name)
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            dist_infos = {
                n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")
            }
            prefix = _pick_dist_info(dist_infos, wheel)
            meta_text = zf.read(f"{prefix}/METADATA").decode("utf-8", errors="replace")
            variant_raw = (
                zf.read(f"{prefix}/variant.json") if f"{prefix}/variant.json" in names else None
            )
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise InvalidWheelName(
            f"{path}: not a readable wheel ({err})",
            hint="rebuild the wheel or remove it from the directory",
        ) from None
    headers = HeaderParser().parsestr(meta_text, headersonly=True)
    rp = headers.get("Requires-Python")
    variant = None
    where = f"{path.name}:{prefix}/variant.json"
    if variant_raw is not None:
        try:
            variant = parse_variants_json(json.loads(variant_raw), where)
        except ValueError as err:
            raise VariantMetadataError(
                f"{where}: not valid JSON ({err})", hint="rebuild the wheel"
            ) from None
    if wheel.is_variant:
        if variant is None:
            raise VariantMetadataError(
                f"{path.name} is a variant wheel (label {wheel.label!r}) but has no "
                f"{prefix}/variant.json",
                hint="rebuild it with a variant-aware build backend",
            )
        if set(variant.variants) != {wheel.label}:
            raise VariantMetadataError(
                f"{where} describes {sorted(variant.variants)}, but the file name says "
                f"{wheel.label!r}",
                hint="rename the wheel or fix its variant.json",
            )
    elif variant is not None:
        variant = None  # a variant.json in a non-variant wheel says nothing about selection
    return WheelInfo(
        path,
        wheel,
        sha256_file(path),
        path.stat().st_size,
        rp.strip() if rp else None,
        variant,
        meta_text.encode("utf-8"),
    )


def _pick_dist_info(dist_infos: set[str], wheel: WheelName) -> str:
    for d in sorted(dist_infos):
        stem = d[: -len(".dist-info")]
        name, _, _version = stem.rpartition("-")
        if canonicalize_name(name) == wheel.name:
            return d
    raise KeyError("no .dist-info directory for the project")


def variants_json_name(project: str, version: Version) -> str:
    return f"{canonicalize_name(project).replace('-', '_')}-{version}-variants.json"


@dataclass
class BuildReport:
    projects: dict[str, list[str]] = field(default_factory=dict)
    variants_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _place(src: Path, dst: Path, mode: str) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if mode == "symlink":
        os.symlink(src.resolve(), dst)
        return
    if mode in ("hardlink", "auto"):
        try:
            os.link(src.resolve(), dst)  # the file itself, not a symlink to it
            return
        except OSError:
            if mode == "hardlink":
                raise
    shutil.copyfile(src, dst)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build_index(wheel_dir: Path | str, out_dir: Path | str, *, link: str = "auto") -> BuildReport:
    """Write the static index for every `*.whl` in `wheel_dir` (see the module docstring)."""
    wheel_dir, out = Path(wheel_dir), Path(out_dir)
    if link not in LINK_MODES:
        raise ValueError(f"link must be one of {LINK_MODES}")
    # a missing or wheel-less input is an error before anything is written
    if not wheel_dir.is_dir():
        raise WheelmagicError(
            f"{wheel_dir}: no such directory"
            if not wheel_dir.exists()
            else f"{wheel_dir}: not a directory",
            hint="pass the directory that holds the wheels: wheelmagic index build WHEEL_DIR OUT_DIR",
        )
    wheels = sorted(p for p in wheel_dir.glob("*.whl") if p.is_file())
    if not wheels:
        raise WheelmagicError(
            f"{wheel_dir}: no wheels (*.whl) in it; nothing was written to {out}",
            hint="put the wheels to serve into that directory (pip download --no-deps -d DIR ...)",
        )
    files_dir = out / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    report = BuildReport()
    infos = [read_wheel(p) for p in wheels]
    by_project: dict[str, list[WheelInfo]] = {}
    for info in infos:
        by_project.setdefault(str(info.wheel.name), []).append(info)
    for project, items in sorted(by_project.items()):
        entries: list[dict[str, Any]] = []
        versions: dict[Version, list[VariantsMetadata]] = {}
        for info in items:
            _place(info.path, files_dir / info.path.name, link)
            _write(files_dir / f"{info.path.name}.metadata", info.metadata)
            entries.append(
                {
                    "filename": info.path.name,
                    "sha256": info.sha256,
                    "size": info.size,
                    "requires_python": info.requires_python,
                    "metadata_sha256": hashlib.sha256(info.metadata).hexdigest(),
                }
            )
            if info.variant is not None:
                versions.setdefault(info.wheel.version, []).append(info.variant)
        for version, metas in sorted(versions.items()):
            name = variants_json_name(project, version)
            merged = merge_metadata(metas, name)  # raises on conflicting labels/priorities
            data = json.dumps(merged.to_json(), indent=2, sort_keys=True).encode() + b"\n"
            _write(files_dir / name, data)
            entries.append(
                {
                    "filename": name,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "requires_python": None,
                }
            )
            report.variants_files.append(name)
        _write_project(out / "simple" / project, project, entries)
        report.projects[project] = [e["filename"] for e in entries]
    _write_root(out / "simple", sorted(by_project))
    return report


def _write_project(page_dir: Path, project: str, entries: list[dict[str, Any]]) -> None:
    links = []
    files = []
    for e in sorted(entries, key=lambda e: e["filename"]):
        href = f"../../files/{e['filename']}"
        rp = e["requires_python"]
        rp_attr = f' data-requires-python="{html.escape(rp, quote=True)}"' if rp else ""
        md = e.get("metadata_sha256")
        if md:
            rp_attr += f' data-core-metadata="sha256={md}" data-dist-info-metadata="sha256={md}"'
        links.append(
            f'    <a href="{html.escape(href)}#sha256={e["sha256"]}"{rp_attr}>'
            f"{html.escape(e['filename'])}</a><br/>"
        )
        item: dict[str, Any] = {
            "filename": e["filename"],
            "url": href,
            "hashes": {"sha256": e["sha256"]},
            "size": e["size"],
        }
        if rp:
            item["requires-python"] = rp
        if md:
            item["core-metadata"] = {"sha256": md}
            item["dist-info-metadata"] = {"sha256": md}
        files.append(item)
    page = (
        f'<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" '
        f'content="1.1"><title>Links for {html.escape(project)}</title></head>\n  <body>\n'
        f"    <h1>Links for {html.escape(project)}</h1>\n"
        + "\n".join(links)
        + "\n  </body>\n</html>\n"
    )
    _write(page_dir / "index.html", page.encode())
    doc = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
    _write(page_dir / "index.json", json.dumps(doc, indent=1).encode())


def _write_root(simple: Path, projects: list[str]) -> None:
    links = "\n".join(f'    <a href="{p}/">{p}</a><br/>' for p in projects)
    page = (
        '<!DOCTYPE html>\n<html>\n  <head><meta name="pypi:repository-version" '
        'content="1.1"><title>Simple index</title></head>\n  <body>\n'
        + links
        + "\n  </body>\n</html>\n"
    )
    _write(simple / "index.html", page.encode())
    doc = {"meta": {"api-version": "1.1"}, "projects": [{"name": p} for p in projects]}
    _write(simple / "index.json", json.dumps(doc, indent=1).encode())
