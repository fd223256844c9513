"""Issue 11, items 11-13: the import hook with other processes and a silent index, in real kernels.

* two kernels, one environment, both importing a CUDA torch on a machine without a GPU
  (policy `auto`), each with its own cache directory (so each has its own attempts record):
  the second waits for the first's fix (a visible line), then reads what is installed now and
  imports it -- it neither imports a build being replaced nor installs the same build again;
* an index that accepts connections and never answers: the import goes on with the installed
  build after the hook's total deadline (``WHEELMAGIC_HOOK_TIMEOUT``) and says why.

The first kernel's download of the fitting wheel is held by the loopback server (a `gate`
fault) until the test has seen the second kernel waiting, so the overlap is a fact the test
observes, not a timing it hopes for.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.server import Fault, Server, serve_directory
from support.wheels import build_wheel

from kernel.harness import (
    Kernel,
    KernelVenv,
    kernel_env,
    make_kernel_venv,
    run_async,
    running_kernel,
)

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
H100 = ROOT / "tests" / "data" / "platforms" / "nvidia-h100-driver580.snapshot.json"
NO_GPU = {"os": "linux", "arch": "x86_64", "cpu": {"x86_64_level": 3}}
VERSION = "2.9.0"
IMPORT = "import torch; print('BUILD', torch.__build__)"
NULL_WHEEL = f"/files/torch-{VERSION}-py3-none-any-null.whl"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from wheelmagic.index.build import build_index

    d = tmp_path_factory.mktemp("race-index")
    for label in ("null", "cuda12.8"):
        build_wheel(d / "wheels", "torch", VERSION, label=label)
    build_index(d / "wheels", d / "www", link="copy")
    assert (d / "www" / NULL_WHEEL.lstrip("/")).is_file()
    with serve_directory(d / "www") as srv:
        yield srv


@pytest.fixture
def venv(tmp_path_factory: pytest.TempPathFactory) -> KernelVenv:
    """A throwaway kernel venv with wheelmagic enabled at start-up (the hook is installed)."""
    return make_kernel_venv(tmp_path_factory.mktemp("race-venv"), enabled=True)


def site_packages(venv: KernelVenv) -> Path:
    (site,) = venv.prefix.glob("lib/python3*/site-packages")
    return site


def torch_label(venv: KernelVenv) -> str:
    infos = sorted(site_packages(venv).glob("torch-*.dist-info"))
    assert len(infos) == 1, [p.name for p in infos]
    (label,) = json.loads((infos[0] / "variant.json").read_text())["variants"]
    return str(label)


def install_cuda(venv: KernelVenv, server: Server, tmp_path: Path) -> None:
    env = kernel_env(tmp_path / "setup", WHEELMAGIC_PLATFORM=str(H100))
    r = subprocess.run(
        [venv.python, "-m", "wheelmagic", "install", f"torch=={VERSION}", "--variant",
         "cuda12.8", "--yes", "--index-url", server.url("simple/")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert torch_label(venv) == "cuda12.8"


def no_gpu(tmp_path: Path) -> str:
    path = tmp_path / "no-gpu.json"
    path.write_text(json.dumps(NO_GPU))
    return str(path)


@dataclass
class Cell:
    """One cell running in a kernel, read while it runs."""

    kernel: Kernel
    msg_id: str
    stdout: str = ""
    stderr: str = ""
    error: dict[str, object] | None = None
    idle: bool = False
    seen: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def start(k: Kernel, code: str) -> Cell:
    return Cell(k, k.kc.execute(code))


async def read_until(cell: Cell, done: Callable[[Cell], bool], timeout: float = 180) -> None:
    """Read the cell's output until `done(cell)` holds or the cell is idle (then `done` must hold)."""
    deadline = time.monotonic() + timeout
    while not done(cell):
        assert not cell.idle, f"the cell finished without that; it said:\n{cell.text}"
        left = deadline - time.monotonic()
        assert left > 0, f"no such output within {timeout}s; so far:\n{cell.text}"
        msg = await cell.kernel.kc.get_iopub_msg(timeout=left)
        if msg["parent_header"].get("msg_id") != cell.msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            if content["name"] == "stdout":
                cell.stdout += content["text"]
            else:
                cell.stderr += content["text"]
        elif kind == "error":
            cell.error = content
        elif kind == "status" and content["execution_state"] == "idle":
            cell.idle = True


