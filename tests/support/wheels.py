"""Wheels for tests: small synthetic torch-like wheels, and real wheels repacked as variants.

`build_wheel` makes a tiny wheel shaped like a PyTorch variant wheel: a dist-info with METADATA
(variant-marker `Requires-Dist` included), RECORD and `variant.json`, a `torch/__init__.py`
that reports its build, and `torch/version.py` as PyTorch writes it. `broken=True` makes the
import fail the way a build with a missing CUDA library does.

`repack` turns a real wheel (`torch-2.13.0+cpu-...whl`) into a variant wheel the way WheelNext's
`variant-repack` does: local version stripped from filename, dist-info and METADATA,
`variant.json` added, CUDA runtime dependencies re-declared with variant markers, RECORD
updated, `-{label}` appended. It copies members raw (`wheelmagic.install.stage.rewrite_wheel`), so the
554 MB CUDA wheel takes seconds; results are cached under `.cache/repacked/` by source sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelmagic.install.record import record_hash
from wheelmagic.install.stage import edit_metadata, requires_dist, rewrite_wheel

ROOT = Path(__file__).resolve().parents[2]
REPACK_CACHE = ROOT / ".cache" / "repacked"

TORCH_CPU = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
TORCH_CUDA = Path("/opt/pypi-more/files/torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl")
MIRROR_DIRS = (Path("/opt/pypi-more/files"), Path("/opt/pypi/files"), Path("/opt/wheels"))

SCHEMA = "https://variants-schema.wheelnext.dev/v0.0.3.json"
#: torch 2.10's published providers (research/variants.md §4.2)
PROVIDERS: dict[str, object] = {
    "nvidia": {
        "enable-if": "platform_system == 'Linux' or platform_system == 'Windows'",
        "plugin-api": "nvidia_variant_provider.plugin:NvidiaVariantPlugin",
        "requires": ["nvidia-variant-provider>=0.0.2,<1.0.0"],
    },
    "intel": {
        "enable-if": "platform_system == 'Linux' or platform_system == 'Windows'",
        "plugin-api": "intel_variant_provider.plugin:IntelVariantPlugin",
        "requires": ["intel-variant-provider>=0.0.3,<1.0.0"],
    },
    "amd": {
        "enable-if": "platform_system == 'Linux'",
        "plugin-api": "amd_variant_provider.plugin:AMDVariantPlugin",
        "requires": ["amd-variant-provider>=0.0.2,<1.0.0"],
    },
    "priority": {"install-time": False, "requires": []},
}
LABELS: dict[str, dict[str, dict[str, list[str]]]] = {
    "null": {},
    "cuda12.8": {
        "nvidia": {
            "cuda_version_lower_bound": ["12.0"],
            "sm_arch": [
                "100_real",
                "120_real",
                "70_real",
                "75_real",
                "80_real",
                "86_real",
                "90_real",
            ],
        },
        "priority": {"order": ["2"]},
    },
    "cuda13.0": {
        "nvidia": {
            "cuda_version_lower_bound": ["13.0"],
            "sm_arch": [
                "100_real",
                "120_real",
                "120_virtual",
                "75_real",
                "80_real",
                "86_real",
                "90_real",
            ],
        },
        "priority": {"order": ["1"]},
    },
}
CUDA_VERSION = {"null": None, "cuda12.8": "12.8", "cuda13.0": "13.0"}


def variant_json(
    label: str, properties: Mapping[str, Mapping[str, Sequence[str]]] | None = None
) -> dict[str, object]:
    """A `*.dist-info/variant.json` for one label, torch 2.10's schema and namespaces."""
    props = LABELS[label] if properties is None else properties
    return {
        "$schema": SCHEMA,
        "default-priorities": {"namespace": ["nvidia", "intel", "amd", "priority"]},
        "providers": PROVIDERS,
        "static-properties": {"priority": {"order": ["1", "2", "3"]}},
        "variants": {
            label: {ns: {f: sorted(v) for f, v in fs.items()} for ns, fs in props.items()}
        },
    }


