"""Issue 15: the build that uses the machine, on indexes shaped like the real ones.

Every case plans through `app.Session` (the path every front end takes) against loopback
indexes: PyTorch's per-backend tree (several releases; cu118 stops at 2.7, cu130 starts at 2.9,
ROCm lines come and go), and a variant index that mixes variant wheels for 2.9.0 with plain
PyPI files for newer and older releases. Machines are the recorded snapshots of
tests/data/platforms, including drivers just below and at each minor-version floor.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.server import serve_directory
from support.torch_tree import REAL_SHAPED, local_platform_tag, per_backend_tree, simple_index

from wheelmagic.app import Session
from wheelmagic.install.plan import Plan
from wheelmagic.options import Options

DATA = Path(__file__).resolve().parent.parent / "data"
PLATFORMS = DATA / "platforms"
PUBLISHED = DATA / "variants" / "pytorch-published"
TAG = local_platform_tag()
pytestmark = pytest.mark.skipif(TAG is None, reason="needs a Linux x86_64 CPython host")


@dataclass(frozen=True)
class Indexes:
    base: str  # PyTorch's per-backend index base
    variant: str  # the variant index (variant wheels + plain PyPI links)
    pypi: str  # an empty PyPI


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexes]:
    root = tmp_path_factory.mktemp("torch-indexes")
    assert TAG is not None
    per_backend_tree(root, TAG)
    doc = json.loads((PUBLISHED / "torch-2.9.0-variants.json").read_text())
    simple_index(root, "vi", "torch", ["2.9.1", "2.8.0"], TAG, variants={"2.9.0": doc})
    (root / "pypi").mkdir()
    with serve_directory(root) as srv:
        yield Indexes(srv.url("whl"), srv.url("vi/"), srv.url("pypi/"))


def environment(indexes: Indexes, variant_index: bool, **extra: str) -> dict[str, str]:
    """This process's environment without pip's or wheelmagic's index settings, then ours."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "WHEELMAGIC_")) or k == "WHEELMAGIC_CACHE_DIR"
    }
    return {
        **keep,
        "PIP_CONFIG_FILE": os.devnull,
        "WHEELMAGIC_PYTORCH_INDEX_BASE": indexes.base,
        # without the variant index the per-backend tree is all there is
        "WHEELMAGIC_PYTORCH_VARIANT_INDEX": indexes.variant if variant_index else indexes.pypi,
        **extra,
    }


def plan(
    indexes: Indexes, machine: str, *, variant_index: bool, backend: str = "auto", **kw: object
) -> Plan:
    environ = environment(indexes, variant_index)
    kw.setdefault("index_url", indexes.pypi)
    options = Options(
        platform_file=str(PLATFORMS / f"{machine}.snapshot.json"),
        torch_backend=backend,
        dry_run=True,
        **kw,  # type: ignore[arg-type]
    )
    with Session(options, environ=environ) as session:
        return session.plan(["torch"])


def chosen(p: Plan) -> str:
    (torch,) = p.packages
    return f"{torch.version} [{torch.label}]"


# machine -> the build that uses it best on the per-backend tree
PER_BACKEND = {
    # CUDA 12.2 driver with MVC: cu126 is the nearest minor-compatible line with sm_75
    "nvidia-t4-driver535": "2.9.0+cu126 [cu126]",
    # one patch below CUDA 12's MVC floor: only CUDA <= 12.0 runs, so 2.7.1's cu118 wins
    "nvidia-t4-driver525-60-11": "2.7.1+cu118 [cu118]",
    # at the floor: every CUDA 12 minor runs (MVC)
    "nvidia-t4-driver525-60-13": "2.9.0+cu126 [cu126]",
    # CUDA 11.4: only cu118 (MVC within CUDA 11)
    "nvidia-t4-driver470": "2.7.1+cu118 [cu118]",
    # CUDA 13.0 driver: the exact CUDA first
    "nvidia-h100-driver580": "2.9.0+cu130 [cu130]",
    # below CUDA 13's floor (580): CUDA 12.9 exactly (2.9's cu129 row is inferred from 2.8)
    "nvidia-h100-driver575": "2.9.0+cu129 [cu129]",
    # Pascal (sm_61): only cu126 of 2.9 still carries sm_60 SASS
    "nvidia-gtx1080ti-driver580": "2.9.0+cu126 [cu126]",
    "nvidia-gtx1080ti-driver525-60-13": "2.9.0+cu126 [cu126]",
    # Maxwell (sm_52): cu126 carries sm_50
    "nvidia-gtx970-driver535": "2.9.0+cu126 [cu126]",
    # Blackwell (sm_120) on CUDA 12.8: cu128; cu126 has no sm_120
    "nvidia-rtx5090-driver570": "2.9.0+cu128 [cu128]",
    "nvidia-wsl2-rtx4090-driver572": "2.9.0+cu128 [cu128]",
    # an older host ROCm does not gate PyTorch's ROCm wheels (they bundle ROCm)
    "amd-mi300x-rocm62": "2.9.0+rocm6.4 [rocm6.4]",
    "amd-mi250-rocm64": "2.9.0+rocm6.4 [rocm6.4]",
    "intel-arc-b580-xe": "2.9.0+xpu [xpu]",
    "cpu-x86_64-v3": "2.9.0+cpu [null]",
}


