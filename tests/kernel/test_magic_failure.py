"""A failed `%variant_install` stops Run All / nbconvert / papermill: its cell ends with an
error (the message unchanged, no traceback), unless `c.Wheelmagic.raise_on_error = False`
(issue 13 item 9). Real kernels through nbclient, as nbconvert runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("nbclient")

from support.server import serve_directory  # noqa: E402

from kernel.harness import kernel_env, make_kernel_venv  # noqa: E402

pytestmark = pytest.mark.kernel


def run_notebook(tmp_path: Path, config: str | None) -> tuple[Any, BaseException | None]:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    venv = make_kernel_venv(tmp_path, enabled=False)
    (tmp_path / "www" / "simple").mkdir(parents=True)
    if config is not None:
        profile = tmp_path / "ipython" / "profile_default"
        profile.mkdir(parents=True)
        (profile / "ipython_kernel_config.py").write_text(config)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext wheelmagic"),
        nbformat.v4.new_code_cell("%variant_install nosuchpkg --torch-backend none"),
        nbformat.v4.new_code_cell("print('the next cell ran')"),
    ]
    with serve_directory(tmp_path / "www") as srv:
        env = kernel_env(
            tmp_path, WHEELMAGIC_INDEX_URL=srv.url("simple/"), PIP_CONFIG_FILE="/dev/null"
        )
        km = AsyncKernelManager(
            kernel_name="wm", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(venv.kernels)])
        )
        client = NotebookClient(nb, km=km, timeout=180)
        try:
            client.execute(env=env)
            return nb, None
        except Exception as err:  # nbclient's CellExecutionError
            return nb, err


def text(cell: Any) -> str:
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
        parts.extend(out.get("traceback", []))
    return "\n".join(parts)


def test_a_failed_install_stops_the_run(tmp_path: Path) -> None:
    nb, err = run_notebook(tmp_path, None)
    assert err is not None and type(err).__name__ == "CellExecutionError"
    failed = nb.cells[1]
    shown = text(failed)
    assert "wheelmagic: error: nosuchpkg is not on" in shown, shown
    assert "Traceback" not in shown and shown.count("wheelmagic: error:") == 1
    (error,) = [o for o in failed.outputs if o["output_type"] == "error"]
    assert error["ename"] == "VariantInstallFailed" and error["traceback"] == []
    assert nb.cells[2].outputs == []  # Run All stopped


def test_raise_on_error_false_goes_on_like_pip(tmp_path: Path) -> None:
    nb, err = run_notebook(tmp_path, "c.Wheelmagic.raise_on_error = False\n")
    assert err is None
    assert "wheelmagic: error: nosuchpkg is not on" in text(nb.cells[1])
    assert "the next cell ran" in text(nb.cells[2])
