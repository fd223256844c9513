"""The import hook in real Jupyter kernels (issue 6's acceptance).

Each case gets a throwaway venv (`kernel.harness.make_kernel_venv`, wheelmagic *not* enabled at
start-up: the test loads it with ``%load_ext wheelmagic`` like a notebook would), a synthetic
torch-like build installed in it with ``wheelmagic install`` (tests/support/wheels.py), and one
kernel through jupyter_client's `AsyncIOLoopKernelManager` (autorestart on, fast poll) whose
environment sets ``WHEELMAGIC_PLATFORM`` (a no-GPU snapshot or the recorded H100),
``WHEELMAGIC_INDEX_URL`` (a loopback index shared by the module, or an unreachable one) and
``WHEELMAGIC_ON_MISMATCH``. Then a cell does ``import torch``.

What is asserted is what really happened: the kernel's pid before and after (and the
restarter's callback count), the cell's outputs, the torch dist-info left in the venv's
site-packages, the attempts record in the kernel's cache directory, and the requests the index
server saw.

Cases: a CUDA build without a GPU is fixed in the same kernel (no restart); policy `fix`
replaces a CPU build on the H100; `warn` and `off` install nothing; a fix that cannot be made
(an index with only a broken build, an unreachable index) is explained on the original
ImportError, with no restart and no second try; a fix that installs a broken build, and a
reinstall that does not help, never loop (the latter restarts exactly once).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.server import Server, serve_directory
from support.wheels import build_wheel

from kernel.harness import (
    Kernel,
    KernelVenv,
    Reply,
    kernel_env,
    make_kernel_venv,
    run_async,
    running_kernel,
)
from wheelmagic.attempts import Attempt, Attempts

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
H100 = ROOT / "tests" / "data" / "platforms" / "nvidia-h100-driver580.snapshot.json"
NO_GPU = {"os": "linux", "arch": "x86_64", "cpu": {"x86_64_level": 3}}
VERSION = "2.9.0"
DEAD_INDEX = "http://127.0.0.1:9/simple/"  # discard port: connection refused at once
PID = {"pid": "__import__('os').getpid()"}
IMPORT = "import torch; print('BUILD', torch.__build__)"
MISSING_LIB = "libcudart.so.13: cannot open shared object file"


# -- module-wide indexes -------------------------------------------------------------------------


def _publish(wheels: Path, out: Path) -> None:
    from wheelmagic.index.build import build_index

    build_index(wheels, out, link="copy")


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """torch 2.9.0 as the CPU (`null`), `cuda12.8` and `cuda13.0` variants."""
    d = tmp_path_factory.mktemp("hook-index")
    for label in ("null", "cuda12.8", "cuda13.0"):
        build_wheel(d / "wheels", "torch", VERSION, label=label)
    _publish(d / "wheels", d / "www")
    with serve_directory(d / "www") as srv:
        yield srv


@pytest.fixture(scope="module")
def broken_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Only a cuda13.0 build, whose import fails like one missing the CUDA runtime library."""
    d = tmp_path_factory.mktemp("hook-broken-index")
    build_wheel(d / "wheels", "torch", VERSION, label="cuda13.0", broken=True)
    _publish(d / "wheels", d / "www")
    with serve_directory(d / "www") as srv:
        yield srv


@pytest.fixture
def venv(tmp_path_factory: pytest.TempPathFactory) -> KernelVenv:
    """A throwaway kernel venv without the start-up file: the cell loads the extension."""
    return make_kernel_venv(tmp_path_factory.mktemp("hook-kernel-venv"), enabled=False)


# -- helpers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """The torch dist-info in the venv's site-packages, read from the files."""

    dist_info: str
    label: str  # the variant label in variant.json
    version: str  # torch/version.py's __version__
    record: str  # RECORD: changes when anything is reinstalled

    @property
    def build(self) -> str:
        """What `torch.__build__` reports for this label (the synthetic wheels' rule)."""
        return "cpu" if self.label == "null" else self.label


def site_packages(venv: KernelVenv) -> Path:
    (site,) = venv.prefix.glob("lib/python3*/site-packages")
    return site


def installed_torch(venv: KernelVenv) -> Installed:
    site = site_packages(venv)
    infos = sorted(site.glob("torch-*.dist-info"))
    assert len(infos) == 1, [p.name for p in infos]
    info = infos[0]
    (label,) = json.loads((info / "variant.json").read_text())["variants"]
    m = re.search(r"__version__ = '([^']+)'", (site / "torch" / "version.py").read_text())
    assert m is not None
    return Installed(info.name, label, m.group(1), (info / "RECORD").read_text())