def finished(cell: Cell) -> bool:
    return cell.idle


# -- 11 + 12: two kernels, one environment, two cache directories --------------------------------


def test_second_kernel_waits_then_imports_the_fixed_build_without_reinstalling(
    venv: KernelVenv, index: Server, tmp_path: Path
) -> None:
    install_cuda(venv, index, tmp_path)
    platform = no_gpu(tmp_path)
    url = index.url("simple/")
    env_a = kernel_env(tmp_path / "a", WHEELMAGIC_PLATFORM=platform, WHEELMAGIC_INDEX_URL=url)
    env_b = kernel_env(tmp_path / "b", WHEELMAGIC_PLATFORM=platform, WHEELMAGIC_INDEX_URL=url)
    gate = threading.Event()
    index.faults[NULL_WHEEL] = Fault("gate", gate=gate)
    before = index.count(NULL_WHEEL)

    async def scenario() -> tuple[Cell, Cell]:
        async with (
            running_kernel(venv, env_a, cwd=tmp_path) as ka,
            running_kernel(venv, env_b, cwd=tmp_path) as kb,
        ):
            a = start(ka, IMPORT)
            # A holds the fix: it said so, and its download of the CPU wheel is held open
            await read_until(a, lambda c: "installing the fitting build" in c.stderr)
            b = start(kb, IMPORT)
            await read_until(b, lambda c: "waiting for it" in c.stderr)
            gate.set()
            await read_until(a, finished)
            await read_until(b, finished)
            return a, b

    try:
        a, b = run_async(scenario())
    finally:
        gate.set()
    assert a.error is None and b.error is None, (a.text, b.text)
    assert a.stdout.strip() == "BUILD cpu", a.text
    assert "continuing the import of torch with the new build" in a.stderr, a.text
    # B waited, said so, read what was installed then, and imported that build
    assert "another process" in b.stderr and "before importing torch" in b.stderr, b.text
    assert "installed a fitting torch build while this one waited" in b.stderr, b.text
    assert b.stdout.strip() == "BUILD cpu", b.text
    # ... without installing it again (its own cache directory holds no wheel, no attempt)
    assert "installing the fitting build" not in b.stderr, b.text
    assert index.count(NULL_WHEEL) - before == 1
    assert not list((tmp_path / "b" / "cache").rglob("*.whl"))
    assert torch_label(venv) == "null"


# -- 13: an index that accepts and never answers -------------------------------------------------


@pytest.fixture
def silent_index() -> Iterator[str]:
    """A listening socket that completes TCP handshakes (the kernel's backlog) and never answers."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/simple/"


def test_silent_index_does_not_hold_the_import(
    venv: KernelVenv, index: Server, silent_index: str, tmp_path: Path
) -> None:
    install_cuda(venv, index, tmp_path)
    env = kernel_env(
        tmp_path / "k",
        WHEELMAGIC_PLATFORM=no_gpu(tmp_path),
        WHEELMAGIC_INDEX_URL=silent_index,
        WHEELMAGIC_HOOK_TIMEOUT="2",
    )

    async def scenario() -> Cell:
        async with running_kernel(venv, env, cwd=tmp_path) as k:
            cell = start(k, IMPORT)
            # a generous bound, only so that a hanging import fails the test instead of CI
            await read_until(cell, finished, timeout=60)
            return cell

    cell = run_async(scenario())
    assert cell.error is None, cell.text
    assert cell.stdout.strip() == "BUILD cuda12.8", cell.text  # the installed build, as is
    assert re.search(r"the index did not answer within 2s", cell.stderr), cell.text
    assert "WHEELMAGIC_HOOK_TIMEOUT" in cell.stderr, cell.text
    assert torch_label(venv) == "cuda12.8"
