"""What is installed in a target interpreter, read from files: never imported.

Why not `import torch`: importing takes seconds, can crash on a broken build (the very case
`doctor` diagnoses), and a module once imported cannot be replaced in a running kernel. So we
read, for each distribution, in order of trust:

1. `torch/version.py` (parsed with `ast`): `__version__ = '2.11.0+cu130'`, `cuda`, `hip`,
   `rocm`, `xpu`. PyPI's METADATA says only `2.11.0`; this file is the one that knows.
2. `*.dist-info/variant.json` when it came from a variant wheel (PEP 825).
3. The METADATA local label (`+cu128`, `+cpu`, `+rocm6.4`, `+xpu`).
4. `Requires-Dist` on NVIDIA runtime wheels (`nvidia-*-cu12`, `cuda-toolkit[...]==13.0.2`).
5. `libtorch_cuda.so` / `libtorch_hip.so` / `libtorch_xpu.so` in RECORD.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from installer.records import InvalidRecordEntry, parse_record_file
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelmagic.errors import VariantMetadataError
from wheelmagic.pytorch.backend import Backend
from wheelmagic.variants.metadata import VariantsMetadata, parse_variants_json
from wheelmagic.variants.properties import NULL_LABEL, Properties

if TYPE_CHECKING:
    from wheelmagic.interpreter import Interpreter

BuildKind = Literal["cuda", "rocm", "xpu", "cpu", "unknown"]

#: The packages `doctor` looks at unless told otherwise.
DEFAULT_PACKAGES: tuple[str, ...] = ("torch", "torchvision", "torchaudio")

#: dist name -> the module whose `version.py` records the build.
VERSION_MODULES: dict[str, str] = {
    "torch": "torch",
    "torchvision": "torchvision",
    "torchaudio": "torchaudio",
}

_NVIDIA_DIST = re.compile(r"^nvidia-[a-z0-9-]+-cu(\d+)$")
_NATIVE_LIBS = {
    "libtorch_cuda": "cuda",
    "libtorch_hip": "rocm",
    "libtorch_xpu": "xpu",
}


@dataclass(frozen=True)
class InstalledBuild:
    """One installed distribution and the accelerator build it is, with the evidence."""

    name: NormalizedName
    #: as METADATA says (PyPI's torch says `2.11.0`, without `+cu130`)
    version: Version
    #: the local label of the build, from METADATA or version.py: `cu130`, `cpu`, `rocm6.3`
    local: str | None
    kind: BuildKind
    #: CUDA the build was compiled against, `13.0` (major only, `12`, when only the
    #: `nvidia-*-cu12` requirements say so)
    cuda: str | None = None
    #: `torch.version.hip`, e.g. `6.3.42131`
    hip: str | None = None
    #: ROCm release, `6.3` (version.py's `rocm`, else the local label, else hip's major.minor)
    rocm: str | None = None
    xpu: str | None = None
    #: when installed from a variant wheel: its label and properties (dist-info/variant.json)
    variant_label: str | None = None
    variant_properties: Properties | None = field(default=None, compare=False, hash=False)
    #: the whole variant.json: its static namespaces (PyTorch's `priority`) judge the label
    variant_metadata: VariantsMetadata | None = field(
        default=None, compare=False, hash=False, repr=False
    )
    #: the Requires-Dist pin on torch (companions), e.g. `==2.14.1`
    requires_torch: str | None = None
    #: NVIDIA runtime requirements (`cuda-toolkit[...]==13.0.2`, `nvidia-cudnn-cu13==...`)
    cuda_requirements: tuple[str, ...] = ()
    #: accelerator libraries listed in RECORD (`libtorch_cuda.so`)
    native_libraries: tuple[str, ...] = ()
    #: the dist-info directory it was read from
    location: str = ""
    #: how `kind` was decided, in plain words, most trusted first
    evidence: tuple[str, ...] = ()

    @property
    def full_version(self) -> Version:
        """The version with its build label: `2.11.0+cu130` even when METADATA says `2.11.0`."""
        if self.version.local is not None or self.local is None:
            return self.version
        try:
            return Version(f"{self.version.public}+{self.local}")
        except InvalidVersion:
            return self.version

    @property
    def backend(self) -> Backend | None:
        """The PyTorch build line: CUDA 13.0, ROCm 6.3, XPU, CPU; None when not known to the
        minor (a major-only CUDA `12`, an unknown build)."""
        if self.kind == "cuda":
            return Backend.cuda(self.cuda) if self.cuda else None
        if self.kind == "rocm":
            return Backend.rocm(self.rocm) if self.rocm else None
        if self.kind == "xpu":
            return Backend("xpu")
        if self.kind == "cpu":
            return Backend("cpu")
        return None

    @property
    def line(self) -> str | None:
        """`backend.line` (`cuda13.0`, `rocm6.3`, `xpu`, `cpu`): what companions must share, and
        what `wheelmagic.install.plan.make_plan` compares a chosen label's line with."""
        backend = self.backend
        return backend.line if backend is not None else None

    def describe(self) -> str:
        """`torch 2.11.0+cu130 (CUDA 13.0)`: how reasons name the build."""
        what = {
            "cuda": f"CUDA {self.cuda}" if self.cuda else "CUDA",
            "rocm": f"ROCm {self.rocm or self.hip or '?'}",
            "xpu": "Intel XPU",
            "cpu": "CPU only",
            "unknown": "build unknown",
        }[self.kind]
        variant = f", variant {self.variant_label}" if self.variant_label else ""
        return f"{self.name} {self.full_version} ({what}{variant})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": str(self.version),
            "full_version": str(self.full_version),
            "local": self.local,
            "kind": self.kind,
            "line": self.line,
            "cuda": self.cuda,
            "hip": self.hip,
            "rocm": self.rocm,
            "xpu": self.xpu,
            "variant_label": self.variant_label,
            "variant_properties": (
                {
                    ns: {f: list(v) for f, v in fs.items()}
                    for ns, fs in self.variant_properties.items()
                }
                if self.variant_properties is not None
                else None
            ),
            "requires_torch": self.requires_torch,
            "cuda_requirements": list(self.cuda_requirements),
            "native_libraries": list(self.native_libraries),
            "location": self.location,
            "evidence": list(self.evidence),
        }