def install(venv: KernelVenv, label: str, server: Server, tmp_path: Path) -> Installed:
    """Put a build in the venv the way a user would: `wheelmagic install` (as on the H100)."""
    env = kernel_env(tmp_path / "setup", WHEELMAGIC_PLATFORM=str(H100))
    r = subprocess.run(
        [
            venv.python,
            "-m",
            "wheelmagic",
            "install",
            f"torch=={VERSION}",
            "--variant",
            label,
            "--yes",
            "--index-url",
            server.url("simple/"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    got = installed_torch(venv)
    assert got.label == label, got
    return got


def no_gpu_snapshot(tmp_path: Path) -> str:
    path = tmp_path / "no-gpu.json"
    path.write_text(json.dumps(NO_GPU))
    return str(path)


def env_for(
    tmp_path: Path, *, platform: str, index_url: str, policy: str | None = None
) -> dict[str, str]:
    extra = {"WHEELMAGIC_PLATFORM": platform, "WHEELMAGIC_INDEX_URL": index_url}
    if policy is not None:
        extra["WHEELMAGIC_ON_MISMATCH"] = policy
    return kernel_env(tmp_path, **extra)


def attempts(tmp_path: Path) -> list[Attempt]:
    """The attempts record the kernel wrote (`kernel_env` points its cache at tmp/cache)."""
    return Attempts(tmp_path / "cache").all()


def wm_lines(reply: Reply) -> list[str]:
    return [ln for ln in reply.text.splitlines() if "wheelmagic" in ln]


async def load_extension(k: Kernel) -> Reply:
    """`%load_ext wheelmagic` in a kernel that did not load it at start-up; returns the reply."""
    before = await k.run(
        "import sys; print(any(getattr(f, '_wheelmagic_hook', False) "
        "for f in sys.meta_path), 'torch' in sys.modules)"
    )
    assert before.stdout.split() == ["False", "False"], before.text
    r = await k.run(
        "%load_ext wheelmagic\nimport sys; print(type(sys.meta_path[0]).__module__)",
        user_expressions=PID,
    )
    assert r.status == "ok", r.text
    assert r.stdout.strip() == "wheelmagic.hook.finder" and r.stderr == "", r.text
    return r


async def assert_same_kernel(k: Kernel, pid: str) -> None:
    """Still the kernel we started, and no restart on its way (`Kernel.assert_not_restarting`)."""
    await k.assert_not_restarting(pid)


# -- 1. a CUDA build on a machine without a GPU: fixed in the same kernel -------------------------


def test_cuda_build_without_gpu_is_fixed_in_the_same_kernel(
    venv: KernelVenv, index: Server, tmp_path: Path
) -> None:
    install(venv, "cuda12.8", index, tmp_path)
    env = env_for(tmp_path, platform=no_gpu_snapshot(tmp_path), index_url=index.url("simple/"))

    async def scenario() -> None:
        async with running_kernel(venv, env, cwd=tmp_path) as k:
            loaded = await load_extension(k)
            pid = loaded.expr("pid")
            r = await k.run(IMPORT + "; print(torch.__file__)", user_expressions=PID)
            assert r.status == "ok", r.text
            build, path = r.stdout.split()[1:]
            assert build == "cpu", r.text
            assert path.startswith(str(site_packages(venv))), path
            assert r.expr("pid") == pid
            assert "installing the fitting build" in r.stderr, r.text
            assert "continuing the import of torch with the new build" in r.stderr, r.text
            assert "restart" not in r.text.lower(), r.text
            assert installed_torch(venv).label == "null"
            await assert_same_kernel(k, pid)
            again = await k.run("import torch; print(torch.__build__)")
            assert again.stdout.strip() == "cpu" and wm_lines(again) == [], again.text

    run_async(scenario())
    (only,) = attempts(tmp_path)
    assert only.outcome == "fixed", only


# -- 2. policy `fix`: a CPU build on the H100 gets the CUDA build --------------------------------


def test_fix_policy_replaces_a_cpu_build_on_the_h100(
    venv: KernelVenv, index: Server, tmp_path: Path
) -> None:
    install(venv, "null", index, tmp_path)
    env = env_for(tmp_path, platform=str(H100), index_url=index.url("simple/"), policy="fix")

    async def scenario() -> None:
        async with running_kernel(venv, env, cwd=tmp_path) as k:
            pid = (await load_extension(k)).expr("pid")
            r = await k.run(IMPORT, user_expressions=PID)
            assert r.status == "ok", r.text
            after = installed_torch(venv)
            assert after.label.startswith("cuda"), after
            assert r.stdout.strip() == f"BUILD {after.build}", r.text
            assert "policy 'fix' from environment WHEELMAGIC_ON_MISMATCH" in r.stderr, r.text
            assert "continuing the import of torch with the new build" in r.stderr, r.text
            assert r.expr("pid") == pid
            await assert_same_kernel(k, pid)

    run_async(scenario())


# -- 3. policies `warn` and `off`: nothing installed ---------------------------------------------


@pytest.mark.parametrize("policy", ["warn", "off"])
def test_warn_and_off_install_nothing(
    venv: KernelVenv, index: Server, tmp_path: Path, policy: str
) -> None:
    before = install(venv, "cuda12.8", index, tmp_path)
    env = env_for(
        tmp_path, platform=no_gpu_snapshot(tmp_path), index_url=index.url("simple/"), policy=policy
    )
    requests_before = len(index.requests)

    async def scenario() -> None:
        async with running_kernel(venv, env, cwd=tmp_path) as k:
            pid = (await load_extension(k)).expr("pid")
            r = await k.run(IMPORT, user_expressions=PID)
            assert r.status == "ok", r.text
            assert r.stdout.strip() == "BUILD cuda12.8", r.text
            assert r.expr("pid") == pid
            if policy == "off":
                assert wm_lines(r) == [] and r.stderr == "", r.text
            else:
                naming = [ln for ln in r.text.splitlines() if "%variant_install" in ln]
                assert len(naming) == 1, r.text
                assert "%variant_install torch" in naming[0], naming
                assert "does not work on this machine" in r.stderr, r.text
                assert "installing" not in r.text, r.text
            await assert_same_kernel(k, pid)

    run_async(scenario())
    assert installed_torch(venv) == before  # same dist-info, same RECORD: nothing reinstalled
    assert len(index.requests) == requests_before  # the index was not even asked
    assert attempts(tmp_path) == []


# -- 4. a fix that fails: explained, no restart, never tried twice -------------------------------


@pytest.mark.parametrize("case", ["broken-only-index", "unreachable-index"])
def test_failed_fix_explains_and_does_not_loop(
    venv: KernelVenv, broken_index: Server, tmp_path: Path, case: str
) -> None:
    """A broken cuda13.0 build is installed; `import torch` fails with a missing libcudart.

    * broken-only-index: on a machine without a GPU the doctor wants the CPU build, and the
      only index has nothing but that same broken CUDA build: the fix cannot be made.
    * unreachable-index: on the H100 the build fits on paper, so the failed import itself is
      repaired (reinstall the same build), from an index that refuses connections.
    """
    before = install(venv, "cuda13.0", broken_index, tmp_path)
    if case == "broken-only-index":
        env = env_for(
            tmp_path, platform=no_gpu_snapshot(tmp_path), index_url=broken_index.url("simple/")
        )
    else:
        env = env_for(tmp_path, platform=str(H100), index_url=DEAD_INDEX)

    async def scenario() -> None:
        async with running_kernel(venv, env, cwd=tmp_path) as k:
            pid = (await load_extension(k)).expr("pid")
            served = len(broken_index.requests)
            first = await k.run("import torch")
            assert first.status == "error" and first.error is not None, first.text
            # the original error, unchanged in type and message
            assert first.error["ename"] == "ImportError", first.error
            assert MISSING_LIB in first.error["evalue"], first.error
            shown = first.text + "\n".join(first.error["traceback"])
            # ... plus wheelmagic's explanation, attached to it
            assert "wheelmagic: importing torch failed because an accelerator library" in shown
            assert (
                "the build was not changed; to fix it by hand run: %variant_install torch" in shown
            ), shown
            notes = await k.run(
                "import sys; print(repr(getattr(sys.last_value, '__notes__', None)))"
            )
            assert "importing torch failed because" in notes.stdout, notes.text
            if case == "broken-only-index":
                assert "the fix failed; the installed build was left in place" in first.stderr
                # one report per import: the failed import does not add "not fixing again"
                assert "not fixing torch automatically again" not in first.stderr
                assert len(broken_index.requests) > served  # it did ask the index
            else:
                assert "installing the fitting build (torch==2.9.0)" in shown, shown
            assert installed_torch(venv) == before
            (attempt,) = attempts(tmp_path)
            assert attempt.outcome == "failed" and attempt.count == 1, attempt
            await assert_same_kernel(k, pid)

            # the second import: the same error, the same explanation, no second try
            served = len(broken_index.requests)
            second = await k.run("import torch")
            assert second.status == "error" and second.error is not None, second.text
            assert MISSING_LIB in second.error["evalue"], second.error
            shown = second.text + "\n".join(second.error["traceback"])
            assert "installing the fitting build" not in shown, shown
            assert "not fixing torch automatically again: the same fix was tried at" in shown
            assert "it failed" in shown, shown
            assert len(broken_index.requests) == served  # no request: nothing tried
            assert attempts(tmp_path) == [attempt]  # same record: same time, count 1
            await assert_same_kernel(k, pid)

    run_async(scenario())
    assert installed_torch(venv) == before


def test_fix_that_installs_a_broken_build_does_not_loop(
    venv: KernelVenv, index: Server, broken_index: Server, tmp_path: Path
) -> None:
    """Policy `fix`, a CPU build on the H100, and the index's CUDA build is broken: the fix
    installs it, its import fails in the same kernel; no restart, no second fix."""
    install(venv, "null", index, tmp_path)
    env = env_for(tmp_path, platform=str(H100), index_url=broken_index.url("simple/"), policy="fix")

    async def scenario() -> None:
        async with running_kernel(venv, env, cwd=tmp_path) as k:
            pid = (await load_extension(k)).expr("pid")
            first = await k.run("import torch")
            assert first.status == "error" and first.error is not None, first.text
            assert first.error["ename"] == "ImportError", first.error
            assert MISSING_LIB in first.error["evalue"], first.error
            shown = first.text + "\n".join(first.error["traceback"])
            assert "installing the fitting build" in shown, shown
            assert installed_torch(venv).label == "cuda13.0"  # the fix did install it
            assert "wheelmagic: importing torch failed because an accelerator library" in shown
            assert "wheelmagic already installed a build in this process" in shown, shown
            (attempt,) = attempts(tmp_path)
            assert attempt.outcome == "fixed", attempt
            await assert_same_kernel(k, pid)
            record = installed_torch(venv)

            served = len(broken_index.requests)
            second = await k.run("import torch")
            assert second.status == "error" and second.error is not None, second.text
            assert MISSING_LIB in second.error["evalue"], second.error
            shown = second.text + "\n".join(second.error["traceback"])
            assert "installing the fitting build" not in shown, shown
            assert len(broken_index.requests) == served
            assert installed_torch(venv) == record
            assert attempts(tmp_path) == [attempt]
            await assert_same_kernel(k, pid)

    run_async(scenario())


def test_reinstall_that_does_not_help_restarts_once_then_stops(
    venv: KernelVenv, broken_index: Server, tmp_path: Path
) -> None:
    """The failed import's own repair *succeeds* (the same broken build is reinstalled) and the
    kernel restarts to load it -- once. The next kernel's import fails the same way, and the
    attempts record stops a second reinstall and a second restart: no loop."""
    install(venv, "cuda13.0", broken_index, tmp_path)
    env = env_for(tmp_path, platform=str(H100), index_url=broken_index.url("simple/"))

    async def scenario() -> None:
        async with running_kernel(venv, env, cwd=tmp_path) as k:
            pid = (await load_extension(k)).expr("pid")
            first = await k.run("import torch")
            assert first.status == "error" and first.error is not None, first.text
            assert MISSING_LIB in first.error["evalue"], first.error
            shown = first.text + "\n".join(first.error["traceback"])
            assert "installing the fitting build (torch==2.9.0)" in shown, shown
            assert "the kernel is restarting to load it" in shown, shown
            reinstalled = installed_torch(venv)
            assert reinstalled.label == "cuda13.0"  # the same broken build, reinstalled
            await k.wait_restarted()
            assert k.restarts == 1
            loaded = await k.run("%load_ext wheelmagic", user_expressions=PID)
            new_pid = loaded.expr("pid")
            assert new_pid != pid and loaded.execution_count == 1
            (attempt,) = attempts(tmp_path)
            assert attempt.outcome == "fixed", attempt

            served = len(broken_index.requests)
            second = await k.run("import torch")
            assert second.status == "error" and second.error is not None, second.text
            assert MISSING_LIB in second.error["evalue"], second.error
            shown = second.text + "\n".join(second.error["traceback"])
            assert "installing the fitting build" not in shown, shown
            assert "not fixing torch automatically again" in shown, shown
            assert "it installed a build but the problem is still here" in shown, shown
            assert "restarting" not in shown, shown
            assert len(broken_index.requests) == served
            assert attempts(tmp_path) == [attempt]
            await k.assert_not_restarting(new_pid, restarts=1)

    run_async(scenario())
