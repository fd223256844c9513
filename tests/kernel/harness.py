"""Real Jupyter kernels for the extension's tests (shared with tests/notebooks and tests/browser).

* `kernel_venv`: a throwaway venv per test whose kernels see ipykernel and wheelmagic
  (through a `.pth` that adds the project venv's site-packages *after* its own), so
  `sys.executable` in the kernel is the throwaway python and installs land there, never in
  `.venv`. wheelmagic is enabled in it with the real startup file (`wheelmagic enable
  --prefix`), so every kernel loads the extension the way a user's would.
* `running_kernel(...)`: an `AsyncIOLoopKernelManager` (the manager class with autorestart,
  like jupyter_server's) over a kernelspec for that venv, with a fast restarter poll; the
  restart callback is added *after* `start_kernel` (before that it is dropped).
* `wheel_index`: synthetic torch-like variant wheels behind the loopback index server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.e2e import overlay_venv

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class KernelVenv:
    prefix: Path
    python: str
    kernels: Path  # a kernelspec directory with "wm" in it


def make_kernel_venv(base: Path, *, enabled: bool = True) -> KernelVenv:
    """A fresh venv under `base` (about a second: no pip, the parent's packages via .pth).

    `enabled`: wheelmagic's startup file installed (`wheelmagic enable`), as in an image
    that turns it on for every kernel; otherwise a notebook loads it with `%load_ext`.
    """
    from wheelmagic.commands.enable import enable

    prefix = base / "venv"
    python = overlay_venv(prefix)
    if enabled:
        enable("sys-prefix", prefix=str(prefix))
    kernels = prefix.parent / "kernels"
    spec = kernels / "wm"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "wheelmagic test venv",
                "language": "python",
            }
        )
    )
    check = subprocess.run(
        [python, "-c", "import sys, ipykernel, wheelmagic; print(sys.prefix)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0 and check.stdout.strip() == str(prefix), check.stderr
    return KernelVenv(prefix, python, kernels)


@pytest.fixture
def kernel_venv(tmp_path_factory: pytest.TempPathFactory) -> KernelVenv:
    """One throwaway venv per test: installs by one test never leak into another."""
    return make_kernel_venv(tmp_path_factory.mktemp("kernel-venv"))


def kernel_env(tmp: Path, **extra: str) -> dict[str, str]:
    """An isolated environment for a kernel: own IPYTHONDIR, cache and HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WHEELMAGIC_", "PIP_", "UV_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        {
            "HOME": str(tmp / "home"),
            "IPYTHONDIR": str(tmp / "ipython"),
            "WHEELMAGIC_CACHE_DIR": str(tmp / "cache"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Reply:
    status: str
    execution_count: int | None
    session: str
    user_expressions: dict[str, Any]
    stdout: str = ""
    stderr: str = ""
    displays: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        plain = [d.get("data", {}).get("text/plain", "") for d in self.displays]
        return "\n".join([self.stdout, self.stderr, *plain])

    def expr(self, name: str) -> Any:
        value = self.user_expressions[name]
        assert value["status"] == "ok", value
        return value["data"]["text/plain"]


#: user expressions that tell one kernel process from another, and whether it is shutting down
SAME_KERNEL = {"pid": "__import__('os').getpid()", "exit_now": "get_ipython().exit_now"}


class Kernel:
    """A started kernel: manager, a client that can be renewed, and restart bookkeeping."""

    def __init__(self, km: Any) -> None:
        self.km = km
        self.kc: Any = None
        self.restarts = 0
        self.restarted = asyncio.Event()

    def on_restart(self) -> None:
        self.restarts += 1
        self.restarted.set()

    async def connect(self, timeout: float = 60) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=timeout)

    async def run(
        self, code: str, timeout: float = 120, user_expressions: dict[str, str] | None = None
    ) -> Reply:
        """Execute `code`; collect its stream, display and error output until idle."""
        msg_id = self.kc.execute(code, user_expressions=user_expressions or {})
        out: dict[str, Any] = {
            "stdout": "",
            "stderr": "",
            "displays": [],
            "updates": [],
            "error": None,
        }
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no idle status for {code!r}; got {out}"
            try:
                msg = await self.kc.get_iopub_msg(timeout=left)
            except Exception:  # queue.Empty on timeout, or the kernel went away
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind in ("display_data", "execute_result"):
                out["displays"].append(content)
            elif kind == "update_display_data":
                out["updates"].append(content)
            elif kind == "error":
                out["error"] = content
            elif kind == "status" and content["execution_state"] == "idle":
                break
        reply = await self.kc.get_shell_msg(timeout=max(deadline - time.monotonic(), 1))
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = await self.kc.get_shell_msg(timeout=max(deadline - time.monotonic(), 1))
        c = reply["content"]
        return Reply(
            c["status"],
            c.get("execution_count"),
            reply["header"]["session"],
            c.get("user_expressions", {}),
            raw=reply,
            **out,
        )

    async def assert_not_restarting(self, pid: str, restarts: int = 0) -> Reply:
        """Still the process `pid`, with no restart behind it or on its way; returns the reply.

        wheelmagic restarts a Jupyter kernel only through ipykernel's `do_shutdown`, which sets
        the shell's `exit_now` at once (the process exits ~0.1 s later and the restarter
        relaunches it). So a cell answered by the same pid with `exit_now` unset, while the
        restarter has fired `restarts` times, proves it without waiting to see if one comes.
        """
        r = await self.run("1", user_expressions=SAME_KERNEL)
        assert r.status == "ok", r.text
        assert r.expr("pid") == pid
        assert r.expr("exit_now") == "False", "the kernel was asked to shut down"
        assert self.restarts == restarts
        assert "kernel restarted" not in r.text
        return r

    async def wait_restarted(self, timeout: float = 60) -> None:
        await asyncio.wait_for(self.restarted.wait(), timeout)
        self.restarted.clear()
        # the restarter relaunched the process (maybe on new ports): reconnect
        deadline = time.monotonic() + timeout
        while not await self.km.is_alive():
            assert time.monotonic() < deadline, "kernel did not come back"
            await asyncio.sleep(0.2)
        await self.connect(timeout)


@contextlib.asynccontextmanager
async def running_kernel(
    venv: KernelVenv, env: dict[str, str], cwd: Path | None = None
) -> AsyncIterator[Kernel]:
    from jupyter_client.ioloop import AsyncIOLoopKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from traitlets.config import Config

    cfg = Config({"AsyncIOLoopKernelRestarter": {"time_to_dead": 0.5}})
    km = AsyncIOLoopKernelManager(
        kernel_name="wm",
        config=cfg,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(venv.kernels)]),
    )
    await km.start_kernel(env=env, cwd=str(cwd) if cwd else None)
    kernel = Kernel(km)
    km.add_restart_callback(kernel.on_restart, "restart")  # after start_kernel, or it is dropped
    try:
        await kernel.connect()
        yield kernel
    finally:
        if kernel.kc is not None:
            kernel.kc.stop_channels()
        with contextlib.suppress(Exception):
            await km.shutdown_kernel(now=True)


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