def _is_cuda_dep(req: str) -> bool:
    name = canonicalize_name(Requirement(req.split(";")[0]).name)
    return name.startswith("nvidia-") or name in ("cuda-toolkit", "cuda-bindings")


def variant_requirement(req: str, label: str) -> str:
    """`dep; platform_system == "Linux"` -> `dep; platform_system == "Linux" and variant_label == 'L'`."""
    spec, _, marker = req.partition(";")
    name = canonicalize_name(Requirement(spec).name)
    cond = "'nvidia' in variant_namespaces" if name == "triton" else f"variant_label == '{label}'"
    marker = marker.strip()
    if not marker:
        return f"{spec.strip()}; {cond}"
    if " or " in marker:
        marker = f"({marker})"
    return f"{spec.strip()}; {marker} and {cond}"


# ---------------------------------------------------------------------------------------------
# synthetic wheels


def _dist_info_files(
    name: str,
    version: str,
    tag: str,
    requires: Sequence[str],
    label: str | None,
    properties: Mapping[str, Mapping[str, Sequence[str]]] | None,
) -> dict[str, bytes]:
    di = f"{name}-{version}.dist-info"
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        "Summary: synthetic test wheel shaped like PyTorch",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    files = {
        f"{di}/METADATA": ("\n".join(meta) + "\n\nA synthetic wheel.\n").encode(),
        f"{di}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: wheelmagic-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
        f"{di}/top_level.txt": f"{name}\n".encode(),
    }
    if label is not None:
        files[f"{di}/variant.json"] = json.dumps(variant_json(label, properties), indent=2).encode()
    return files


def write_wheel(path: Path, files: Mapping[str, bytes], *, record_dir: str) -> Path:
    """Write a wheel with `files` plus a correct RECORD."""
    record = [f"{n},{record_hash(d)},{len(d)}" for n, d in files.items()]
    record.append(f"{record_dir}/RECORD,,")
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, d in files.items():
            zf.writestr(zipfile.ZipInfo(n, (2026, 1, 1, 0, 0, 0)), d)
        zf.writestr(
            zipfile.ZipInfo(f"{record_dir}/RECORD", (2026, 1, 1, 0, 0, 0)), "\n".join(record) + "\n"
        )
    return path


def build_wheel(
    out_dir: Path,
    name: str = "torch",
    version: str = "2.14.1",
    *,
    label: str | None = None,
    properties: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    requires: Sequence[str] = (),
    tag: str = "py3-none-any",
    build: str | None = None,
    broken: bool = False,
    extra_files: Mapping[str, bytes] | None = None,
    payload: int = 0,
) -> Path:
    """A small torch-like wheel. `import torch; torch.__build__` tells which build is installed.

    `build` (default: the label, or `cpu`) is what `torch.__build__` and `torch/version.py`
    report; `payload` adds that many incompressible bytes (for download tests).
    """
    pkg = name.replace("-", "_")
    build = build or (label if label and label != "null" else "cpu")
    cuda = CUDA_VERSION.get(build) if build != "cpu" else None
    local = "cpu" if build == "cpu" else ("cu" + cuda.replace(".", "") if cuda else build)
    init = (
        "from . import version as version\n"
        "from .version import __version__, cuda as _cuda\n"
        f"__build__ = {build!r}\n"
    )
    if broken:
        init = (
            "raise ImportError('libcudart.so.13: cannot open shared object file: "
            "No such file or directory')\n"
        )
    files: dict[str, bytes] = {
        f"{pkg}/__init__.py": init.encode(),
        f"{pkg}/version.py": (
            "from typing import Optional\n\n"
            f"__version__ = '{Version(version).public}+{local}'\n"
            "debug = False\n"
            f"cuda: Optional[str] = {cuda!r}\n"
            "git_version = '0000000000000000000000000000000000000000'\n"
            "hip: Optional[str] = None\nrocm: Optional[str] = None\nxpu: Optional[str] = None\n"
        ).encode(),
    }
    if payload:
        files[f"{pkg}/_payload.bin"] = os.urandom(payload)
    files.update(extra_files or {})
    dist = canonicalize_name(name).replace("-", "_")
    files.update(_dist_info_files(dist, version, tag, requires, label, properties))
    filename = f"{dist}-{version}-{tag}" + (f"-{label}" if label else "") + ".whl"
    return write_wheel(out_dir / filename, files, record_dir=f"{dist}-{version}.dist-info")


