"""Benchmark: a resolution that pulls in three variant-enabled packages (not a timed test).

`install flash-attn vllm` on the recorded H100 snapshot, from the loopback set of small real
variant wheels of the resolver's tests (`tests/support/variant_sets.py`): flash-attn (4 builds:
torch 2.8/2.9 x CUDA 12/13), vllm (torch 2.8, CUDA 12 only) and torch (3 releases x 3 lines).
The closure is flash-attn + vllm + torch, and the search must backtrack away from the best
flash-attn and torch builds (CUDA 13, torch 2.9) to the one consistent set.

What is measured is CPU time (`time.process_time`) *beyond the page fetches*: the index pages,
variants.json and PEP 658 metadata are fetched once over real loopback HTTP, then every run
resolves from memory. Side by side, in the same process: the baseline is `select()` of the
single package torch over the same files (what planning one package cost before issue 16).
The issue's budget: under 200 ms of CPU per resolution.

    .venv/bin/python benchmarks/bench_resolve.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.server import serve_directory  # noqa: E402
from support.variant_sets import build_set  # noqa: E402

from wheelmagic.index import IndexClient, resolve_indexes  # noqa: E402
from wheelmagic.index.client import ProjectFiles  # noqa: E402
from wheelmagic.install.resolve import resolve  # noqa: E402
from wheelmagic.interpreter import inspect_interpreter  # noqa: E402
from wheelmagic.platform import load_platform  # noqa: E402
from wheelmagic.providers import supported_properties  # noqa: E402
from wheelmagic.pytorch.companions import PYTORCH_COMPANIONS  # noqa: E402
from wheelmagic.variants.selection import Candidate, Target, select  # noqa: E402

PLATFORM = ROOT / "tests" / "data" / "platforms" / "nvidia-h100-driver580.snapshot.json"


class Memory:
    """The fetched pages and metadata, served from memory (the fetches are not measured)."""

    def __init__(self, client: IndexClient, names: list[str]) -> None:
        self.files = {n: client.project(n) for n in names}
        self.requires = {
            c.filename: client.requires_dist(c) for f in self.files.values() for c in f.candidates
        }

    def project(self, name: str) -> ProjectFiles:
        return self.files[name]

    def requires_dist(self, cand: Candidate) -> tuple[str, ...] | None:
        return self.requires[cand.filename]


def cpu_ms(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        out.append((time.process_time() - start) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    runs = ap.parse_args().runs
    platform = load_platform(PLATFORM)
    sup = supported_properties(platform)
    interp = inspect_interpreter(sys.executable)
    target = Target(interp.tags, interp.python_version, interp.marker_env)
    with tempfile.TemporaryDirectory() as tmp:
        index = build_set(Path(tmp))
        with serve_directory(index) as srv:
            config = resolve_indexes(
                srv.url("simple/"), [], env={}, torch_backend="none", read_pip_files=False
            )
            with IndexClient(config, None, supported=sup) as client:
                memory = Memory(client, ["flash-attn", "vllm", "torch", "filelock", "einops"])

    def resolution() -> None:
        r = resolve(
            [Requirement("flash-attn"), Requirement("vllm")],
            source=memory,
            target=target,
            supported=sup,
            companions=PYTORCH_COMPANIONS,
        )
        assert {n: b.label for n, b in r.chosen.items()} == {
            "flash-attn": "torch28_cu12",
            "vllm": "torch28_cu12",
            "torch": "cuda12.8",
        }, r.chosen

    torch = memory.files["torch"]

    def baseline() -> None:
        select(
            Requirement("torch"),
            torch.candidates,
            target=target,
            supported=sup,
            variants=torch.variants,
            line_of=PYTORCH_COMPANIONS.line_of,
        )

    resolution()  # warm imports
    baseline()
    ours, base = cpu_ms(resolution, runs), cpu_ms(baseline, runs)
    m_ours, m_base = statistics.median(ours), statistics.median(base)
    print(f"resolve flash-attn + vllm (3 variant packages, backtracking), {runs} runs, CPU:")
    print(f"  resolution  median {m_ours:.2f} ms  (min {min(ours):.2f}, max {max(ours):.2f})")
    print(f"  select torch median {m_base:.2f} ms  (min {min(base):.2f}, max {max(base):.2f})")
    print(
        f"  ratio {m_ours / m_base:.1f}x the single-package selection; budget 200 ms: "
        f"{'within' if m_ours < 200 else 'OVER'} ({m_ours / 200:.0%} of it)"
    )


if __name__ == "__main__":
    main()