#: What `read_installed` returns, keyed by normalized or plain names (Mapping keys are invariant).
Builds = Mapping[NormalizedName, InstalledBuild] | Mapping[str, InstalledBuild]


# ---------------------------------------------------------------------------------------
# version.py


def parse_version_py(text: str) -> dict[str, str | None]:
    """Module-level string/None assignments of a `version.py`, without executing it.

    Handles `cuda = '13.0'` and `cuda: Optional[str] = '13.0'`; anything computed (torchvision's
    `cuda = _check_cuda_version()`) is left out. A file that does not parse gives `{}`.
    """
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    out: dict[str, str | None] = {}
    for node in tree.body:
        targets: list[ast.expr]
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not isinstance(value, ast.Constant) or not (
            value.value is None or isinstance(value.value, str)
        ):
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                out[target.id] = value.value
    return out


# ---------------------------------------------------------------------------------------
# reading one distribution


def _read_text(dist: md.Distribution, name: str) -> str | None:
    try:
        return dist.read_text(name)
    except (OSError, UnicodeDecodeError):
        return None


def _version_py(dist: md.Distribution, module: str) -> str | None:
    """The text of `<module>/version.py` next to the dist-info, located without importing."""
    try:
        path = dist.locate_file(f"{module}/version.py")
        with open(os.fspath(path), encoding="utf-8") as fh:  # type: ignore[call-overload]
            return fh.read()
    except (OSError, UnicodeDecodeError, TypeError):
        return None


def _dist_info_dir(dist: md.Distribution) -> str:
    path = getattr(dist, "_path", None)  # PathDistribution keeps its dist-info directory
    return os.fspath(path) if path is not None else ""


def _variant(
    dist: md.Distribution,
) -> tuple[str | None, Properties | None, str | None, VariantsMetadata | None]:
    """(label, properties, problem, metadata) from dist-info/variant.json."""
    text = _read_text(dist, "variant.json")
    if text is None:
        return None, None, None, None
    where = f"{_dist_info_dir(dist) or dist.metadata['Name']}/variant.json"
    try:
        meta = parse_variants_json(json.loads(text), source=where)
    except (ValueError, VariantMetadataError) as err:
        return None, None, f"{where} cannot be read: {err}", None
    if len(meta.variants) != 1:
        return None, None, f"{where} lists {len(meta.variants)} variants, not one", None
    label, props = next(iter(meta.variants.items()))
    return label, props, None, meta


