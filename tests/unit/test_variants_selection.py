"""Selection: versions, yanked, requires-python, pre-releases, reasons, companions, and the
engine's choices on PyTorch's published metadata (issue 2, requirements 5, 7 and 8)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import Tag
from packaging.version import Version

from wheelmagic.pytorch.companions import PYTORCH_COMPANIONS
from wheelmagic.variants.metadata import VariantsMetadata, parse_variants_json
from wheelmagic.variants.selection import (
    Candidate,
    Target,
    select,
    select_together,
)

PUBLISHED = Path(__file__).resolve().parent.parent / "data" / "variants" / "pytorch-published"
PEP825 = "https://variants-schema.wheelnext.dev/peps/825/v0.1.1.json"
LINUX = Tag("cp313", "cp313", "manylinux_2_28_x86_64")
LINUX_OLD = Tag("cp313", "cp313", "manylinux_2_17_x86_64")
ANY = Tag("py3", "none", "any")
TARGET = Target(
    tags=[LINUX, LINUX_OLD, ANY],
    python_version=Version("3.13"),
    marker_env={"platform_system": "Linux", "sys_platform": "linux"},
)
WINDOWS = Target(
    tags=[Tag("cp313", "cp313", "win_amd64"), ANY],
    python_version=Version("3.13"),
    marker_env={"platform_system": "Windows", "sys_platform": "win32"},
)
PLAT = "cp313-cp313-manylinux_2_28_x86_64"


def published(name: str) -> VariantsMetadata:
    return parse_variants_json(json.loads((PUBLISHED / name).read_text()), name)


def cand(filename: str, **kw: Any) -> Candidate:
    return Candidate(
        filename, f"https://example.invalid/{filename}", "https://example.invalid/", **kw
    )


def wheels(
    project: str, version: str, labels: Iterable[str | None], plat: str = PLAT
) -> list[Candidate]:
    return [
        cand(f"{project}-{version}-{plat}{'' if lb is None else '-' + lb}.whl") for lb in labels
    ]


def chosen(sel: Any) -> tuple[str, str | None] | None:
    return None if sel.chosen is None else (str(sel.chosen.version), sel.chosen.label)


def simple(variants: dict[str, Any], namespaces: Sequence[str] = ("ns",)) -> VariantsMetadata:
    return parse_variants_json(
        {
            "$schema": PEP825,
            "default-priorities": {"namespace": list(namespaces)},
            "variants": variants,
        }
    )


# Versions first, then the best wheel ---------------------------------------------------


def test_newest_version_with_a_compatible_wheel_wins_over_a_better_variant() -> None:
    md = simple({"fast": {"ns": {"f": ["v"]}}, "null": {}})
    cands = wheels("pkg", "2.0", ["null"]) + wheels("pkg", "1.0", ["fast", "null"])
    sel = select(
        "pkg",
        cands,
        target=TARGET,
        supported={"ns": {"f": ["v"]}},
        variants={Version("2.0"): md, Version("1.0"): md},
    )
    assert chosen(sel) == ("2.0", "null")
    assert [(str(r.version), r.label) for r in sel.ranked] == [
        ("2.0", "null"),
        ("1.0", "fast"),
        ("1.0", "null"),
    ]


def test_a_version_without_any_compatible_wheel_is_passed_over() -> None:
    md = simple({"fast": {"ns": {"f": ["v"]}}, "null": {}})
    cands = wheels("pkg", "2.0", ["fast"]) + wheels("pkg", "1.0", ["null"])
    sel = select(
        "pkg", cands, target=TARGET, supported={}, variants={Version("2.0"): md, Version("1.0"): md}
    )
    assert chosen(sel) == ("1.0", "null")
    (rej,) = sel.rejected
    assert rej.kind == "variant-unsupported" and "fast" in rej.reason


def test_variant_preference_beats_platform_tag_preference() -> None:
    md = simple({"fast": {"ns": {"f": ["v"]}}, "null": {}})
    cands = [
        cand("pkg-1.0-cp313-cp313-manylinux_2_28_x86_64-null.whl"),
        cand("pkg-1.0-py3-none-any-fast.whl"),
    ]
    sel = select(
        "pkg", cands, target=TARGET, supported={"ns": {"f": ["v"]}}, variants={Version("1.0"): md}
    )
    assert [r.label for r in sel.ranked] == ["fast", "null"]


def test_same_label_orders_by_platform_tag_then_build_tag() -> None:
    md = simple({"fast": {"ns": {"f": ["v"]}}})
    cands = [
        cand("pkg-1.0-py3-none-any-fast.whl"),
        cand("pkg-1.0-cp313-cp313-manylinux_2_17_x86_64-fast.whl"),
        cand("pkg-1.0-2-cp313-cp313-manylinux_2_17_x86_64-fast.whl"),
        cand("pkg-1.0-cp313-cp313-manylinux_2_28_x86_64-fast.whl"),
        cand("pkg-1.0-py3-none-any.whl"),
        cand("pkg-1.0-1-cp313-cp313-manylinux_2_28_x86_64.whl"),
    ]
    sel = select(
        "pkg", cands, target=TARGET, supported={"ns": {"f": ["v"]}}, variants={Version("1.0"): md}
    )
    assert [r.candidate.filename for r in sel.ranked] == [
        "pkg-1.0-cp313-cp313-manylinux_2_28_x86_64-fast.whl",
        "pkg-1.0-2-cp313-cp313-manylinux_2_17_x86_64-fast.whl",
        "pkg-1.0-cp313-cp313-manylinux_2_17_x86_64-fast.whl",
        "pkg-1.0-py3-none-any-fast.whl",
        "pkg-1.0-1-cp313-cp313-manylinux_2_28_x86_64.whl",
        "pkg-1.0-py3-none-any.whl",
    ]


def test_other_projects_files_are_ignored() -> None:
    sel = select(
        "torch",
        wheels("torchvision", "1.0", [None]) + wheels("torch", "1.0", [None]),
        target=TARGET,
        supported={},
    )
    assert [r.candidate.filename for r in sel.ranked] == [f"torch-1.0-{PLAT}.whl"]


# Yanked, requires-python, pre-releases ----------------------------------------------------


def test_yanked_files_are_skipped_unless_pinned_with_double_equals() -> None:
    cands = [cand(f"pkg-2.0-{PLAT}.whl", yanked="broken build"), cand(f"pkg-1.0-{PLAT}.whl")]
    sel = select("pkg", cands, target=TARGET, supported={})
    assert chosen(sel) == ("1.0", None)
    assert [(r.kind, r.reason) for r in sel.rejected] == [("yanked", "yanked: broken build")]
    assert chosen(select("pkg==2.0", cands, target=TARGET, supported={})) == ("2.0", None)
    assert chosen(select("pkg===2.0", cands, target=TARGET, supported={})) == ("2.0", None)
    assert chosen(select("pkg>=2.0", cands, target=TARGET, supported={})) is None
    assert chosen(select("pkg==2.*", cands, target=TARGET, supported={})) is None


def test_pinned_version_with_an_unyanked_file_does_not_use_the_yanked_one() -> None:
    cands = [
        cand("pkg-2.0-cp313-cp313-manylinux_2_28_x86_64.whl", yanked=""),
        cand("pkg-2.0-py3-none-any.whl"),
    ]
    sel = select("pkg==2.0", cands, target=TARGET, supported={})
    assert [r.candidate.filename for r in sel.ranked] == ["pkg-2.0-py3-none-any.whl"]
    assert [(r.kind, r.reason) for r in sel.rejected] == [("yanked", "yanked")]


def test_requires_python_rejects_with_a_reason_and_invalid_specifiers_are_ignored() -> None:
    cands = [
        cand(f"pkg-3.0-{PLAT}.whl", requires_python=">=3.14"),
        cand(f"pkg-2.0-{PLAT}.whl", requires_python="not a specifier"),
        cand(f"pkg-1.0-{PLAT}.whl", requires_python=">=3.9"),
    ]
    sel = select("pkg", cands, target=TARGET, supported={})
    assert [str(r.version) for r in sel.ranked] == ["2.0", "1.0"]
    (rej,) = sel.rejected
    assert rej.kind == "requires-python" and ">=3.14" in rej.reason and "3.13" in rej.reason


def test_pre_releases_follow_pip() -> None:
    cands = wheels("pkg", "2.1rc1", [None]) + wheels("pkg", "2.0", [None])
    assert chosen(select("pkg", cands, target=TARGET, supported={})) == ("2.0", None)
    assert chosen(select("pkg", cands, target=TARGET, supported={}, prereleases=True)) == (
        "2.1rc1",
        None,
    )
    assert chosen(select("pkg>=2.1rc1", cands, target=TARGET, supported={})) == ("2.1rc1", None)
    only_pre = wheels("pkg", "2.1rc1", [None])
    assert chosen(select("pkg", only_pre, target=TARGET, supported={})) == ("2.1rc1", None)
    assert chosen(select("pkg", only_pre, target=TARGET, supported={}, prereleases=False)) is None


def test_pre_release_is_used_when_no_final_release_fits_the_platform() -> None:
    cands = [
        cand("pkg-2.0-cp313-cp313-win_amd64.whl"),
        cand("pkg-2.1rc1-cp313-cp313-manylinux_2_28_x86_64.whl"),
    ]
    assert chosen(select("pkg", cands, target=TARGET, supported={})) == ("2.1rc1", None)


# Reasons -------------------------------------------------------------------------------


def test_every_rejected_file_has_a_reason_and_a_kind() -> None:
    md = simple({"fast": {"ns": {"f": ["v"]}}, "slow": {"ns": {"f": ["w"]}}, "null": {}})
    cands = [
        cand("pkg-1.0.tar.gz"),
        cand("pkg-1.0-cp313-cp313-manylinux_2_28_x86_64-BAD.whl"),
        cand("pkg-1.0-cp313-cp313-win_amd64-fast.whl"),
        cand(f"pkg-1.0-{PLAT}-slow.whl"),
        cand(f"pkg-1.0-{PLAT}-unknown.whl"),
        cand(f"pkg-1.0-{PLAT}-fast.whl"),
        cand(f"pkg-0.9-{PLAT}-fast.whl"),
        cand(f"pkg-1.0-{PLAT}-null.whl"),
    ]
    sel = select(
        "pkg", cands, target=TARGET, supported={"ns": {"f": ["v"]}}, variants={Version("1.0"): md}
    )
    kinds = {r.filename: r.kind for r in sel.rejected}
    assert kinds == {
        "pkg-1.0.tar.gz": "not-wheel",
        "pkg-1.0-cp313-cp313-manylinux_2_28_x86_64-BAD.whl": "invalid-name",
        "pkg-1.0-cp313-cp313-win_amd64-fast.whl": "tags",
        f"pkg-1.0-{PLAT}-slow.whl": "variant-unsupported",
        f"pkg-1.0-{PLAT}-unknown.whl": "variant-unknown",
        f"pkg-0.9-{PLAT}-fast.whl": "variant-unknown",
    }
    assert all(r.reason for r in sel.rejected)
    assert "pkg-0.9-variants.json" in next(
        r.reason for r in sel.rejected if r.filename.startswith("pkg-0.9")
    )
    assert [r.label for r in sel.ranked] == ["fast", "null"]
    explained = "\n".join(sel.explain())
    for c in cands:
        assert c.filename in explained
    assert "no files" not in sel.failure()


def test_requested_label_narrows_the_choice() -> None:
    md = simple({"fast": {"ns": {"f": ["v"]}}, "null": {}})
    sel = select(
        "pkg",
        wheels("pkg", "1.0", ["fast", "null", None]),
        target=TARGET,
        supported={"ns": {"f": ["v"]}},
        variants={Version("1.0"): md},
        variant_label="null",
    )
    assert [r.label for r in sel.ranked] == ["null"]
    assert {r.kind for r in sel.rejected} == {"label-not-requested"}


def test_failure_message_groups_reasons() -> None:
    sel = select(
        "pkg",
        [cand("pkg-1.0-cp313-cp313-win_amd64.whl"), cand("pkg-0.9-cp313-cp313-win_amd64.whl")],
        target=TARGET,
        supported={},
    )
    assert sel.chosen is None
    text = sel.failure()
    assert "pkg-1.0-cp313-cp313-win_amd64.whl, pkg-0.9-cp313-cp313-win_amd64.whl" in text
    assert "does not support" in text
    assert (
        select("pkg", [], target=TARGET, supported={}).failure() == "no files for pkg on the index"
    )


# Engine choices on PyTorch's published metadata --------------------------------------------


def nvidia(umd: str, cc: str) -> dict[str, list[str]]:
    """What nvidia-variant-provider reports (research/variants.md §3.1), best first."""
    major, minor = (int(p) for p in umd.split("."))
    lower = [f"{major}.{m}" for m in range(minor, -1, -1)] + [str(major)]
    for k in range(major - 1, 10, -1):
        lower += [f"{k}.{m}" for m in range(20, -1, -1)] + [str(k)]
    upper: list[str] = []
    for k in range(15, major - 1, -1):
        upper += [f"{k}.{m}" for m in range(20, -1, -1) if (k, m) > (major, minor)]
        if k > major:
            upper.append(str(k))
    cmaj, cmin = (int(p) for p in cc.split("."))
    sm = [f"{cmaj}{m}_real" for m in range(cmin, -1, -1)] + [f"{cmaj}0_virtual"]
    return {"cuda_version_lower_bound": lower, "cuda_version_upper_bound": upper, "sm_arch": sm}


H100_CUDA13 = {"nvidia": nvidia("13.0", "9.0")}
RTX4090_CUDA128 = {"nvidia": nvidia("12.8", "8.9")}
GTX1080TI_CUDA13 = {"nvidia": nvidia("13.0", "6.1")}
CUDA124_AMPERE = {"nvidia": nvidia("12.4", "8.6")}
NO_GPU: dict[str, Any] = {}
MI210_ROCM71 = {"amd": {"gfx_arch": ["gfx90a"], "rocm_version": ["7.1"]}}
ARC_B580 = {"intel": {"device_ip": ["20.1.0"]}}
NVIDIA_AND_AMD = {**RTX4090_CUDA128, **MI210_ROCM71}


def test_the_nvidia_provider_helper_matches_the_documented_lists() -> None:
    sup = nvidia("12.8", "8.9")
    assert sup["cuda_version_lower_bound"][:10] == [
        "12.8",
        "12.7",
        "12.6",
        "12.5",
        "12.4",
        "12.3",
        "12.2",
        "12.1",
        "12.0",
        "12",
    ]
    assert sup["cuda_version_lower_bound"][10:12] == ["11.20", "11.19"]
    assert sup["cuda_version_upper_bound"][:2] == ["15.20", "15.19"]
    assert sup["cuda_version_upper_bound"][-2:] == ["12.10", "12.9"]
    assert sup["sm_arch"] == [f"8{m}_real" for m in range(9, -1, -1)] + ["80_virtual"]
    assert "12.8" not in sup["cuda_version_upper_bound"]
    assert "12.9" in sup["cuda_version_upper_bound"]


def rank_published(
    name: str,
    supported: Mapping[str, Any],
    target: Target = TARGET,
    abi: Mapping[str, Version] | None = None,
) -> list[str | None]:
    md = published(name)
    project, version = name.split("-")[:2]
    plat = "cp313-cp313-win_amd64" if target is WINDOWS else PLAT
    cands = wheels(project, version, list(md.variants), plat=plat)
    sel = select(
        project,
        cands,
        target=target,
        supported=supported,
        variants={Version(version): md},
        abi_versions=abi,
    )
    assert len(sel.ranked) + len(sel.rejected) == len(cands)
    return [r.label for r in sel.ranked]


@pytest.mark.parametrize(
    ("name", "supported", "expected"),
    [
        # H100 (9.0), driver 580 / CUDA 13.0: every CUDA build fits; 13.0 is the best lower
        # bound (index 0 vs 22 for 12.0), 12.8 beats 12.6 through `priority :: order`.
        ("torch-2.10.0-variants.json", H100_CUDA13, ["cuda13.0", "cuda12.8", "cuda12.6", "null"]),
        ("torch-2.9.0-variants.json", H100_CUDA13, ["cuda13.0", "cuda12.8", "cuda12.6", "null"]),
        # RTX 4090 (8.9) on CUDA 12.8: 13.0 needs driver >= 13.0; 12.8/12.6 tie on nvidia
        # (lb 12.0 = index 8, 86_real = index 3), priority order 2 < 3.
        ("torch-2.10.0-variants.json", RTX4090_CUDA128, ["cuda12.8", "cuda12.6", "null"]),
        ("torch-2.9.0-variants.json", RTX4090_CUDA128, ["cuda12.8", "cuda12.6", "null"]),
        # GTX 1080 Ti (6.1) on CUDA 13.0: only cuda12.6 still has 60_real.
        ("torch-2.10.0-variants.json", GTX1080TI_CUDA13, ["cuda12.6", "null"]),
        ("torch-2.9.0-variants.json", GTX1080TI_CUDA13, ["cuda12.6", "null"]),
        ("torch-2.10.0-variants.json", NO_GPU, ["null"]),
        ("torch-2.9.0-variants.json", NO_GPU, ["null"]),
        # MI210 (gfx90a) on ROCm 7.1: rocm_version is exact.
        ("torch-2.10.0-variants.json", MI210_ROCM71, ["rocm7.1", "null"]),
        ("torch-2.9.0-variants.json", MI210_ROCM71, ["null"]),
        # Arc B580 (device_ip 20.1.0)
        ("torch-2.10.0-variants.json", ARC_B580, ["xpu", "null"]),
        ("torch-2.9.0-variants.json", ARC_B580, ["xpu", "null"]),
        # nvidia comes before amd in default-priorities.namespace
        ("torch-2.10.0-variants.json", NVIDIA_AND_AMD, ["cuda12.8", "cuda12.6", "rocm7.1", "null"]),
        # torch 2.8: cu126 has lower bound 12.0, cu128/cu129 need 12.8/12.9
        ("torch-2.8.0-variants.json", CUDA124_AMPERE, ["cu126", "00000000"]),
        # 8.9 on 12.8: cu128 [(0,0,0),(0,2,3)] beats cu126 [(0,0,8),(0,2,3)]
        ("torch-2.8.0-variants.json", RTX4090_CUDA128, ["cu128", "cu126", "00000000"]),
        ("torch-2.8.0-variants.json", NO_GPU, ["00000000"]),
        (
            "torchvision-0.25.0-variants.json",
            H100_CUDA13,
            ["cuda13.0", "cuda12.8", "cuda12.6", "null"],
        ),
    ],
)
def test_engine_choices_on_published_files(
    name: str, supported: Mapping[str, Any], expected: list[str]
) -> None:
    assert rank_published(name, supported) == expected


def test_enable_if_switches_providers_off_by_platform() -> None:
    # amd's provider is Linux-only in torch 2.10's metadata; nvidia is Linux or Windows
    assert rank_published("torch-2.10.0-variants.json", MI210_ROCM71, WINDOWS) == ["null"]
    assert rank_published("torch-2.10.0-variants.json", H100_CUDA13, WINDOWS)[0] == "cuda13.0"
    mac = Target(
        tags=TARGET.tags,
        python_version=Version("3.13"),
        marker_env={"platform_system": "Darwin", "sys_platform": "darwin"},
    )
    assert rank_published("torch-2.10.0-variants.json", H100_CUDA13, mac) == ["null"]


# Companion consistency ---------------------------------------------------------------------


def _torch_family(
    tv_labels: Iterable[str | None],
) -> tuple[dict[str, list[Candidate]], dict[str, Any]]:
    torch_md = published("torch-2.10.0-variants.json")
    tv_md = published("torchvision-0.25.0-variants.json")
    return (
        {
            "torch": wheels("torch", "2.10.0", list(torch_md.variants)),
            "torchvision": wheels("torchvision", "0.25.0", tv_labels),
        },
        {"torch": {Version("2.10.0"): torch_md}, "torchvision": {Version("0.25.0"): tv_md}},
    )


def test_torch_and_torchvision_end_on_the_same_label() -> None:
    cands, variants = _torch_family(["null", "cuda12.6", "cuda12.8", "cuda13.0"])
    joint = select_together(
        ["torch", "torchvision"],
        cands,
        target=TARGET,
        supported=RTX4090_CUDA128,
        variants=variants,
        companions=PYTORCH_COMPANIONS,
    )
    assert joint.ok
    assert {n: r.label for n, r in joint.chosen.items()} == {
        "torch": "cuda12.8",
        "torchvision": "cuda12.8",
    }
    assert joint.notes == []


def test_torch_steps_down_when_torchvision_lacks_its_best_line() -> None:
    cands, variants = _torch_family(["null", "cuda12.6", "cuda12.8"])
    joint = select_together(
        ["torch", "torchvision"],
        cands,
        target=TARGET,
        supported=H100_CUDA13,
        variants=variants,
        companions=PYTORCH_COMPANIONS,
    )
    assert {n: r.label for n, r in joint.chosen.items()} == {
        "torch": "cuda12.8",
        "torchvision": "cuda12.8",
    }
    assert joint.notes and "cuda13.0" in joint.notes[0] and "torchvision" in joint.notes[0]


def test_no_consistent_set_is_reported() -> None:
    cands, variants = _torch_family(["rocm7.1"])
    cands["torch"] = wheels("torch", "2.10.0", ["cuda12.8", "cuda12.6"])
    joint = select_together(
        ["torch", "torchvision"],
        cands,
        target=TARGET,
        supported=NVIDIA_AND_AMD,
        variants=variants,
        companions=PYTORCH_COMPANIONS,
    )
    assert not joint.ok
    assert joint.chosen == {}
    assert any("no consistent set" in n and "torchvision" in n for n in joint.notes)


def test_abi_dependency_is_satisfied_by_co_selected_torch() -> None:
    """A torchvision variant declaring `abi_dependency :: torch :: 2.9` needs torch 2.9.*:
    newest torch 2.10 cannot be paired with it, so torch 2.9 is chosen."""
    torch29 = published("torch-2.9.0-variants.json")
    torch210 = published("torch-2.10.0-variants.json")
    tv = simple(
        {"cuda12.8": {"nvidia": {"sm_arch": ["89_real"]}, "abi_dependency": {"torch": ["2.9"]}}},
        ["nvidia"],
    )
    cands = {
        "torch": wheels("torch", "2.10.0", ["cuda12.8", "null"])
        + wheels("torch", "2.9.0", ["cuda12.8", "null"]),
        "torchvision": wheels("torchvision", "0.24.0", ["cuda12.8"]),
    }
    variants = {
        "torch": {Version("2.10.0"): torch210, Version("2.9.0"): torch29},
        "torchvision": {Version("0.24.0"): tv},
    }
    joint = select_together(
        ["torch", "torchvision"],
        cands,
        target=TARGET,
        supported=RTX4090_CUDA128,
        variants=variants,
        companions=PYTORCH_COMPANIONS,
    )
    assert {n: (str(r.version), r.label) for n, r in joint.chosen.items()} == {
        "torch": ("2.9.0", "cuda12.8"),
        "torchvision": ("0.24.0", "cuda12.8"),
    }
    # alone, with torch 2.10 installed, the torchvision variant is rejected with a reason
    sel = select(
        "torchvision",
        cands["torchvision"],
        target=TARGET,
        supported=RTX4090_CUDA128,
        variants=variants["torchvision"],
        abi_versions={"torch": Version("2.10.0")},
    )
    assert sel.chosen is None
    assert "torch 2.9.*" in sel.rejected[0].reason and "2.10" in sel.rejected[0].reason


def test_requires_dist_pin_must_accept_the_chosen_torch() -> None:
    torch_md = published("torch-2.10.0-variants.json")
    tv_md = published("torchvision-0.25.0-variants.json")
    cands = {
        "torch": wheels("torch", "2.10.0", ["cuda12.8"]) + wheels("torch", "2.9.0", [None]),
        "torchvision": [
            cand(f"torchvision-0.25.0-{PLAT}-cuda12.8.whl", requires_dist=("torch==2.9.0",))
        ],
    }
    joint = select_together(
        ["torch", "torchvision"],
        cands,
        target=TARGET,
        supported=RTX4090_CUDA128,
        variants={
            "torch": {Version("2.10.0"): torch_md},
            "torchvision": {Version("0.25.0"): tv_md},
        },
        companions=PYTORCH_COMPANIONS,
    )
    assert {n: (str(r.version), r.label) for n, r in joint.chosen.items()} == {
        "torch": ("2.9.0", None),
        "torchvision": ("0.25.0", "cuda12.8"),
    }


@dataclass(frozen=True)
class _Family:
    """A companion policy that is not PyTorch's: the engine takes whatever it is given."""

    anchors: tuple[str, ...] = ("base",)

    def line_of(self, label: str | None) -> str | None:
        return label.split("_")[0] if label else None


