"""Issue 11 item 2 in a notebook: `%variant_install` into a kernel whose site-packages is
read-only says so in the cell (no traceback) and the old build still imports. A real kernel run
by nbclient, a real loopback index, a real read-only site-packages (`support.readonly`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("nbclient")

from support.e2e import snapshot  # noqa: E402
from support.readonly import read_only  # noqa: E402
from support.server import serve_directory  # noqa: E402
from support.wheels import build_wheel  # noqa: E402

from kernel.harness import kernel_env, make_kernel_venv  # noqa: E402
from wheelmagic.index.build import build_index  # noqa: E402

pytestmark = pytest.mark.kernel


def text(cell: Any) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
        parts.extend(out.get("traceback", []))
    return "\n".join(parts)


def test_read_only_site_packages_in_a_kernel(tmp_path: Path) -> None:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    venv = make_kernel_venv(tmp_path, enabled=False)
    wheels = tmp_path / "wheels"
    build_wheel(wheels, version="2.14.1", label="null")
    build_wheel(wheels, version="2.15.0", label="null")
    build_index(wheels, tmp_path / "www")
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text("c.Wheelmagic.raise_on_error = False\n")
    python = venv.python
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    platform = str(snapshot("cpu"))
    with serve_directory(tmp_path / "www") as srv:
        env = kernel_env(tmp_path, PIP_CONFIG_FILE="/dev/null")
        ran = subprocess.run(
            [sys.executable, "-m", "wheelmagic", "install", "torch==2.14.1", "--yes"]
            + ["--index-url", srv.url("simple/"), "--platform", platform, "--python", python],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell("%load_ext wheelmagic"),
            nbformat.v4.new_code_cell(
                f"%variant_install torch==2.15.0 --index-url {srv.url('simple/')} "
                f"--platform {platform}"
            ),
            nbformat.v4.new_code_cell("import torch; print('imported', torch.__version__)"),
        ]
        km = AsyncKernelManager(
            kernel_name="wm", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(venv.kernels)])
        )
        with read_only(site) as how:
            NotebookClient(nb, km=km, timeout=180).execute(env=env)
    shown = text(nb.cells[1])
    assert "site-packages is read-only (" in shown, f"{how}\n{shown}"
    assert "install into a writable environment or pass --python" in shown
    assert "Traceback" not in shown
    assert "imported 2.14.1+cpu" in text(nb.cells[2])
    assert not (venv.prefix / ".wheelmagic-backup").exists()
