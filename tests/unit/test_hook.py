"""The import hook in-process, with fake doctors and fixers and throwaway `torch` packages.

The doctor and the fixer are seams (`install(doctor=..., fixer=...)`): here they are fakes, so
these tests pin the hook's own behaviour -- finder protocol, probe vs real import, policies,
continuing with a replaced build, error notes, the no-loop record. The real doctor and the
real install are exercised by tests/e2e/test_hook_e2e.py.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import inspect
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wheelmagic import hook as wm_hook
from wheelmagic.app import Checkup
from wheelmagic.attempts import Attempts
from wheelmagic.hook import WATCHED, HookFinder, RestartRequired
from wheelmagic.hook.causes import classify_error
from wheelmagic.hook.policy import FixOutcome
from wheelmagic.install.execute import Change
from wheelmagic.platform.model import Platform
from wheelmagic.pytorch.diagnose import Diagnosis, Fix

NAMES = ("torch", "torchvision", "torchaudio", "_wm_events")


def Diag(  # noqa: N802 - reads like the value it makes
    status: str = "fits",
    reasons: list[str] | None = None,
    fix_requirements: list[str] | None = None,
) -> Diagnosis:
    """A real `Diagnosis` (the doctor's output type) with a fix."""
    reqs = ["torch==2.8.0"] if fix_requirements is None else fix_requirements
    return Diagnosis(status, list(reasons or []), fix=Fix(tuple(reqs)))  # type: ignore[arg-type]


def outcome(names: list[str], summary: str) -> FixOutcome:
    """What a fix that changed `names` reports."""
    return FixOutcome(tuple(Change(n, "2.8.0+cu128", "2.8.0+cpu") for n in names), summary)


PLATFORM = Platform.from_json({"os": "linux", "arch": "x86_64"})


class Recorder:
    """A fake doctor and fixer that log their calls into the synthetic packages' event list."""

    def __init__(self, diag: Diag | None, fix: Any = None) -> None:
        self.diag = diag
        self.fix = fix
        self.doctor_calls = 0
        self.fix_calls = 0

    def doctor(self) -> Checkup | None:
        self.doctor_calls += 1
        _events().append("doctor")
        return Checkup(PLATFORM, {}, self.diag) if self.diag is not None else None

    def fixer(self, fix: Fix, settings: Any) -> FixOutcome:
        self.fix_calls += 1
        _events().append("fix")
        if callable(self.fix):
            result = self.fix()
            return result if isinstance(result, FixOutcome) else outcome(["torch"], "fixed")
        return outcome(["torch"], "installed torch 2.8.0 [cpu]")


def _events() -> list[Any]:
    return sys.modules["_wm_events"].log  # type: ignore[no-any-return]


def make_torch(root: Path, body: str = "", version: str = "2.8.0", name: str = "torch") -> Path:
    pkg = root / name
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text(
        "import _wm_events\n"
        f"_wm_events.log.append(({name!r}, __file__))\n"
        f"__version__ = {version!r}\n" + textwrap.dedent(body)
    )
    (pkg / "sub.py").write_text(f"where = {str(root)!r}\n")
    return pkg


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A fresh directory on sys.path; everything the test imported or hooked is undone after."""
    saved_meta, saved_path = list(sys.meta_path), list(sys.path)
    root = tmp_path / "site"
    root.mkdir()
    (root / "_wm_events.py").write_text("log = []\n")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    import _wm_events  # noqa: F401

    try:
        yield root
    finally:
        sys.meta_path[:] = saved_meta
        sys.path[:] = saved_path
        for mod in list(sys.modules):
            if mod.partition(".")[0] in NAMES:
                del sys.modules[mod]
        importlib.invalidate_caches()


def test_find_spec_returns_at_once_for_other_names() -> None:
    """The first statement of `find_spec` is the membership test (the cost of every import)."""
    func = ast.parse(textwrap.dedent(inspect.getsource(HookFinder.find_spec))).body[0]
    assert isinstance(func, ast.FunctionDef)
    first = func.body[0]
    assert isinstance(first, ast.If)
    assert ast.unparse(first.test) == "fullname not in WATCHED"
    assert ast.unparse(first.body[0]) == "return None"
    assert isinstance(WATCHED, frozenset) and {"torch", "torchvision", "torchaudio"} <= WATCHED
    rec = Recorder(Diag())
    finder = HookFinder(doctor=rec.doctor, fixer=rec.fixer)
    for name in ("json", "numpy", "torch.nn", "mytorch", "torch_geometric"):
        assert finder.find_spec(name) is None
    assert rec.doctor_calls == 0


def test_install_is_idempotent_and_first(site: Path) -> None:
    a = wm_hook.install()
    sys.meta_path.insert(0, importlib.machinery.PathFinder)  # type: ignore[arg-type]
    b = wm_hook.install()
    assert a is b and sys.meta_path[0] is a
    assert sum(1 for f in sys.meta_path if getattr(f, "_wheelmagic_hook", False)) == 1
    assert wm_hook.uninstall() is True
    assert wm_hook.installed_hook() is None
    assert wm_hook.uninstall() is False


def test_probe_keeps_the_real_spec_and_runs_nothing(site: Path) -> None:
    pkg = make_torch(site)
    plain = importlib.util.find_spec("torch")
    rec = Recorder(Diag("broken"))
    wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    spec = importlib.util.find_spec("torch")
    assert spec is not None and plain is not None
    assert spec.origin == plain.origin == str(pkg / "__init__.py")
    assert spec.submodule_search_locations == [str(pkg)]
    assert rec.doctor_calls == 0 and "torch" not in sys.modules and _events() == []


def test_real_import_checks_before_any_torch_code(site: Path) -> None:
    pkg = make_torch(site)
    make_torch(site, "import torch\n", name="torchvision")
    rec = Recorder(Diag("fits"))
    wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    import torch

    assert _events() == ["doctor", ("torch", str(pkg / "__init__.py"))]
    # torch sees an ordinary module: its own loader, its own spec
    assert type(torch.__loader__).__name__ == "SourceFileLoader"
    assert torch.__spec__.loader is torch.__loader__
    assert torch.__spec__.origin == torch.__file__ == str(pkg / "__init__.py")
    assert list(torch.__path__) == [str(pkg)]
    import torch.sub  # submodules load normally

    assert torch.sub.where == str(site)
    import torchvision  # noqa: F401  (a companion: checked once per process, not again)

    assert rec.doctor_calls == 1 and rec.fix_calls == 0


def test_never_acts_once_torch_is_imported(site: Path) -> None:
    make_torch(site)
    import torch  # noqa: F401

    rec = Recorder(Diag("broken"))
    hook = wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    assert hook.late == ("torch",)
    assert hook.find_spec("torch") is None
    importlib.reload(sys.modules["torch"])
    assert rec.doctor_calls == 0


@pytest.mark.parametrize(
    ("status", "policy", "doctor", "fixes", "says"),
    [
        ("fits", "auto", 1, 0, None),
        ("not-installed", "fix", 1, 0, None),
        ("suboptimal", "auto", 1, 0, "for the best build run: wheelmagic install torch==2.8.0"),
        ("suboptimal", "warn", 1, 0, "for the best build run: wheelmagic install torch==2.8.0"),
        ("suboptimal", "fix", 1, 1, "installing the fitting build"),
        ("suboptimal", "off", 0, 0, None),
        ("broken", "auto", 1, 1, "installing the fitting build (torch==2.8.0)"),
        ("broken", "fix", 1, 1, "installing the fitting build (torch==2.8.0)"),
        ("broken", "warn", 1, 0, "to fix it run: wheelmagic install torch==2.8.0"),
        ("broken", "off", 0, 0, None),
    ],
)
def test_policies(
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    status: str,
    policy: str,
    doctor: int,
    fixes: int,
    says: str | None,
) -> None:
    make_torch(site)
    monkeypatch.setenv("WHEELMAGIC_ON_MISMATCH", policy)
    rec = Recorder(
        Diag(status, reasons=["torch 2.8.0+cu128 needs an NVIDIA GPU"]),
        fix=lambda: outcome([], "already fitting"),
    )
    wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    import torch

    assert torch.__version__ == "2.8.0"
    err = capsys.readouterr().err
    assert (rec.doctor_calls, rec.fix_calls) == (doctor, fixes)
    if says is None:
        assert err == ""
    else:
        assert says in err
        if status == "suboptimal" and not fixes:
            assert len(err.strip().splitlines()) == 1  # one clear line


def test_magic_is_suggested_inside_ipython(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_torch(site)
    rec = Recorder(Diag("suboptimal", reasons=["a faster build exists"]))
    wm_hook.install(object(), doctor=rec.doctor, fixer=rec.fixer)
    import torch  # noqa: F401

    assert "for the best build run: %variant_install torch==2.8.0" in capsys.readouterr().err


def test_fix_continues_the_import_with_the_new_build(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing of torch was loaded yet: the new files are found again and run instead."""
    make_torch(site, "raise RuntimeError('the old build ran')\n", version="2.8.0+cu128")
    new_site = tmp_path / "new-site"

    def fix() -> FixOutcome:
        (site / "torch" / "__init__.py").unlink()
        (site / "torch" / "sub.py").unlink()
        (site / "torch").rmdir()
        make_torch(new_site, version="2.8.0+cpu")
        sys.path.insert(0, str(new_site))
        return outcome(["torch"], "installed torch 2.8.0 [cpu]")

    rec = Recorder(Diag("broken", reasons=["torch 2.8.0+cu128 needs an NVIDIA GPU"]), fix=fix)
    hook = wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    import torch

    assert torch.__version__ == "2.8.0+cpu"
    assert torch.__file__ == str(new_site / "torch" / "__init__.py")
    assert list(torch.__path__) == [str(new_site / "torch")]
    import torch.sub

    assert torch.sub.where == str(new_site)
    err = capsys.readouterr().err
    assert "continuing the import of torch with the new build" in err
    assert hook.restart_pending is None
    assert [a.outcome for a in Attempts().all()] == ["fixed"]


def test_fix_in_place_is_picked_up(site: Path) -> None:
    """The usual case: pip replaces the files at the same path."""
    make_torch(site, "raise RuntimeError('the old build ran')\n", version="2.8.0+cu128")

    def fix() -> FixOutcome:
        make_torch(site, "# a longer file than before, so no stale bytecode\n", version="2.8.0+cpu")
        return outcome(["torch"], "installed torch 2.8.0 [cpu]")

    rec = Recorder(Diag("broken"), fix=fix)
    wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    import torch

    assert torch.__version__ == "2.8.0+cpu"


def test_failed_fix_keeps_old_build_and_never_loops(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_torch(site, version="2.8.0+cu128")

    def fix() -> FixOutcome:
        raise OSError("index http://127.0.0.1:9/simple unreachable")

    diag = Diag("broken", reasons=["torch 2.8.0+cu128 needs an NVIDIA GPU"])
    rec = Recorder(diag, fix=fix)
    wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    import torch

    assert torch.__version__ == "2.8.0+cu128"  # left in place
    err = capsys.readouterr().err
    assert "the fix failed; the installed build was left in place" in err
    assert "unreachable" in err and "wheelmagic install torch==2.8.0" in err

    # a "new process" (fresh hook, torch not imported) sees the record and does not try again
    wm_hook.uninstall()
    del sys.modules["torch"]
    rec2 = Recorder(diag, fix=fix)
    wm_hook.install(doctor=rec2.doctor, fixer=rec2.fixer)
    import torch  # noqa: F811

    assert rec2.fix_calls == 0
    err = capsys.readouterr().err
    assert "not fixing torch automatically again" in err
    assert "it failed: OSError: index http://127.0.0.1:9/simple unreachable" in err
    assert str(Attempts().path) in err


def test_fix_that_does_not_help_is_not_repeated(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_torch(site)
    diag = Diag("broken", reasons=["still broken"])
    for attempt in range(2):
        for mod in [m for m in sys.modules if m.partition(".")[0] == "torch"]:
            del sys.modules[mod]
        wm_hook.uninstall()
        rec = Recorder(diag)
        wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
        import torch  # noqa: F401

        assert rec.fix_calls == (1 if attempt == 0 else 0)
    assert "it installed a build but the problem is still here" in capsys.readouterr().err


def test_doctor_crash_never_breaks_the_import(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_torch(site)

    def doctor() -> Checkup:
        raise ValueError("unreadable snapshot")

    wm_hook.install(doctor=doctor)
    import torch

    assert torch.__version__ == "2.8.0"
    assert "could not check the torch build (ValueError: unreadable snapshot)" in (
        capsys.readouterr().err
    )


def test_replaced_while_loaded_needs_a_restart(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """torch was imported before the hook; torchvision's check replaces torch: restart."""
    make_torch(site)
    make_torch(site, "import torch\n", name="torchvision")
    import torch  # noqa: F401

    rec = Recorder(
        Diag(
            "broken",
            reasons=["torchvision needs another torch"],
            fix_requirements=["torch==2.8.0", "torchvision"],
        )
    )
    hook = wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    with pytest.raises(RestartRequired) as info:
        import torchvision  # noqa: F401
    assert isinstance(info.value, ImportError)
    assert hook.restart_pending is not None
    assert "restart this Python process to use the new build" in capsys.readouterr().err
    assert "torchvision" not in sys.modules


def test_restart_goes_through_the_kernel_module(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import wheelmagic.kernel.restart as restart

    calls: list[tuple[str, list[str], Any]] = []

    def fake_restart(reason: str, packages: Any = (), ip: Any = None, **kw: Any) -> str:
        calls.append((reason, list(packages), ip))
        return "ipykernel"

    monkeypatch.setattr(restart, "restart_kernel", fake_restart)
    make_torch(site)
    make_torch(site, "import torch\n", name="torchvision")
    import torch  # noqa: F401

    shell = object()
    rec = Recorder(Diag("broken"))
    wm_hook.install(shell, doctor=rec.doctor, fixer=rec.fixer)
    with pytest.raises(RestartRequired):
        import torchvision  # noqa: F401
    assert len(calls) == 1 and calls[0][1] == ["torch"] and calls[0][2] is shell


# -- failed imports ------------------------------------------------------------------------

LIBCUDNN = "libcudnn.so.9: cannot open shared object file: No such file or directory"


@pytest.mark.parametrize("exc", ["ImportError", "OSError"])
def test_failed_import_keeps_the_original_error(
    site: Path, monkeypatch: pytest.MonkeyPatch, exc: str
) -> None:
    make_torch(site, f"raise {exc}({LIBCUDNN!r})\n", version="2.8.0+cu128")
    monkeypatch.setenv("WHEELMAGIC_ON_MISMATCH", "warn")
    rec = Recorder(Diag("fits"))
    wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    with pytest.raises({"ImportError": ImportError, "OSError": OSError}[exc]) as info:
        import torch  # noqa: F401
    err = info.value
    assert type(err).__name__ == exc and str(err) == LIBCUDNN
    notes = "\n".join(getattr(err, "__notes__", []))
    assert (
        "importing torch failed because an accelerator library the installed build needs "
        "is missing: libcudnn.so.9" in notes
    )
    assert "to fix it run: wheelmagic install torch==2.8.0" in notes
    assert rec.fix_calls == 0
    # user code that treats torch as optional behaves as before
    try:
        import torch  # noqa: F401, F811
    except (ImportError, OSError):
        caught = True
    assert caught


def test_failed_import_is_fixed_and_asks_for_a_restart(site: Path) -> None:
    make_torch(site, f"raise ImportError({LIBCUDNN!r})\n", version="2.8.0+cu128")
    rec = Recorder(Diag("fits", fix_requirements=["torch==2.8.0"]))
    hook = wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    with pytest.raises(ImportError) as info:
        import torch  # noqa: F401
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert rec.fix_calls == 1
    assert "restart this Python process and import torch again" in notes
    assert hook.restart_pending
    with pytest.raises(ImportError) as again:  # same process: still the old libraries
        import torch  # noqa: F401, F811
    assert rec.fix_calls == 1
    assert "still has the old one loaded: restart it" in "\n".join(
        getattr(again.value, "__notes__", [])
    )


def test_error_is_explained_once_through_companions(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_torch(site, f"raise OSError({LIBCUDNN!r})\n")
    make_torch(site, "import torch\n", name="torchvision")
    monkeypatch.setenv("WHEELMAGIC_ON_MISMATCH", "warn")
    wm_hook.install(doctor=Recorder(Diag("fits")).doctor)
    with pytest.raises(OSError) as info:
        import torchvision  # noqa: F401
    assert len(getattr(info.value, "__notes__", [])) == 1


def test_unknown_errors_pass_through_untouched(site: Path) -> None:
    make_torch(site, "raise ValueError('user bug')\n")
    rec = Recorder(Diag("fits"))
    wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    with pytest.raises(ValueError) as info:
        import torch  # noqa: F401
    assert not getattr(info.value, "__notes__", None)


def test_policy_off_adds_nothing(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_torch(site, f"raise OSError({LIBCUDNN!r})\n")
    monkeypatch.setenv("WHEELMAGIC_ON_MISMATCH", "off")
    rec = Recorder(Diag("broken"))
    wm_hook.install(doctor=rec.doctor, fixer=rec.fixer)
    with pytest.raises(OSError) as info:
        import torch  # noqa: F401
    assert not getattr(info.value, "__notes__", None) and rec.doctor_calls == 0


@pytest.mark.parametrize(
    ("text", "kind", "library"),
    [
        (LIBCUDNN, "missing-library", "libcudnn.so.9"),
        (
            "/x/torch/lib/libtorch_cuda.so: cannot open shared object file: No such file",
            "missing-library",
            "libtorch_cuda.so",
        ),
        (
            "libcuda.so.1: cannot open shared object file: No such file or directory",
            "no-driver",
            "libcuda.so.1",
        ),
        (
            "/x/torch/lib/libtorch_cuda.so: undefined symbol: ncclCommSplit, version libnccl.so.2",
            "undefined-symbol",
            None,
        ),
        ("operator torchvision::nms does not exist", "companion-mismatch", None),
        (
            "The NVIDIA driver on your system is too old (found version 12080). Please update",
            "driver-too-old",
            None,
        ),
        (
            "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU",
            "no-driver",
            None,
        ),
        (
            "NVIDIA RTX PRO 6000 with CUDA capability sm_120 is not compatible with the current "
            "PyTorch installation.",
            "gpu-unsupported",
            None,
        ),
        (
            "hipErrorNoBinaryForGpu: Unable to find code object for all current devices!",
            "rocm-no-binary",
            None,
        ),
    ],
)
def test_classify_error(text: str, kind: str, library: str | None) -> None:
    cause = classify_error(ImportError(text))
    assert cause is not None and cause.kind == kind and cause.library == library


def test_classify_error_follows_the_chain() -> None:
    try:
        try:
            raise OSError(LIBCUDNN)
        except OSError as inner:
            raise ImportError("torch failed") from inner
    except ImportError as outer:
        cause = classify_error(outer)
    assert cause is not None and cause.library == "libcudnn.so.9"
    assert classify_error(ValueError("nothing known")) is None
    assert (
        "12.8"
        in classify_error(
            RuntimeError(  # type: ignore[union-attr]
                "The NVIDIA driver on your system is too old (found version 12080)"
            )
        ).summary
    )
