"""Real import failures, reproduced with real shared libraries compiled here with gcc.

`torch/_C*.so` is a real CPython extension linked against `libcudnn.so.9`; leaving that library
out makes the dynamic loader fail exactly as a real CUDA build does on a machine without
cuDNN (``ImportError: libcudnn.so.9: cannot open shared object file: No such file or
directory``), and shipping a `libcudnn.so.9` without the symbol gives the real ``undefined
symbol`` error. Each case runs in a fresh ``python`` process with the hook installed and a
fake offline doctor (the real doctor is covered by tests/e2e/test_hook_e2e.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None or sys.platform != "linux", reason="needs gcc on Linux"
)

EXT = sysconfig.get_config_var("EXT_SUFFIX") or ".so"

STUB_C = "int cudnnGetVersion(void) { return 91000; }\n"
EMPTY_C = "int cudnnSomethingElse(void) { return 0; }\n"
EXT_C = r"""
#include <Python.h>
extern int cudnnGetVersion(void);
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_C", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__C(void) {
    PyObject *m = PyModule_Create(&mod);
    if (m) PyModule_AddIntConstant(m, "cudnn", cudnnGetVersion());
    return m;
}
"""
DEPS_C = "extern int cudnnGetVersion(void);\nint global_deps(void) { return cudnnGetVersion(); }\n"


def _gcc(out: Path, src: str, *args: str) -> Path:
    c = out.parent / (out.name.split(".")[0] + "_src.c")
    c.write_text(src)
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O0", "-o", str(out), str(c), *args],
        check=True,
        capture_output=True,
    )
    c.unlink()
    return out


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Compiled once: a cuDNN stub (to link against), an empty cuDNN, the extension, a deps lib."""
    d = tmp_path_factory.mktemp("native")
    stub = d / "stub"
    stub.mkdir()
    _gcc(stub / "libcudnn.so.9", STUB_C, "-Wl,-soname,libcudnn.so.9")
    empty = d / "empty"
    empty.mkdir()
    _gcc(empty / "libcudnn.so.9", EMPTY_C, "-Wl,-soname,libcudnn.so.9")
    link = [f"-L{stub}", "-l:libcudnn.so.9", "-Wl,-rpath,$ORIGIN/lib", "-Wl,--no-as-needed"]
    ext = _gcc(d / f"_C{EXT}", EXT_C, f"-I{sysconfig.get_paths()['include']}", *link)
    deps = _gcc(d / "libtorch_global_deps.so", DEPS_C, *link)
    return {
        "stub": stub / "libcudnn.so.9",
        "empty": empty / "libcudnn.so.9",
        "ext": ext,
        "deps": deps,
    }


def make_site(root: Path, native: dict[str, Path], case: str) -> Path:
    """A site directory with a torch-like package that fails (or not) the way `case` says."""
    pkg = root / "torch"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "version.py").write_text("__version__ = '2.8.0+cu128'\ncuda = '12.8'\n")
    init = "__version__ = '2.8.0+cu128'\n"
    if case in ("extension", "undefined-symbol", "works"):
        shutil.copy(native["ext"], pkg / native["ext"].name)
        init += "from torch._C import cudnn\n"
        if case == "undefined-symbol":
            shutil.copy(native["empty"], pkg / "lib" / "libcudnn.so.9")
        if case == "works":
            shutil.copy(native["stub"], pkg / "lib" / "libcudnn.so.9")
    elif case == "ctypes":
        shutil.copy(native["deps"], pkg / "lib" / "libtorch_global_deps.so")
        init += (
            "import ctypes, os\n"
            "ctypes.CDLL(os.path.join(os.path.dirname(__file__), 'lib', "
            "'libtorch_global_deps.so'), mode=ctypes.RTLD_GLOBAL)\n"
        )
    elif case == "driver-too-old":
        init += (
            "raise RuntimeError('The NVIDIA driver on your system is too old (found version "
            "12080). Please update your GPU driver by downloading and installing a new "
            "version from the URL: http://www.nvidia.com/Download/index.aspx')\n"
        )
    elif case == "torchvision":
        tv = root / "torchvision"
        tv.mkdir()
        (tv / "__init__.py").write_text(
            "import torch\nraise RuntimeError('operator torchvision::nms does not exist')\n"
        )
    (pkg / "__init__.py").write_text(init)
    return root


