"""Benchmark: select the best of 1,000 candidate files (not a timed test).

Realistic input: torch-like releases (several versions, each with its variants.json from
PyTorch's published 2.10 file) x variant labels x platform tags (some not installable here),
plus non-variant wheels. Each run parses every filename, checks tags / requires-python /
variants and sorts; the variants.json are pre-parsed (the index layer caches them).

A second run adds PyTorch's fit levels (`wheelmagic.pytorch.fit.fit_policy` for the recorded
H100 snapshot): each compatible file is judged on the machine before versions (issue 15).

Baseline in the same process: `packaging.utils.parse_wheel_filename` over the same 1,000 names
plus pip-like tag filtering, i.e. what a stock installer does before picking a wheel.

    .venv/bin/python benchmarks/bench_select.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from wheelmagic.platform.model import Platform
from wheelmagic.pytorch.fit import fit_policy
from wheelmagic.variants.filename import _head, _tags
from wheelmagic.variants.metadata import parse_variants_json
from wheelmagic.variants.selection import Candidate, Target, _specifier, select

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "tests" / "data" / "variants" / "pytorch-published"
PLATFORMS = [
    "cp313-cp313-manylinux_2_28_x86_64",
    "cp313-cp313-manylinux_2_17_x86_64",
    "cp312-cp312-manylinux_2_28_x86_64",
    "cp313-cp313-manylinux_2_28_aarch64",
    "cp313-cp313-win_amd64",
    "cp313-cp313-macosx_11_0_arm64",
]
TARGET = Target(
    tags=[
        Tag("cp313", "cp313", "manylinux_2_28_x86_64"),
        Tag("cp313", "cp313", "manylinux_2_17_x86_64"),
        Tag("cp313", "abi3", "manylinux_2_17_x86_64"),
        Tag("py3", "none", "any"),
    ],
    python_version=Version("3.13.1"),
    marker_env={"platform_system": "Linux", "sys_platform": "linux"},
)
SUPPORTED = {
    "nvidia": {
        "cuda_version_lower_bound": [
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
        ],
        "sm_arch": [f"8{m}_real" for m in range(9, -1, -1)] + ["80_virtual"],
    }
}


def make_candidates(n: int = 1000) -> tuple[list[Candidate], dict[Version, object]]:
    doc = json.loads((PUBLISHED / "torch-2.10.0-variants.json").read_text())
    labels: list[str | None] = [*doc["variants"], None]  # 7 variants + non-variant
    per_version = len(labels) * len(PLATFORMS)  # 48 files per release
    versions = [Version(f"2.{minor}.{patch}") for minor in range(30, 0, -1) for patch in (1, 0)]
    versions = versions[: -(-n // per_version)]
    cands: list[Candidate] = []
    for i, version in enumerate(versions):
        for plat in PLATFORMS:
            for label in labels:
                suffix = "" if label is None else f"-{label}"
                name = f"torch-{version}-{plat}{suffix}.whl"
                cands.append(
                    Candidate(
                        name,
                        f"https://example.invalid/{name}",
                        "idx",
                        requires_python=">=3.9" if i % 2 else ">=3.10",
                        yanked="bad" if i == 1 else None,
                    )
                )
    cands = cands[:n]
    variants = {v: parse_variants_json(doc, f"torch-{v}-variants.json") for v in versions}
    return cands, variants


def timed(fn: Callable[[int], object], runs: int) -> list[float]:
    fn(runs)  # warm-up
    out = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    cands, variants = make_candidates()
    names = [
        c.filename.replace(f"-{c.filename.rsplit('-', 1)[1]}", ".whl")
        if c.filename.count("-") == 5
        else c.filename
        for c in cands
    ]
    tags = set(TARGET.tags)

    # fresh Candidates per run, built outside the timing: `Candidate.wheel` caches its parse
    fresh = [
        [
            Candidate(
                c.filename, c.url, c.index_url, requires_python=c.requires_python, yanked=c.yanked
            )
            for c in cands
        ]
        for _ in range(2 * args.runs + 4)
    ]
    h100 = json.loads(
        (ROOT / "tests/data/platforms/nvidia-h100-driver580.snapshot.json").read_text()
    )
    fit = fit_policy(Platform.from_json(h100))

    def ours(i: int) -> object:
        # cold: a real plan parses each index's files once, so no cache carries over
        _head.cache_clear()
        _tags.cache_clear()
        _specifier.cache_clear()
        sel = select("torch", fresh[i], target=TARGET, supported=SUPPORTED, variants=variants)  # type: ignore[arg-type]
        assert sel.chosen is not None
        return sel

    def ours_fit(i: int) -> object:
        _head.cache_clear()
        _tags.cache_clear()
        _specifier.cache_clear()
        sel = select(
            "torch",
            fresh[args.runs + 2 + i],
            target=TARGET,
            supported=SUPPORTED,
            variants=variants,  # type: ignore[arg-type]
            fit=fit,
        )
        assert sel.chosen is not None
        return sel

    def baseline(i: int) -> object:
        ok = []
        for name in names:
            _, version, _, wheel_tags = parse_wheel_filename(name)
            if not wheel_tags.isdisjoint(tags):
                ok.append(version)
        return max(ok)

    sel = ours(args.runs + 1)
    chosen = sel.chosen  # type: ignore[attr-defined]
    print(
        f"{len(cands)} candidates, {len(variants)} releases; chosen: "
        f"{chosen.candidate.filename} ({len(sel.ranked)} ranked, "  # type: ignore[attr-defined]
        f"{len(sel.rejected)} rejected)"
    )  # type: ignore[attr-defined]
    ours_ms = timed(ours, args.runs)
    fit_ms = timed(ours_fit, args.runs)
    base_ms = timed(baseline, args.runs)
    for what, ms in (
        ("wheelmagic select()", ours_ms),
        ("wheelmagic select() with fit levels", fit_ms),
        ("baseline parse_wheel_filename + tag filter", base_ms),
    ):
        print(
            f"{what:45s} median {statistics.median(ms):7.2f} ms  min {min(ms):7.2f}  "
            f"max {max(ms):7.2f}  (runs={args.runs})"
        )
    ratio = statistics.median(ours_ms) / statistics.median(base_ms)
    fit_ratio = statistics.median(fit_ms) / statistics.median(base_ms)
    worst = max(statistics.median(ours_ms), statistics.median(fit_ms))
    print(
        f"ratio (median): {ratio:.1f}x baseline, {fit_ratio:.1f}x with fit levels; target: "
        f"well under 50 ms -> {'OK' if worst < 50 else 'OVER'}"
    )


if __name__ == "__main__":
    main()
