"""Loopback indexes of small real variant wheels for dependency resolution (issue 16).

`build_set(dir)` writes torch-like, flash-attn-like and vllm-like variant wheels (and a few
plain ones) and turns them into a static index with `wheelmagic index build`'s code:

* torch 2.7.0 (null, cuda12.8), 2.8.0 and 2.9.0 (null, cuda12.8, cuda13.0): torch 2.10's
  variant.json shape (`tests/support/wheels.py`), requiring plain `filelock`;
* flash-attn 2.8.3: one build per torch 2.8/2.9 x CUDA 12/13, labels `torch28_cu12` ...,
  each with `abi_dependency :: torch :: X.Y.0` and `Requires-Dist: torch==X.Y.0; "abi_dependency
  :: torch :: X.Y.0" in variant_properties`, and the reserved `abi_dependency` namespace in
  `providers` as published files have it; plain `einops`;
* vllm 0.11.0: only `torch28_cu12`;
* oldpkg 1.0: only `torch27_cu12` (its only builds pin an older torch);
* cyc-a and cyc-b: variant packages that require each other.

`build_chain(dir, n)` writes `chain-0000 -> chain-0001 -> ... ` of `n` variant packages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from support.wheels import PROVIDERS, SCHEMA, build_plain_wheel, build_wheel, write_wheel
from wheelmagic.index.build import build_index

Props = Mapping[str, Mapping[str, Sequence[str]]]

TORCH_BUILDS = {
    "2.7.0": ("null", "cuda12.8"),
    "2.8.0": ("null", "cuda12.8", "cuda13.0"),
    "2.9.0": ("null", "cuda12.8", "cuda13.0"),
}
FLASH_ATTN = {f"torch{t}_cu{c}": (f"2.{t[1]}.0", c) for t in ("28", "29") for c in ("12", "13")}
VLLM = {"torch28_cu12": ("2.8.0", "12")}
OLDPKG = {"torch27_cu12": ("2.7.0", "12")}


def abi_variant_json(label: str, props: Props) -> dict[str, object]:
    """variant.json of a package built against torch: nvidia + abi_dependency."""
    return {
        "$schema": SCHEMA,
        "default-priorities": {"namespace": ["nvidia", "abi_dependency"]},
        "providers": {"nvidia": PROVIDERS["nvidia"], "abi_dependency": {"plugin-use": "none"}},
        "variants": {
            label: {ns: {f: sorted(v) for f, v in fs.items()} for ns, fs in props.items()}
        },
    }


def build_variant_wheel(
    out: Path,
    name: str,
    version: str,
    label: str,
    props: Props,
    requires: Sequence[str] = (),
) -> Path:
    """A tiny pure-Python variant wheel with its own variant.json."""
    dist = name.replace("-", "_")
    di = f"{dist}-{version}.dist-info"
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    files = {
        f"{dist}/__init__.py": f"__build__ = {label!r}\n".encode(),
        f"{di}/METADATA": ("\n".join(meta) + "\n\n").encode(),
        f"{di}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: wheelmagic-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{di}/top_level.txt": f"{dist}\n".encode(),
        f"{di}/variant.json": json.dumps(abi_variant_json(label, props), indent=1).encode(),
    }
    return write_wheel(out / f"{dist}-{version}-py3-none-any-{label}.whl", files, record_dir=di)


def _abi_builds(
    out: Path,
    name: str,
    version: str,
    builds: Mapping[str, tuple[str, str]],
    extra: Sequence[str] = (),
) -> None:
    for label, (torch, cuda) in builds.items():
        props = {
            "nvidia": {"cuda_version_lower_bound": [f"{cuda}.0"]},
            "abi_dependency": {"torch": [torch]},
        }
        requires = [
            f"torch=={torch}; 'abi_dependency :: torch :: {torch}' in variant_properties",
            *extra,
        ]
        build_variant_wheel(out, name, version, label, props, requires)


def build_set(root: Path) -> Path:
    """Wheels in `root/wheels`, the index in `root/index`; returns the index directory."""
    wheels = root / "wheels"
    for version, labels in TORCH_BUILDS.items():
        for label in labels:
            build_wheel(wheels, "torch", version, label=label, requires=["filelock"])
    _abi_builds(wheels, "flash-attn", "2.8.3", FLASH_ATTN, ["einops"])
    _abi_builds(wheels, "vllm", "0.11.0", VLLM, ["filelock"])
    _abi_builds(wheels, "oldpkg", "1.0", OLDPKG)
    build_variant_wheel(wheels, "cyc-a", "1.0", "null", {}, ["cyc-b"])
    build_variant_wheel(wheels, "cyc-b", "1.0", "null", {}, ["cyc-a"])
    build_plain_wheel(wheels, "filelock", "3.0")
    build_plain_wheel(wheels, "einops", "0.8.0")
    build_index(wheels, root / "index")
    return root / "index"


def build_chain(root: Path, n: int) -> Path:
    """`chain-0000` requires `chain-0001` ... up to `chain-{n-1}`: all variant packages."""
    wheels = root / "wheels"
    for i in range(n):
        requires = [f"chain-{i + 1:04d}"] if i + 1 < n else []
        build_variant_wheel(wheels, f"chain-{i:04d}", "1.0", "null", {}, requires)
    build_index(wheels, root / "index")
    return root / "index"