def _local_backend(local: str | None) -> Backend | None:
    """The build a local version label names: `cu128`, `rocm6.4`, `cpu`, `xpu`; else None.

    Only the per-backend spellings count (`+cuda12.8` or `+null` is not a torch local label).
    """
    backend = Backend.parse(local)
    return backend if backend is not None and backend.index_name == local else None


def _cuda_from_requirements(reqs: Sequence[Requirement]) -> tuple[str | None, tuple[str, ...]]:
    """CUDA version the NVIDIA runtime requirements point at, and those requirements.

    `cuda-toolkit==13.0.2` and `nvidia-cuda-runtime-cu12==12.8.90` give `13.0` / `12.8`;
    other `nvidia-*-cuNN` give the major only.
    """
    found: list[str] = []
    exact: str | None = None
    major: str | None = None
    for req in reqs:
        name = canonicalize_name(req.name)
        m = _NVIDIA_DIST.match(name)
        if name != "cuda-toolkit" and not m:
            continue
        found.append(str(req))
        if m:
            major = major or m.group(1)
        pins = [s.version for s in req.specifier if s.operator in ("==", "===")]
        if pins and (name == "cuda-toolkit" or name.startswith("nvidia-cuda-runtime-cu")):
            try:
                v = Version(pins[0].rstrip(".*"))
            except InvalidVersion:
                continue
            exact = exact or f"{v.major}.{v.minor}"
            major = major or str(v.major)
    return exact or major, tuple(found)


def _native_libs(dist: md.Distribution) -> tuple[str, ...]:
    """The accelerator libraries the RECORD lists.

    Read as text with pypa/installer's parser, not through `dist.files`: once `distributed`
    (Dask) is imported, `importlib.metadata` hands out the `importlib_metadata` backport's
    distributions, whose `files` leaves out every row not on disk.
    """
    text = _read_text(dist, "RECORD")
    if not text:
        return ()
    try:
        rows = list(parse_record_file(text.splitlines()))
    except InvalidRecordEntry:
        return ()
    libs: list[str] = []
    for path, _hash, _size in rows:
        name = path.rsplit("/", 1)[-1]
        if name.split(".", 1)[0] in _NATIVE_LIBS and name not in libs:
            libs.append(name)
    return tuple(libs)


