"""`%variant_install` in a real JupyterLab, driven through headless Chromium (Playwright).

A JupyterLab server on loopback runs a kernel from a throwaway venv (so the install lands
there), pointed at the loopback variant index and a recorded H100 platform snapshot through the
server's environment, as a hub's `extraEnv` would. The test opens a notebook, runs its cells
with the keyboard as a user would, and waits for the progress bar and the final status; a
screenshot goes to `tests/browser/artifacts/`.

Skips, with the reason, when Chromium (`/usr/bin/chromium`, or `WHEELMAGIC_CHROMIUM`),
JupyterLab or Playwright is missing. Playwright's own browser download is not used.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel.harness import (
    WheelIndex,
    kernel_env,
    make_kernel_venv,
    snapshot,
    wheel_index,  # noqa: F401  (fixture)
)
from support.server import free_port

pytestmark = [pytest.mark.kernel, pytest.mark.browser]

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM = os.environ.get("WHEELMAGIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
TOKEN = "wheelmagic-browser-test"


def _requirements() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return (
            f"Chromium not found at {CHROMIUM} (apt-get install chromium, or WHEELMAGIC_CHROMIUM)"
        )
    for mod, what in (("jupyterlab", "JupyterLab"), ("playwright.sync_api", "Playwright")):
        try:
            __import__(mod)
        except ImportError:
            return f"{what} is not installed (pip install 'wheelmagic[browser]')"
    return None


def _settings(base: Path) -> Path:
    """User settings with the "official Jupyter news?" toast turned off (a clean screenshot)."""
    d = base / "lab-settings"
    note = d / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return d


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """A JupyterLab server on loopback; yields its base URL once the API answers."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=",
        f"--LabApp.user_settings_dir={_settings(root.parent)}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--MappingKernelManager.default_kernel_name=wm",
        "--ServerApp.allow_root=True",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        "JupyterLab did not start:\n" + log.read_text(errors="replace")[-3000:]
                    ) from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _notebook(path: Path, cells: list[str]) -> None:
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "execution_count": None,
                        "id": f"c{i}",
                        "metadata": {},
                        "outputs": [],
                        "source": src,
                    }
                    for i, src in enumerate(cells)
                ],
                "metadata": {
                    "kernelspec": {
                        "name": "wm",
                        "display_name": "wheelmagic test venv",
                        "language": "python",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )


def test_variant_install_in_jupyterlab(tmp_path: Path, wheel_index: WheelIndex) -> None:  # noqa: F811
    missing = _requirements()
    if missing:
        pytest.skip(missing)
    from playwright.sync_api import expect, sync_playwright

    venv = make_kernel_venv(tmp_path / "k", enabled=False)
    root = tmp_path / "work"
    root.mkdir()
    _notebook(
        root / "demo.ipynb",
        [
            "%load_ext wheelmagic",
            "%variant_install torch",
            "import torch\nprint('torch', torch.__version__)",
        ],
    )
    env = kernel_env(
        tmp_path,
        WHEELMAGIC_INDEX_URL=wheel_index.url,
        WHEELMAGIC_PLATFORM=str(snapshot("h100-driver580")),
        JUPYTER_PATH=str(venv.kernels.parent),  # finds kernels/wm
        JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"),
        JUPYTER_DATA_DIR=str(tmp_path / "jdata"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jrun"),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "variant_install_jupyterlab.png"
    with jupyterlab(root, env, tmp_path / "jupyterlab.log") as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{base}/lab/tree/demo.ipynb?token={TOKEN}", timeout=90_000)
            cells = page.locator(".jp-Notebook .jp-Cell")
            expect(cells).to_have_count(3, timeout=90_000)
            # the kernel from the throwaway venv is up once the status says idle
            expect(page.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
                "data-status", "idle", timeout=90_000
            )
            cells.nth(0).locator(".jp-InputArea-editor").click()
            # one cell at a time: a keypress sent while the notebook still settles can be lost,
            # so each cell's execution count must appear before the next cell is run
            for i in range(3):
                page.keyboard.press("Shift+Enter")
                expect(cells.nth(i).locator(".jp-InputPrompt")).to_contain_text(
                    f"[{i + 1}]", timeout=120_000
                )
            expect(cells.nth(0).locator(".jp-OutputArea")).not_to_contain_text("Error")
            out = cells.nth(1).locator(".jp-OutputArea")
            expect(out).to_contain_text("no restart needed", timeout=120_000)
            expect(out).to_contain_text("will install torch 2.14.1 [cuda13.0]")
            bar = out.locator(".wheelmagic-progress progress")
            expect(bar).to_have_count(1)
            assert bar.get_attribute("value") == bar.get_attribute("max")
            expect(out.locator(".wheelmagic-status")).to_contain_text("installed torch")
            expect(cells.nth(2).locator(".jp-OutputArea")).to_contain_text(
                "torch 2.14.1+cu130", timeout=60_000
            )
            page.wait_for_timeout(300)
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    docs = HERE.parents[1] / "docs" / "img"
    if shot.stat().st_size < 400_000 and os.environ.get("WHEELMAGIC_UPDATE_DOCS_SCREENSHOT"):
        docs.mkdir(exist_ok=True)
        shutil.copy(shot, docs / shot.name)