def test_companion_policy_is_a_parameter() -> None:
    """The engine keeps packages on the anchor's line as the given policy defines lines."""
    props = {
        "a_x": {"nvidia": {"sm_arch": ["89_real"]}},
        "b_x": {"nvidia": {"sm_arch": ["90_real"]}},
        "b_y": {"nvidia": {"sm_arch": ["90_real"]}},
    }
    md = simple(props, ["nvidia"])
    cands = {
        "base": wheels("base", "1.0", ["a_x", "b_x"]),
        "plugin": wheels("plugin", "1.0", ["b_y"]),
    }
    variants = {"base": {Version("1.0"): md}, "plugin": {Version("1.0"): md}}
    sup = {"nvidia": {"sm_arch": ["89_real", "90_real"]}}
    joint = select_together(
        ["base", "plugin"],
        cands,
        target=TARGET,
        supported=sup,
        variants=variants,
        companions=_Family(),
    )
    assert {n: r.label for n, r in joint.chosen.items()} == {"base": "b_x", "plugin": "b_y"}
    assert joint.notes and "a_x" in joint.notes[0]
    # `--variant a` names a line through the policy's line_of
    alone = select_together(
        ["base"],
        cands,
        target=TARGET,
        supported=sup,
        variants=variants,
        variant_label="b",
        companions=_Family(),
    )
    assert alone.chosen["base"].label == "b_x"  # type: ignore[index]