# -- a synthetic torch index ------------------------------------------------------------------


@dataclass
class WheelIndex:
    url: str
    server: Any


@pytest.fixture(scope="session")
def wheel_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WheelIndex]:
    """torch 2.14.1 as `null` (CPU), `cuda12.8` and `cuda13.0` variants, plus a dependency."""
    from support.server import serve_directory
    from support.wheels import LABELS, build_plain_wheel, build_wheel

    from wheelmagic.index.build import build_index

    base = tmp_path_factory.mktemp("wheel-index")
    wheels = base / "wheels"
    # payloads big enough that the progress bar has something to show. Only the `nvidia`
    # namespace: the doctor does not yet know the static `priority` namespace of torch's
    # variants.json, and would judge an installed priority-labelled build broken.
    build_wheel(wheels, "torch", "2.14.1", label="null", payload=3 << 20, properties={})
    for label in ("cuda12.8", "cuda13.0"):
        build_wheel(
            wheels,
            "torch",
            "2.14.1",
            label=label,
            payload=3 << 20,
            properties={"nvidia": LABELS[label]["nvidia"]},
        )
    build_plain_wheel(wheels, "filelock", "3.0")
    www = base / "www"
    build_index(wheels, www, link="copy")
    with serve_directory(www) as srv:
        yield WheelIndex(srv.url("simple/"), srv)


def snapshot(name: str = "h100-driver580") -> Path:
    """A recorded platform snapshot (copies kept here: the kernel tests' own fixtures)."""
    path = Path(__file__).resolve().parent / "data" / f"{name}.snapshot.json"
    assert path.exists(), path
    return path
