"""The quick start in a stock Python 3.11 venv asks for no restart (issue 13, item 3).

`python3.11 -m venv` brings setuptools 65.5, whose distutils-precedence.pth imports
`_distutils_hack` at every start; torch depends on a newer setuptools, so the first
`%variant_install torch` upgrades it. Run notebooks/quickstart.ipynb with nbclient in such a
venv, against a loopback index whose torch requires setuptools>=70, and check that the install
cell says "no restart needed" and nothing asks for one.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("nbclient")

from kernel.harness import KernelVenv, kernel_env, snapshot  # noqa: E402
from notebooks.test_notebooks import NOTEBOOKS, cell_after, execute, outputs  # noqa: E402
from support.server import serve_directory  # noqa: E402
from support.wheels import LABELS, build_wheel, write_wheel  # noqa: E402

from wheelmagic.index.build import build_index  # noqa: E402

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="3.11's venv brings setuptools"),
]

PTH = (
    "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; "
    "enabled = os.environ.get(var, 'local') == 'local'; "
    "enabled and __import__('_distutils_hack').add_shim(); \n"
)


def setuptools_wheel(out: Path, version: str) -> Path:
    """A setuptools with the same start-up hook and top-level modules as the real one."""
    di = f"setuptools-{version}.dist-info"
    files = {
        "distutils-precedence.pth": PTH.encode(),
        "_distutils_hack/__init__.py": b"def add_shim():\n    pass\n",
        "setuptools/__init__.py": f"__version__ = {version!r}\n".encode(),
        "pkg_resources/__init__.py": b"",
        f"{di}/METADATA": f"Metadata-Version: 2.1\nName: setuptools\nVersion: {version}\n".encode(),
        f"{di}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{di}/top_level.txt": b"_distutils_hack\npkg_resources\nsetuptools\n",
    }
    return write_wheel(out / f"setuptools-{version}-py3-none-any.whl", files, record_dir=di)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[str]:
    wheels = tmp_path / "wheels"
    for label in ("null", "cuda13.0"):
        build_wheel(
            wheels,
            "torch",
            "2.14.1",
            label=label,
            properties={k: v for k, v in LABELS[label].items() if k == "nvidia"},
            requires=["setuptools>=70"],
        )
    setuptools_wheel(wheels, "80.9.0")
    build_index(wheels, tmp_path / "www", link="copy")
    with serve_directory(tmp_path / "www") as srv:
        yield srv.url("simple/")


def stock_kernel_venv(base: Path) -> KernelVenv:
    """`python -m venv` as a user makes it (pip and setuptools from ensurepip), with the test
    run's ipykernel and wheelmagic reachable through a .pth after the venv's own packages."""
    prefix = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True, timeout=300)
    python = str(prefix / "bin" / "python")
    site = next(prefix.glob("lib/python*/site-packages"))
    parent = sysconfig.get_paths()["purelib"]
    (site / "zz_wheelmagic_tests_parent.pth").write_text(
        f"import site; site.addsitedir({parent!r})\n"
    )
    spec = base / "kernels" / "wm"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "stock venv",
                "language": "python",
            }
        )
    )
    probe = subprocess.run(
        [
            python,
            "-c",
            "import sys, setuptools; print(setuptools.__file__, '_distutils_hack' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.stdout.split()[1:] == ["True"] and str(prefix) in probe.stdout, probe
    return KernelVenv(prefix, python, base / "kernels")


def test_quickstart_in_a_stock_venv_asks_for_no_restart(tmp_path: Path, index: str) -> None:
    venv = stock_kernel_venv(tmp_path)
    env = kernel_env(
        tmp_path,
        WHEELMAGIC_INDEX_URL=index,
        WHEELMAGIC_PLATFORM=str(snapshot("h100-driver580")),
        WHEELMAGIC_RESTART="manual",
        PIP_CONFIG_FILE="/dev/null",
    )
    nb = execute(NOTEBOOKS / "quickstart.ipynb", venv, env, tmp_path)
    install = outputs(cell_after(nb, "%variant_install torch", 1))
    assert "no restart needed" in install, install
    everything = "\n".join(outputs(c) for c in nb.cells if c.cell_type == "code")
    assert "restart" not in everything.replace("no restart needed", ""), everything
    # setuptools really was upgraded in the kernel's venv
    assert list(venv.prefix.glob("lib/python*/site-packages/setuptools-80.9.0.dist-info"))