def read_distribution(dist: md.Distribution) -> InstalledBuild | None:
    """The build one installed distribution is; None when its METADATA has no name/version."""
    meta = dist.metadata
    raw_name = meta["Name"] if meta is not None else None
    raw_version = meta["Version"] if meta is not None else None
    if not raw_name or not raw_version:
        return None
    name = canonicalize_name(raw_name)
    try:
        version = Version(raw_version)
    except InvalidVersion:
        return None
    evidence: list[str] = []
    kind: BuildKind | None = None
    cuda = hip = rocm = xpu = None
    local = version.local

    # 1. version.py
    module = VERSION_MODULES.get(name)
    fields: dict[str, str | None] = {}
    if module is not None:
        text = _version_py(dist, module)
        if text is not None:
            fields = parse_version_py(text)
    vp_version = fields.get("__version__")
    if vp_version:
        try:
            vp_local = Version(vp_version).local
        except InvalidVersion:
            vp_local = None
        local = local or vp_local
    if module == "torch" and "__version__" in fields:
        cuda, hip, xpu = fields.get("cuda"), fields.get("hip"), fields.get("xpu")
        rocm = fields.get("rocm")
        if cuda:
            kind = "cuda"
            evidence.append(f"torch/version.py: cuda = {cuda!r}")
        elif hip:
            kind = "rocm"
            evidence.append(f"torch/version.py: hip = {hip!r}")
        elif xpu:
            kind = "xpu"
            evidence.append(f"torch/version.py: xpu = {xpu!r}")
        else:
            kind = "cpu"
            evidence.append("torch/version.py: cuda, hip and xpu are None")
    elif module is not None and fields.get("cuda"):
        cuda = fields["cuda"]
        kind = "cuda"
        evidence.append(f"{module}/version.py: cuda = {cuda!r}")

    # 2. variant.json
    label, props, problem, variant_meta = _variant(dist)
    if problem:
        evidence.append(problem)
    if label is not None and props is not None:
        vkind: BuildKind = "unknown"
        if label == NULL_LABEL or not props:
            vkind = "cpu"
        elif "nvidia" in props:
            vkind = "cuda"
            lower = props["nvidia"].get("cuda_version_lower_bound")
            if lower and not cuda:
                cuda = max(lower, key=_version_key)
        elif "amd" in props:
            vkind = "rocm"
            rv = props["amd"].get("rocm_version")
            if rv and not rocm:
                rocm = max(rv, key=_version_key)
        elif "intel" in props:
            vkind = "xpu"
        if kind is None and vkind != "unknown":
            kind = vkind
        evidence.append(f"variant.json: variant {label!r}")

    # 3. local label (METADATA, else version.py's __version__)
    lb = _local_backend(local)
    if lb is not None:
        if kind is None:
            kind = lb.kind
            evidence.append(f"local version label +{local}")
        if lb.kind == "cuda" and not cuda:
            cuda = lb.version_text
        if lb.kind == "rocm" and not rocm:
            rocm = lb.version_text

    # 4. Requires-Dist
    reqs: list[Requirement] = []
    for text in meta.get_all("Requires-Dist") or ():
        try:
            reqs.append(Requirement(text))
        except InvalidRequirement:
            continue
    req_cuda, cuda_reqs = _cuda_from_requirements(reqs)
    if req_cuda and kind in (None, "cuda"):
        if kind is None:
            kind = "cuda"
            evidence.append(f"Requires-Dist: {cuda_reqs[0]}")
        if not cuda or ("." not in cuda and "." in req_cuda):
            cuda = req_cuda
    requires_torch = next(
        (str(r.specifier) for r in reqs if canonicalize_name(r.name) == "torch" and r.specifier),
        None,
    )

    # 5. RECORD, the last resort (torch's lists ~12,000 files)
    libs = _native_libs(dist) if kind is None else ()
    if kind is None:
        for lib in libs:
            kind = _NATIVE_LIBS[lib.split(".", 1)[0]]  # type: ignore[assignment]
            evidence.append(f"RECORD lists {lib}")
            break

    if kind == "rocm" and not rocm and hip:
        parts = hip.split(".")
        rocm = ".".join(parts[:2])
    if kind is None:
        kind = "unknown"
        evidence.append(
            "no version.py, variant.json, local label, CUDA requirement or "
            "accelerator library says which build this is"
        )
    return InstalledBuild(
        name=name,
        version=version,
        local=local,
        kind=kind,
        cuda=cuda if kind == "cuda" else None,
        hip=hip,
        rocm=rocm if kind == "rocm" else None,
        xpu=xpu,
        variant_label=label,
        variant_properties=props,
        variant_metadata=variant_meta,
        requires_torch=requires_torch,
        cuda_requirements=cuda_reqs,
        native_libraries=libs,
        location=_dist_info_dir(dist),
        evidence=tuple(evidence),
    )


def _version_key(text: str) -> tuple[int, ...]:
    try:
        return Version(text).release
    except InvalidVersion:
        return ()


def _search_path(target: Interpreter | Iterable[str | os.PathLike[str]]) -> list[str]:
    paths = getattr(target, "search_path", None)
    if paths is None:
        paths = target
    return [os.fspath(p) for p in paths]  # type: ignore[union-attr]


def read_installed(
    target: Interpreter | Iterable[str | os.PathLike[str]],
    names: Iterable[str] = DEFAULT_PACKAGES,
) -> dict[str, InstalledBuild]:
    """The installed builds of `names` in an interpreter (or a list of site dirs).

    Reads `importlib.metadata.distributions(path=...)` over the target's `sys.path`, in this
    process: nothing is imported from the target. The first distribution on the path wins, as
    for `import`. Keys are normalized names, in the order asked; absent packages are left out.
    """
    order = list(dict.fromkeys(canonicalize_name(n) for n in names))
    wanted = set(order)
    out: dict[str, InstalledBuild] = {}
    for dist in md.distributions(path=_search_path(target)):
        if str(getattr(dist, "_path", "")).rpartition("/")[2].startswith("~"):
            continue  # pip's stash of an interrupted uninstall (`~orch-2.14.1.dist-info`)
        raw = dist.metadata["Name"] if dist.metadata is not None else None
        if not raw or canonicalize_name(raw) not in wanted:
            continue
        if canonicalize_name(raw) in out:
            continue
        build = read_distribution(dist)
        if build is not None:
            out[build.name] = build
    return {n: out[n] for n in order if n in out}  # in the order asked: torch first


def plan_installed(builds: Builds) -> dict[str, tuple[Version, str | None]]:
    """The `installed=` argument of `wheelmagic.install.plan.make_plan`: version and accelerator line."""
    return {name: (b.full_version, b.line) for name, b in builds.items()}