def build_plain_wheel(
    out_dir: Path, name: str, version: str, *, requires: Sequence[str] = ()
) -> Path:
    """A tiny non-variant pure-Python wheel (a dependency)."""
    dist = canonicalize_name(name).replace("-", "_")
    files = {f"{dist}/__init__.py": f"__version__ = {version!r}\n".encode()}
    files.update(_dist_info_files(dist, version, "py3-none-any", requires, None, None))
    return write_wheel(
        out_dir / f"{dist}-{version}-py3-none-any.whl",
        files,
        record_dir=f"{dist}-{version}.dist-info",
    )


# ---------------------------------------------------------------------------------------------
# repacking real wheels


def _sha256(path: Path) -> str:
    """sha256 of a file, remembered by (path, size, mtime) so cached repacks cost nothing."""
    st = path.stat()
    memo = REPACK_CACHE / "sha256.json"
    key = f"{path}:{st.st_size}:{st.st_mtime_ns}"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return str(known[key])
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    known[key] = h.hexdigest()
    memo.parent.mkdir(parents=True, exist_ok=True)
    tmp = memo.with_name(f".sha256.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known, indent=1))
    os.replace(tmp, memo)
    return h.hexdigest()


def repack(src: Path, out_dir: Path, *, label: str, cache: Path | None = REPACK_CACHE) -> Path:
    """A variant wheel made from the real wheel `src` (see the module docstring); in `out_dir`.

    The repacked file is cached under `cache/{sha256(src)[:20]}-{label}/` and hard-linked (or
    copied) into `out_dir`.
    """
    m = re.match(r"^([^-]+)-([^-]+)-(.+)\.whl$", src.name)
    if not m:
        raise ValueError(f"not a wheel filename: {src.name}")
    dist, full_version, tags = m.groups()
    public = Version(full_version).public
    filename = f"{dist}-{public}-{tags}-{label}.whl"
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / filename
    if cache is not None:
        cached_dir = cache / f"{_sha256(src)[:20]}-{label}"
        cached = cached_dir / filename
        if not cached.exists():
            cached_dir.mkdir(parents=True, exist_ok=True)
            _repack(src, cached, dist, full_version, public, label)
        if target.exists():
            target.unlink()
        try:
            os.link(cached, target)
        except OSError:
            import shutil

            shutil.copyfile(cached, target)
        return target
    _repack(src, target, dist, full_version, public, label)
    return target


def _repack(src: Path, dst: Path, dist: str, full: str, public: str, label: str) -> None:
    old_prefixes = (f"{dist}-{full}.dist-info/", f"{dist}-{full}.data/")
    new_di = f"{dist}-{public}.dist-info"

    def rename(member: str) -> str:
        for old in old_prefixes:
            if member.startswith(old):
                return member.replace(full, public, 1)
        return member

    with zipfile.ZipFile(src) as zf:
        metadata = zf.read(f"{dist}-{full}.dist-info/METADATA").decode("utf-8")
    reqs = [
        variant_requirement(r, label) if _is_cuda_dep(r) or _is_triton(r) else r
        for r in requires_dist(metadata)
    ]
    new_meta = edit_metadata(metadata, requires=reqs, version=public)
    rewrite_wheel(
        src,
        dst,
        rename=rename,
        replace={f"{new_di}/METADATA": new_meta.encode("utf-8")},
        add={f"{new_di}/variant.json": json.dumps(variant_json(label), indent=2).encode()},
    )


def _is_triton(req: str) -> bool:
    return canonicalize_name(Requirement(req.split(";")[0]).name) == "triton"


def find_mirror_wheel(pattern: str) -> Path | None:
    """The first wheel in this machine's mirror whose name matches the glob `pattern`."""
    for d in MIRROR_DIRS:
        hits = sorted(d.glob(pattern))
        if hits:
            return hits[-1]
    return None
