"""PyTorch's per-backend indexes (`/whl/cu128`, `/whl/cpu`, `/whl/rocm6.4`, `/whl/xpu`) as variants.

A wheel from such an index, or one whose local version says `+cu128`, is a plain wheel built
for one accelerator. We describe it as a *virtual variant*: the Candidate keeps its real
filename and gets `virtual_label` (`cu128`; `null` for cpu), and we synthesize the release's
variant metadata from `wheelmagic.pytorch.facts` so the engine can judge and rank it like a
real variant wheel:

* `cuXYZ` -> `nvidia :: cuda_version_lower_bound :: X.Y` and `nvidia :: sm_arch` = that torch
  release's TORCH_CUDA_ARCH_LIST (`12.0+PTX` -> `120_real`, `120_virtual`);
* `cpu` -> the null variant; `rocmX.Y` -> `amd :: rocm_version` + `amd :: gfx_arch`;
  `xpu` -> `intel :: device_ip`.

A label has one property set per release, so when x86_64 and aarch64 wheels of one release and
backend differ in arch list, the label gets the union (it never rules a GPU out wrongly).

PyPI's own torch, torchvision and torchaudio wheels carry no label, but each release is a known
build per platform (`facts.PYPI_TORCH_BUILDS`): `plain_build` names it, and the file becomes a
virtual variant of that backend too (issue 15), never "fits everything".
Pure: no I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from packaging.version import Version

from wheelmagic.errors import InvalidWheelName, VariantMetadataError
from wheelmagic.pytorch import facts as torch_builds
from wheelmagic.pytorch.backend import Backend
from wheelmagic.variants.filename import parse_wheel_name
from wheelmagic.variants.metadata import VariantsMetadata, merge_metadata, parse_variants_json
from wheelmagic.variants.ordering import SupportedProperties, check_compatible
from wheelmagic.variants.properties import NULL_LABEL

NAMESPACES = ("nvidia", "intel", "amd")
#: Backends `auto` considers, best first (uv's order: newest CUDA, ROCm, XPU; then cpu).
AUTO_BACKENDS: tuple[str, ...] = (
    "cu132",
    "cu130",
    "cu129",
    "cu128",
    "cu126",
    "cu118",
    "rocm7.2",
    "rocm7.1",
    "rocm7.0",
    "rocm6.4",
    "rocm6.3",
    "rocm6.2.4",
    "rocm6.2",
    "rocm6.1",
    "rocm6.0",
    "xpu",
)


def _index_backend(text: str | None) -> Backend | None:
    """The backend of a per-backend index name (`cu128`, `rocm6.4`, `xpu`, `cpu`), else None.

    Only the index spelling counts: a URL ending in `/null` or a `+cuda12.8` local version is
    not one of PyTorch's per-backend indexes.
    """
    backend = Backend.parse(text)
    return backend if backend is not None and backend.index_name == text else None


def _index_name(text: str | None) -> str | None:
    backend = _index_backend(text)
    return backend.index_name if backend is not None else None


def backend_of_index(index_url: str) -> str | None:
    """`https://download.pytorch.org/whl/cu128/` -> `cu128` (the last path segment)."""
    segments = [s for s in urlsplit(index_url).path.split("/") if s]
    return _index_name(segments[-1]) if segments else None


def backend_of_filename(filename: str) -> str | None:
    """`torch-2.8.0+cu128-...whl` -> `cu128`; None without a backend local version."""
    try:
        wheel = parse_wheel_name(filename)
    except InvalidWheelName:
        return None
    return _index_name(wheel.version.local)


def virtual_label(backend: str) -> str:
    """The label a per-backend index's files get: the index name, `null` for cpu."""
    return NULL_LABEL if backend == "cpu" else backend


#: Packages whose plain (PyPI) wheels are known builds: torch and the companions that follow it.
KNOWN_PLAIN_PACKAGES: frozenset[str] = frozenset({"torch", "torchvision", "torchaudio"})


