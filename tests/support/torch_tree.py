"""Loopback indexes shaped like PyTorch's real ones (issue 15), built from tiny wheels.

* `per_backend_tree`: `<root>/whl/<backend>/<project>/index.html`, as download.pytorch.org
  lays them out, every file named with its local label (`torch-2.9.0+cu126-...whl`), several
  releases, and releases that lack the newest CUDA or a backend (as the real ones do: cu118
  stops at 2.7, cu130 starts at 2.9).
* `simple_index`: `<root>/<name>/<project>/index.html` for plain files (PyPI's own torch) and,
  with `variants`, variant wheels plus their `*-variants.json` (the published variant index
  mixes those with plain PyPI links for newer releases).

Pages are PEP 503 HTML with `#sha256=`; the files live under `<root>/files/`.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging import tags

from support.server import make_wheel

#: per-backend index -> the torch releases it carries (a small slice of the real tree)
REAL_SHAPED: dict[str, tuple[str, ...]] = {
    "cpu": ("2.7.1", "2.8.0", "2.9.0"),
    "cu118": ("2.7.1",),
    "cu126": ("2.7.1", "2.8.0", "2.9.0"),
    "cu128": ("2.7.1", "2.8.0", "2.9.0"),
    "cu129": ("2.8.0", "2.9.0"),
    "cu130": ("2.9.0",),
    "rocm6.2.4": ("2.7.1",),
    "rocm6.3": ("2.7.1", "2.8.0"),
    "rocm6.4": ("2.8.0", "2.9.0"),
    "xpu": ("2.7.1", "2.8.0", "2.9.0"),
}


def local_platform_tag() -> str | None:
    """This interpreter's best `cpXY-cpXY-manylinux_..._x86_64` tag; None elsewhere (the
    known-build table keys on Linux x86_64 files, so these tests need such a host)."""
    for t in tags.sys_tags():
        linux = t.platform.startswith("manylinux") and t.platform.endswith("x86_64")
        if linux and t.interpreter.startswith("cp") and t.abi.startswith("cp"):
            return str(t)
    return None


def _page(files: Sequence[Path], prefix: str) -> str:
    links = []
    for f in files:
        digest = hashlib.sha256(f.read_bytes()).hexdigest()
        name = html.escape(f.name)
        links.append(f'<a href="{prefix}{name}#sha256={digest}">{name}</a><br>')
    return "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n"


def _write_page(directory: Path, files: Sequence[Path], prefix: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.html").write_text(_page(files, prefix))


def per_backend_tree(
    root: Path,
    tag: str,
    releases: Mapping[str, Sequence[str]] = REAL_SHAPED,
    project: str = "torch",
) -> Path:
    """`root/whl/<backend>/<project>/`; returns `root/whl` (the PyTorch index base)."""
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    for backend, versions in releases.items():
        made = [make_wheel(files, project, f"{v}+{backend}", tag=tag) for v in versions]
        _write_page(root / "whl" / backend / project, made, "../../../files/")
    return root / "whl"


def simple_index(
    root: Path,
    name: str,
    project: str,
    plain: Sequence[str],
    tag: str,
    variants: Mapping[str, Mapping[str, object]] | None = None,
) -> Path:
    """`root/<name>/<project>/` with plain wheels of `plain` versions and, for each version in
    `variants` (version -> a published `*-variants.json` document), one variant wheel per label
    plus the variants.json. Returns `root/<name>` (the index URL)."""
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    made = [make_wheel(files, project, v, tag=tag) for v in plain]
    for version, doc in (variants or {}).items():
        labels = doc["variants"]
        assert isinstance(labels, dict)
        for label in labels:
            one = {**doc, "variants": {label: labels[label]}}
            made.append(make_wheel(files, project, version, tag=tag, label=label, variant_json=one))
        vj = files / f"{project}-{version}-variants.json"
        vj.write_text(json.dumps(doc))
        made.append(vj)
    _write_page(root / name / project, made, "../../files/")
    return root / name
