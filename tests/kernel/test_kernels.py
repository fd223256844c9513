"""The extension in real kernels: restarts really happen (new pid, new session, count back to
1) exactly when an installed distribution was already imported, and the next kernel confirms."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernel.harness import (
    KernelVenv,
    WheelIndex,
    kernel_env,
    run_async,
    running_kernel,
    snapshot,
)

pytestmark = pytest.mark.kernel

PID = {"pid": "__import__('os').getpid()"}


def test_restart_api_restarts_and_next_kernel_confirms(
    kernel_venv: KernelVenv, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_kernel(kernel_venv, kernel_env(tmp_path)) as k:
            first = await k.run("import sys; print(sys.executable)", user_expressions=PID)
            assert first.status == "ok", first
            assert first.stdout.strip() == kernel_venv.python
            assert first.execution_count == 1
            # the startup file loaded the extension
            loaded = await k.run(
                "print('variant_install' in get_ipython().magics_manager.magics['line'])"
            )
            assert loaded.stdout.strip() == "True", loaded.text
            r = await k.run(
                "from wheelmagic.kernel.restart import restart_kernel\n"
                "strategy = restart_kernel('a test asked for it', "
                "packages=['packaging'])\nprint(strategy)"
            )
            assert r.status == "ok", r  # the reply of the restarting cell is delivered
            assert "restarting the kernel (a test asked for it)" in r.stdout
            assert r.stdout.strip().endswith("ipykernel")
            await k.wait_restarted()
            after = await k.run("1", user_expressions=PID)
            assert k.restarts == 1
            assert after.expr("pid") != first.expr("pid")
            assert after.session != first.session
            assert after.execution_count == 1
            # one confirmation line, in the first cell after the restart, and only there
            lines = [ln for ln in after.stdout.splitlines() if ln.startswith("wheelmagic:")]
            assert len(lines) == 1 and lines[0].startswith(
                "wheelmagic: kernel restarted; now installed: packaging "
            ), after.text
            again = await k.run("2")
            assert "kernel restarted" not in again.text

    run_async(scenario())


def test_manual_mode_leaves_the_kernel_alive(kernel_venv: KernelVenv, tmp_path: Path) -> None:
    env = kernel_env(tmp_path, WHEELMAGIC_RESTART="manual")

    async def scenario() -> None:
        async with running_kernel(kernel_venv, env) as k:
            a = await k.run(
                "from wheelmagic.kernel.restart import restart_kernel\nprint(restart_kernel('x'))",
                user_expressions=PID,
            )
            assert "restart needed (x)" in a.stdout and a.stdout.strip().endswith("manual")
            await k.assert_not_restarting(a.expr("pid"))

    run_async(scenario())


def _install_env(tmp_path: Path, index: WheelIndex) -> dict[str, str]:
    return kernel_env(
        tmp_path,
        WHEELMAGIC_INDEX_URL=index.url,
        WHEELMAGIC_PLATFORM=str(snapshot()),
        WHEELMAGIC_ON_MISMATCH="off",
    )


def test_magic_installs_without_restart_when_not_imported(
    kernel_venv: KernelVenv, wheel_index: WheelIndex, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_kernel(kernel_venv, _install_env(tmp_path, wheel_index)) as k:
            before = await k.run("1", user_expressions=PID)
            dry = await k.run("%variant_install torch --dry-run")
            assert dry.status == "ok", dry.text
            assert "(dry run)" in dry.text and "dry run: nothing was installed" in dry.text
            r = await k.run("%variant_install torch --variant null")
            assert r.status == "ok", r.text
            html = "".join(d["data"].get("text/html", "") for d in r.displays)
            assert "wheelmagic-progress" in html  # a live bar in a display...
            assert r.updates, "...updated in place"
            assert all(u.get("transient", {}).get("display_id") for u in r.updates)
            assert "no restart needed" in r.text
            imp = await k.run(
                "import torch, sys; print(torch.__build__, torch.__file__)", user_expressions=PID
            )
            assert imp.status == "ok", imp.text
            build, path = imp.stdout.split()
            assert build == "cpu" and path.startswith(str(kernel_venv.prefix))
            await k.assert_not_restarting(before.expr("pid"))

    run_async(scenario())


def test_magic_restarts_when_torch_was_imported(
    kernel_venv: KernelVenv, wheel_index: WheelIndex, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_kernel(kernel_venv, _install_env(tmp_path, wheel_index)) as k:
            await k.run("%variant_install torch --variant null")
            before = await k.run("import torch; print(torch.__build__)", user_expressions=PID)
            assert before.stdout.strip() == "cpu", before.text
            r = await k.run("%variant_install torch --variant cuda13.0")
            assert "restarting the kernel" in r.text, r.text
            assert r.status == "error" and r.error and r.error["ename"] == "KernelRestarting"
            await k.wait_restarted()
            after = await k.run("import torch; print(torch.__build__)", user_expressions=PID)
            assert after.expr("pid") != before.expr("pid")
            assert after.session != before.session and after.execution_count == 1
            assert "cuda13.0" in after.stdout
            assert "wheelmagic: kernel restarted; now installed: torch" in after.stdout

    run_async(scenario())