@pytest.mark.parametrize("machine", sorted(PER_BACKEND))
def test_per_backend_tree_picks_the_build_that_uses_the_machine(
    indexes: Indexes, machine: str
) -> None:
    assert chosen(plan(indexes, machine, variant_index=False)) == PER_BACKEND[machine]


def test_an_older_release_that_uses_the_gpu_says_why(indexes: Indexes) -> None:
    p = plan(indexes, "nvidia-t4-driver525-60-11", variant_index=False)
    (torch,) = p.packages
    assert torch.why.startswith("torch 2.9.0 has no build that uses your Tesla T4")
    assert "525.60.11" in torch.why and ">= 525.60.13" in torch.why
    assert "installing 2.7.1+cu118 [cu118], the newest that uses your Tesla T4" in torch.why
    assert torch.why.endswith("update the NVIDIA driver to >= 525.60.13 for torch 2.9.0")


def test_prefer_newest_restores_newest_first(indexes: Indexes) -> None:
    p = plan(indexes, "nvidia-t4-driver525-60-11", variant_index=False, prefer="newest")
    assert chosen(p) == "2.9.0+cpu [null]"


def test_specifiers_still_win_over_levels(indexes: Indexes) -> None:
    options = Options(platform_file=str(PLATFORMS / "nvidia-t4-driver525-60-11.snapshot.json"))
    assert options.prefer is None
    environ = environment(indexes, False)
    opts = Options(
        platform_file=options.platform_file, index_url=indexes.pypi, torch_backend="auto"
    )
    with Session(opts, environ=environ) as session:
        p = session.plan(["torch==2.9.0"])
    assert chosen(p) == "2.9.0+cpu [null]"


def test_wheelmagic_prefer_env(indexes: Indexes) -> None:
    environ = environment(indexes, False, WHEELMAGIC_PREFER="newest")
    opts = Options(
        platform_file=str(PLATFORMS / "nvidia-t4-driver470.snapshot.json"),
        index_url=indexes.pypi,
        torch_backend="auto",
    )
    with Session(opts, environ=environ) as session:
        assert session.prefer == "newest"
        assert chosen(session.plan(["torch"])) == "2.9.0+cpu [null]"


def test_explain_shows_levels_and_inferred_rows(indexes: Indexes) -> None:
    p = plan(indexes, "nvidia-gtx1080ti-driver580", variant_index=False)
    text = "\n".join(p.explanation)
    assert "-> torch-2.9.0+cu126" in text and "uses every accelerator" in text
    # the cu129 build of 2.9 has no row in the table: inherited from 2.8, and it says so
    assert "inferred from torch 2.8 cu129" in text
    assert "no kernels for your NVIDIA GeForce GTX 1080 Ti (sm_61)" in text