def plain_build(project: str, filename: str) -> tuple[str, str] | None:
    """PyPI's plain `torch-2.9.0-...-manylinux_2_28_x86_64.whl` -> ("cu128", where that fact is
    from); None for other projects, unknown platforms, or unparsable names."""
    if project not in KNOWN_PLAIN_PACKAGES:
        return None
    try:
        wheel = parse_wheel_name(filename)
    except InvalidWheelName:
        return None
    platforms = {torch_builds.pypi_platform(t.platform) for t in wheel.tags} - {None}
    if len(platforms) != 1:
        return None
    found = torch_builds.pypi_build(project, str(wheel.version.public), platforms.pop() or "")
    return None if found is None else (found[0].index_name, found[1])


def inferred_note(project: str, version: Version, backend: str, filename: str) -> str | None:
    """Where this file's build facts came from when inherited ("inferred from torch 2.8 cu129")."""
    parsed = _index_backend(backend)
    if parsed is None:
        return None
    return torch_builds.backend_facts(parsed, project, str(version.public), wheel_arch(filename))[1]


def wheel_arch(filename: str) -> str:
    return "aarch64" if ("aarch64" in filename or "arm64" in filename) else "x86_64"


def synthesize(
    project: str,
    version: Version,
    backends: Mapping[str, Sequence[str]],
    base: VariantsMetadata | None = None,
) -> tuple[VariantsMetadata, dict[str, str]]:
    """Metadata for one release's virtual labels, merged with the release's real metadata.

    `backends` maps backend -> the filenames seen for it. Returns the metadata and the label to
    give each backend's files (a backend whose natural label clashes with a different real
    label of the same name gets `<backend>_index`).
    """
    namespaces = list(base.namespace_priorities) if base else []
    namespaces += [ns for ns in NAMESPACES if ns not in namespaces]
    variants: dict[str, dict[str, dict[str, list[str]]]] = {}
    labels: dict[str, str] = {}
    for backend, filenames in backends.items():
        merged: dict[str, dict[str, set[str]]] = {}
        parsed = _index_backend(backend)
        if parsed is None:
            continue
        for arch in sorted({wheel_arch(f) for f in filenames} or {"x86_64"}):
            props = torch_builds.backend_properties(parsed, project, str(version.public), arch)
            for ns, feats in props.items():
                for feat, values in feats.items():
                    merged.setdefault(ns, {}).setdefault(feat, set()).update(values)
        if not merged and backend != "cpu":
            continue
        table = {ns: {f: sorted(v) for f, v in fs.items()} for ns, fs in merged.items()}
        label = virtual_label(backend)
        if base is not None and label in base.variants:
            existing = {
                ns: {f: sorted(v) for f, v in fs.items()} for ns, fs in base.variants[label].items()
            }
            if existing != table:
                label = f"{backend.replace('.', '_')}_index"
        variants[label] = table
        labels[backend] = label
    doc = {
        "$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json",
        "default-priorities": {"namespace": namespaces},
        "variants": variants,
    }
    source = f"wheelmagic's table of PyTorch builds ({project} {version})"
    meta = parse_variants_json(doc, source)
    if base is not None:
        # cannot fail for a table built on `base`'s namespaces; if it did, keep ours alone
        with contextlib.suppress(VariantMetadataError):
            meta = merge_metadata([base, meta], source=f"{base.source} + {source}")
    return meta, labels


def backends_for(
    supported: SupportedProperties | None, candidates: Sequence[str] = AUTO_BACKENDS
) -> list[str]:
    """`torch_backend=auto`: the backends whose (version-independent) properties this machine
    supports, best first; then the other backends of the accelerators it has (so that a build
    the driver is too old for can be shown, and why it lost); then `cpu`. Without supported
    properties: only `cpu`."""
    chosen: list[str] = []
    others: list[str] = []
    if supported:
        for name in candidates:
            backend = _index_backend(name)
            if backend is None:
                continue
            props = torch_builds.backend_properties(backend)
            if props and check_compatible(props, supported) is None:
                chosen.append(name)
            elif any(ns in supported for ns in props):
                others.append(name)
    return [*chosen, *others, "cpu"]