RUNNER = textwrap.dedent("""
    import json, os, sys
    import wheelmagic.hook as h
    from wheelmagic.app import Checkup
    from wheelmagic.hook.policy import FixOutcome
    from wheelmagic.install.execute import Change
    from wheelmagic.platform.model import Platform
    from wheelmagic.pytorch.diagnose import Diagnosis, Fix

    spec = json.loads(os.environ["FAKE_DIAG"])
    diag = Diagnosis(spec["status"], spec["reasons"], fix=Fix(tuple(spec["fix_requirements"])))
    platform = Platform.from_json({"os": "linux", "arch": "x86_64"})
    def fixer(fix, settings):
        if os.environ.get("FAKE_FIX") == "fail":
            raise OSError("index unreachable")
        return FixOutcome((Change("torch", "2.8.0+cu128", "2.8.0+cpu"),), "installed torch 2.8.0 [cpu]")
    h.install(doctor=lambda: Checkup(platform, {}, diag), fixer=fixer)
    """)


def run(
    site: Path,
    code: str,
    *,
    policy: str = "warn",
    diag: dict[str, object] | None = None,
    fix: str = "ok",
    cache: Path,
) -> subprocess.CompletedProcess[str]:
    runner = site / "_runner.py"
    runner.write_text(RUNNER)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("WHEELMAGIC_") and k not in ("LD_LIBRARY_PATH", "PYTHONPATH")
    }
    env.update(
        PYTHONPATH=str(site),
        WHEELMAGIC_ON_MISMATCH=policy,
        FAKE_FIX=fix,
        WHEELMAGIC_CACHE_DIR=str(cache),
        FAKE_DIAG=json.dumps(
            diag or {"status": "fits", "reasons": [], "fix_requirements": ["torch==2.8.0"]}
        ),
    )
    return subprocess.run(
        [sys.executable, "-c", f"import _runner\n{code}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=site,
    )


def test_extension_loads_when_the_library_is_there(tmp_path: Path, native: dict[str, Path]) -> None:
    site = make_site(tmp_path, native, "works")
    r = run(site, "import torch; print('cudnn', torch.cudnn)", cache=tmp_path / "c")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cudnn 91000" and r.stderr == ""


@pytest.mark.parametrize(
    ("case", "message", "explained"),
    [
        (
            "extension",
            "libcudnn.so.9: cannot open shared object file: No such file or directory",
            "an accelerator library the installed build needs is missing: libcudnn.so.9",
        ),
        (
            "ctypes",
            "libcudnn.so.9: cannot open shared object file: No such file or directory",
            "an accelerator library the installed build needs is missing: libcudnn.so.9",
        ),
        (
            "undefined-symbol",
            "undefined symbol: cudnnGetVersion",
            "a compiled library does not match the one it was built against (undefined symbol "
            "cudnnGetVersion): the builds are mixed",
        ),
        (
            "driver-too-old",
            "The NVIDIA driver on your system is too old (found version 12080)",
            "the build needs a newer CUDA than the NVIDIA driver offers (driver supports CUDA 12.8)",
        ),
    ],
)
def test_real_failure_is_explained_and_reraised(
    tmp_path: Path, native: dict[str, Path], case: str, message: str, explained: str
) -> None:
    site = make_site(tmp_path, native, case)
    r = run(site, "import torch", cache=tmp_path / "c")
    assert r.returncode == 1
    # the original error, with its own traceback, then wheelmagic's note
    assert message in r.stderr
    assert f"wheelmagic: importing torch failed because {explained}" in r.stderr
    assert "to fix it run: wheelmagic install torch==2.8.0" in r.stderr
    assert r.stderr.index(message) < r.stderr.index("wheelmagic: importing torch failed")


@pytest.mark.parametrize("case", ["extension", "ctypes", "undefined-symbol"])
def test_except_importerror_still_works(tmp_path: Path, native: dict[str, Path], case: str) -> None:
    site = make_site(tmp_path, native, case)
    expected = "OSError" if case == "ctypes" else "ImportError"
    r = run(
        site,
        textwrap.dedent("""
        try:
            import torch
        except (ImportError, OSError) as err:
            print("optional:", type(err).__name__, len(getattr(err, "__notes__", [])))
        """),
        cache=tmp_path / "c",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"optional: {expected} 1"


def test_torchvision_for_another_torch(tmp_path: Path, native: dict[str, Path]) -> None:
    site = make_site(tmp_path, native, "torchvision")
    r = run(site, "import torchvision", cache=tmp_path / "c")
    assert r.returncode == 1
    assert "RuntimeError: operator torchvision::nms does not exist" in r.stderr
    assert (
        "wheelmagic: importing torchvision failed because torchvision was built for another "
        "torch than the one installed"
    ) in r.stderr


def test_auto_fixes_then_asks_for_a_restart_once(tmp_path: Path, native: dict[str, Path]) -> None:
    """The doctor saw nothing wrong; the import failed: fix, then ask for a restart."""
    site = make_site(tmp_path, native, "extension")
    diag = {"status": "fits", "reasons": [], "fix_requirements": ["torch==2.8.0"]}
    r = run(site, "import torch", policy="auto", diag=diag, cache=tmp_path / "c")
    assert r.returncode == 1
    assert "installing the fitting build (torch==2.8.0)" in r.stderr
    assert "restart this Python process to use the new build" in r.stderr
    assert "restart this Python process and import torch again" in r.stderr
    assert "libcudnn.so.9: cannot open shared object file" in r.stderr
    # the "fix" did not help: the next process explains instead of fixing again
    r2 = run(site, "import torch", policy="auto", diag=diag, cache=tmp_path / "c")
    assert "installing the fitting build" not in r2.stderr
    assert "not fixing torch automatically again" in r2.stderr
    assert "it installed a build but the problem is still here" in r2.stderr


def test_broken_build_is_fixed_once_not_twice(tmp_path: Path, native: dict[str, Path]) -> None:
    """The doctor says broken *and* the import fails: one mismatch, one fix, in any process."""
    site = make_site(tmp_path, native, "extension")
    diag = {
        "status": "broken",
        "reasons": ["torch 2.8.0+cu128 needs cuDNN 9"],
        "fix_requirements": ["torch==2.8.0"],
    }
    r = run(site, "import torch", policy="auto", diag=diag, cache=tmp_path / "c")
    assert r.returncode == 1
    assert r.stderr.count("installing the fitting build") == 1
    assert "already installed a build in this process" in r.stderr
    r2 = run(site, "import torch", policy="auto", diag=diag, cache=tmp_path / "c")
    assert "installing the fitting build" not in r2.stderr
    assert "not fixing torch automatically again" in r2.stderr


def test_failed_fix_explains_and_is_not_retried(tmp_path: Path, native: dict[str, Path]) -> None:
    site = make_site(tmp_path, native, "extension")
    diag = {"status": "fits", "reasons": [], "fix_requirements": ["torch==2.8.0"]}
    for attempt in range(2):
        r = run(site, "import torch", policy="auto", diag=diag, fix="fail", cache=tmp_path / "c")
        assert r.returncode == 1
        assert "libcudnn.so.9: cannot open shared object file" in r.stderr
        if attempt == 0:
            assert "the fix failed; the installed build was left in place" in r.stderr
            assert "OSError: index unreachable" in r.stderr
        else:
            assert "not fixing torch automatically again" in r.stderr
            assert "it failed: OSError: index unreachable" in r.stderr
