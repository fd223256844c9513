"""The shipped notebooks, executed for real (nbclient) in a throwaway venv's kernel against a
loopback variant index and a recorded platform snapshot, with their outputs checked.

The notebooks themselves name no test settings: the kernel's environment does
(`WHEELMAGIC_INDEX_URL`, `WHEELMAGIC_PLATFORM`), exactly as a user's environment would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("nbformat")

from kernel.harness import (  # noqa: E402
    KernelVenv,
    WheelIndex,
    kernel_env,
    make_kernel_venv,
    snapshot,
    wheel_index,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"


def execute(path: Path, venv: KernelVenv, env: dict[str, str], cwd: Path) -> Any:
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    km = AsyncKernelManager(
        kernel_name="wm", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(venv.kernels)])
    )
    client = NotebookClient(
        nb, km=km, timeout=180, allow_errors=True, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env=env)
    nbformat.write(nb, cwd / path.name)  # kept with the test's tmp dir, for a look on failure
    errors = [
        (c.source, outputs(c))
        for c in nb.cells
        if c.cell_type == "code" and any(o["output_type"] == "error" for o in c.outputs)
    ]
    assert not errors, (
        "cells failed:\n"
        + "\n\n".join(f">>> {s}\n{o}" for s, o in errors)
        + "\n\nwhole notebook:\n"
        + dump(nb)
    )
    return nb


def dump(nb: Any) -> str:
    return "\n".join(f">>> {c.source}\n{outputs(c)}" for c in nb.cells if c.cell_type == "code")


def outputs(cell: Any) -> str:
    """All text a reader would see for a cell (streams, text/plain and text/html)."""
    parts: list[str] = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("display_data", "execute_result"):
            parts.append(out["data"].get("text/plain", ""))
            parts.append(out["data"].get("text/html", ""))
        elif out["output_type"] == "error":
            parts.append("\n".join(out["traceback"]))
    return "\n".join(parts)


def cell_after(nb: Any, source_start: str, nth: int = 0) -> Any:
    found = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source_start)]
    return found[nth]


def test_notebooks_are_clean() -> None:
    """Committed without outputs, with a generic kernelspec, and every magic one we provide."""
    import nbformat

    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
                for line in cell.source.splitlines():
                    if line.startswith("%"):
                        assert line.split()[0] in (
                            "%load_ext",
                            "%variant_install",
                            "%variant_doctor",
                            "%variant_detect",
                        ), line


def test_quickstart(tmp_path: Path, wheel_index: WheelIndex) -> None:  # noqa: F811
    venv = make_kernel_venv(tmp_path, enabled=False)  # a fresh environment: %load_ext
    env = kernel_env(
        tmp_path,
        WHEELMAGIC_INDEX_URL=wheel_index.url,
        WHEELMAGIC_PLATFORM=str(snapshot("h100-driver580")),
        WHEELMAGIC_RESTART="manual",
    )  # nbclient cannot follow a restart
    nb = execute(NOTEBOOKS / "quickstart.ipynb", venv, env, tmp_path)

    detect = outputs(cell_after(nb, "%variant_detect"))
    assert "NVIDIA driver" in detect and "H100" in detect and "<table" in detect
    dry = outputs(cell_after(nb, "%variant_install torch --dry-run"))
    assert "(dry run)" in dry and "torch 2.14.1 [cuda13.0" in dry
    assert "dry run: nothing was installed" in dry
    install = outputs(cell_after(nb, "%variant_install torch", 1))
    assert "already loaded" not in outputs(cell_after(nb, "%load_ext"))
    assert "wheelmagic-progress" in install and "100%" in install
    assert "no restart needed" in install
    imported = outputs(cell_after(nb, "import torch"))
    assert imported.strip() == "torch 2.14.1+cu130 | built for CUDA 13.0"
    doctor = outputs(cell_after(nb, "%variant_doctor"))
    assert "wheelmagic doctor: fits" in doctor
    # installed into the kernel's interpreter, not into the interpreter running the tests
    assert list(venv.prefix.glob("lib/python*/site-packages/torch/__init__.py"))
    assert not list(Path(sys.prefix).glob("lib/python*/site-packages/torch/version.py"))


def test_autofix(tmp_path: Path, wheel_index: WheelIndex) -> None:  # noqa: F811
    from support.wheels import build_wheel

    venv = make_kernel_venv(tmp_path, enabled=False)
    # a torch built for CUDA 13.0, on a machine whose driver only supports CUDA 12.2
    wrong = build_wheel(tmp_path / "wrong", "torch", "2.14.1", build="cuda13.0")
    subprocess.run(
        [
            venv.python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wrong),
        ],
        check=True,
        timeout=120,
    )
    env = kernel_env(
        tmp_path,
        WHEELMAGIC_INDEX_URL=wheel_index.url,
        WHEELMAGIC_PLATFORM=str(snapshot("t4-driver535")),
        WHEELMAGIC_RESTART="manual",
    )
    nb = execute(NOTEBOOKS / "autofix.ipynb", venv, env, tmp_path)

    before = outputs(cell_after(nb, "%variant_doctor"))
    assert "wheelmagic doctor: broken" in before and "%variant_install torch" in before
    imported = outputs(cell_after(nb, "import torch"))
    assert "wheelmagic:" in imported  # the hook said what it does
    assert "built for CUDA 12.8" in imported, imported
    after = outputs(cell_after(nb, "%variant_doctor", 1))
    assert "wheelmagic doctor: fits" in after