# machine -> the choice on a variant index with plain PyPI links for 2.9.1 and 2.8.0
VARIANT_INDEX = {
    # PyPI's 2.9.1 is a CUDA 12.8 build without sm_61: the 2.9.0 cuda12.6 variant uses the GPU
    "nvidia-gtx1080ti-driver580": "2.9.0 [cuda12.6]",
    # PyPI's 2.9.1 (CUDA 12.8) uses an H100: same level, newer release
    "nvidia-h100-driver580": "2.9.1 [cu128]",
    # AMD and Intel: PyPI's CUDA build would sit idle
    "amd-mi250-rocm64": "2.9.0 [rocm6.4]",
    "intel-arc-b580-xe": "2.9.0 [xpu]",
    # no accelerator: the CPU build beats an idle CUDA build
    "cpu-x86_64-v3": "2.9.0 [null]",
}


@pytest.mark.parametrize("machine", sorted(VARIANT_INDEX))
def test_variant_index_with_plain_pypi_links(indexes: Indexes, machine: str) -> None:
    p = plan(indexes, machine, variant_index=True, backend="none", index_url=indexes.variant)
    assert chosen(p) == VARIANT_INDEX[machine]


def test_plain_pypi_file_is_a_known_build_in_explain(indexes: Indexes) -> None:
    p = plan(
        indexes,
        "nvidia-gtx1080ti-driver580",
        variant_index=True,
        backend="none",
        index_url=indexes.variant,
    )
    text = "\n".join(p.explanation)
    assert "PyPI's torch 2.9 on linux_x86_64 is a cu128 build" in text
    assert "cannot use this machine's GPU" in text


# Tolerating real metadata (item 5) ----------------------------------------------------------


def test_undeclared_static_value_warns_and_ranks_after_declared_variants() -> None:
    from packaging.tags import Tag
    from packaging.version import Version

    from wheelmagic.variants.metadata import parse_variants_json
    from wheelmagic.variants.selection import Candidate, Target, select

    doc = json.loads((PUBLISHED / "torch-2.9.0-variants.json").read_text())
    # a published file's slip: cuda12.8 uses `priority :: order :: 4`, declared are 1, 2, 3
    doc["variants"]["cuda12.8"]["priority"] = {"order": ["4"]}
    meta = parse_variants_json(doc, "torch-2.9.0-variants.json")
    plat = "cp313-cp313-manylinux_2_28_x86_64"
    cands = [
        Candidate(f"torch-2.9.0-{plat}-{lb}.whl", f"https://x.invalid/{lb}", "https://x.invalid/")
        for lb in ("cuda12.8", "cuda12.6", "null")
    ]
    target = Target(
        tags=[Tag("cp313", "cp313", "manylinux_2_28_x86_64")], python_version=Version("3.13")
    )
    supported = {
        "nvidia": {
            "cuda_version_lower_bound": ["12.8", "12.7", "12.6", "12.0", "12"],
            "sm_arch": ["90_real", "80_real"],
        }
    }
    sel = select(
        "torch", cands, target=target, supported=supported, variants={Version("2.9.0"): meta}
    )
    labels = [r.label for r in sel.ranked]
    assert labels == ["cuda12.6", "cuda12.8", "null"]  # kept, after the declared one
    assert not sel.rejected
    assert any("`priority :: order :: 4`" in n and "does not declare" in n for n in sel.notes)
    assert any("does not declare" in line for line in sel.explain())


def test_an_index_of_builds_for_other_machines_says_so_and_lists_this_platform_first() -> None:
    from packaging.tags import Tag
    from packaging.version import Version

    from wheelmagic.variants.metadata import parse_variants_json
    from wheelmagic.variants.selection import Candidate, Target, select

    doc = {
        "$schema": "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json",
        "default-priorities": {"namespace": ["nvidia"]},
        "variants": {
            "cu12": {"nvidia": {"cuda_version_lower_bound": ["12.0"]}},
            "cu13": {"nvidia": {"cuda_version_lower_bound": ["13.0"]}},
        },
    }
    meta = parse_variants_json(doc, "cupy-14.0.0-variants.json")
    names = [
        "cupy-14.0.0-cp313-cp313-win_amd64-cu12.whl",
        "cupy-14.0.0-cp313-cp313-manylinux_2_28_x86_64-cu12.whl",
        "cupy-14.0.0-cp313-cp313-manylinux_2_28_x86_64-cu13.whl",
    ]
    cands = [Candidate(n, f"https://x.invalid/{n}", "https://x.invalid/") for n in names]
    target = Target(
        tags=[Tag("cp313", "cp313", "manylinux_2_28_x86_64")], python_version=Version("3.13")
    )
    sel = select("cupy", cands, target=target, supported={}, variants={Version("14.0.0"): meta})
    text = sel.failure()
    assert text.startswith("cupy publishes `nvidia` builds (cu12, cu13); this machine has no")
    assert text.index("manylinux_2_28_x86_64-cu12") < text.index("win_amd64")


# PyPI's plain wheels as known builds (item 3) --------------------------------------------------


@pytest.mark.parametrize(
    ("project", "filename", "backend", "words"),
    [
        ("torch", "torch-2.9.0-cp311-cp311-manylinux_2_28_x86_64.whl", "cu128", "(I15)"),
        ("torch", "torch-2.7.1-cp311-cp311-manylinux_2_28_x86_64.whl", "cu126", "(I15)"),
        ("torch", "torch-2.14.1-cp311-cp311-manylinux_2_28_x86_64.whl", "cu130", "(M)"),
        # no row for 2.12: the nearest earlier release's, and it says so
        ("torch", "torch-2.12.0-cp311-cp311-manylinux_2_28_x86_64.whl", "cu130", "inferred"),
        ("torch", "torch-2.9.0-cp311-cp311-win_amd64.whl", "cpu", "windows"),
        ("torch", "torch-2.9.0-cp311-none-macosx_11_0_arm64.whl", "cpu", "macos"),
        # torchvision follows its torch release (0.24 <-> 2.9)
        ("torchvision", "torchvision-0.24.0-cp311-cp311-manylinux_2_28_x86_64.whl", "cu128", "2.9"),
    ],
)
def test_pypi_plain_wheels_are_known_builds(
    project: str, filename: str, backend: str, words: str
) -> None:
    from wheelmagic.index import legacy_torch

    found = legacy_torch.plain_build(project, filename)
    assert found is not None and found[0] == backend and words in found[1]


def test_plain_wheels_of_other_projects_or_platforms_stay_plain() -> None:
    from wheelmagic.index import legacy_torch

    assert legacy_torch.plain_build("numpy", "numpy-2.0.0-cp311-cp311-win_amd64.whl") is None
    assert legacy_torch.plain_build("torch", "torch-2.9.0-py3-none-any.whl") is None


def test_an_unknown_cuda_row_is_inherited_never_fits_everything() -> None:
    from wheelmagic.pytorch import facts
    from wheelmagic.pytorch.backend import Backend

    cu129 = Backend.parse("cu129")
    assert cu129 is not None
    props, note = facts.backend_facts(cu129, "torch", "2.9.0")
    assert "sm_arch" in props["nvidia"] and "61_real" not in props["nvidia"]["sm_arch"]
    assert note == "inferred from torch 2.8 cu129 (no row for 2.9 cu129)"


def test_companions_follow_the_older_release_onto_its_line(tmp_path: Path) -> None:
    """torch and torchvision together: torch 2.7.1+cu118 wins on fit, torchvision follows it."""
    assert TAG is not None
    per_backend_tree(tmp_path, TAG)
    vision = {
        backend: [{"2.7.1": "0.22.1", "2.8.0": "0.23.0", "2.9.0": "0.24.0"}[v] for v in versions]
        for backend, versions in REAL_SHAPED.items()
    }
    per_backend_tree(tmp_path, TAG, vision, project="torchvision")
    (tmp_path / "pypi").mkdir()
    with serve_directory(tmp_path) as srv:
        indexes = Indexes(srv.url("whl"), srv.url("pypi/"), srv.url("pypi/"))
        options = Options(
            platform_file=str(PLATFORMS / "nvidia-t4-driver525-60-11.snapshot.json"),
            index_url=indexes.pypi,
            torch_backend="auto",
            dry_run=True,
        )
        with Session(options, environ=environment(indexes, False)) as session:
            p = session.plan(["torch", "torchvision"])
    got = {str(f.name): f"{f.version} [{f.label}]" for f in p.packages}
    assert got == {"torch": "2.7.1+cu118 [cu118]", "torchvision": "0.22.1+cu118 [cu118]"}
