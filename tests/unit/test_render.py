"""Renderers: the notebook one updates one display per file in place, the text one redraws a line.

Everything is fed the real models: `ProgressEvent`s, a `Plan` of `PlannedFile`s, a `Diagnosis`
from `diagnose`, `Platform` snapshots from tests/data.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from wheelmagic.install.plan import Plan, PlannedFile
from wheelmagic.install.progress import ProgressEvent
from wheelmagic.installed import InstalledBuild
from wheelmagic.interpreter import Interpreter
from wheelmagic.platform import Platform, load_platform
from wheelmagic.providers import supported_properties
from wheelmagic.pytorch.diagnose import Diagnosis, Fix, diagnose
from wheelmagic.ui import in_notebook, renderer_for
from wheelmagic.ui import notebook as notebook_module
from wheelmagic.ui.notebook import NotebookRenderer
from wheelmagic.ui.progress import progress_html, progress_text
from wheelmagic.ui.reports import Report, detect_report, doctor_report
from wheelmagic.ui.text import TextRenderer

DATA = Path(__file__).resolve().parent.parent / "data" / "platforms"
MiB = 2**20


def event(
    name: str,
    total: int | None,
    done: int,
    rate: float = 0.0,
    eta: float | None = None,
    finished: bool = False,
) -> ProgressEvent:
    return ProgressEvent(name, total, done, rate, eta, finished)


@dataclass
class RecordedHandle:
    updates: list[Mapping[str, str]] = field(default_factory=list)

    def update(self, obj: Mapping[str, str], *, raw: bool) -> None:
        assert raw is True
        self.updates.append(obj)


class RecordedDisplay:
    """Records `display(...)` calls the way IPython.display.display is called by the renderer."""

    def __init__(self) -> None:
        self.shown: list[tuple[Mapping[str, str], bool | None]] = []
        self.handles: list[RecordedHandle] = []

    def __call__(
        self, obj: Mapping[str, str], *, raw: bool, display_id: bool | None = None
    ) -> RecordedHandle | None:
        assert raw is True
        self.shown.append((obj, display_id))
        if display_id is True:
            self.handles.append(RecordedHandle())
            return self.handles[-1]
        return None


def planned(name: str, version: str, label: str | None, size: int | None, why: str) -> PlannedFile:
    return PlannedFile(
        name=canonicalize_name(name),
        version=Version(version),
        filename=f"{name}-{version}-py3-none-any.whl",
        label=label,
        url=f"https://example.invalid/{name}.whl",
        index_url="https://example.invalid/simple/",
        sha256=None,
        size=size,
        properties={},
        supported={},
        why=why,
    )


def make_plan() -> Plan:
    return Plan(
        requirements=["torch"],
        packages=[
            planned("torch", "2.14.1", "cuda13.0", 900 * MiB, "best for the driver (CUDA 13.0)")
        ],
        satisfied=[planned("torchvision", "0.29.1", None, None, "")],
        platform=Platform(),
        interpreter=Interpreter(
            executable="/env/bin/python",
            python_version=Version("3.11"),
            implementation="cpython",
            tags=(),
            marker_env={},
        ),
        reasons=["torch: chose torch-2.14.1-...-cuda13.0.whl"],
        explanation=["considered 4 files"],
    )


def test_progress_text_and_html() -> None:
    ev = event("torch.whl", 200 * MiB, 50 * MiB, 10 * MiB, 15)
    text = progress_text(ev)
    assert text.startswith("torch.whl  [")
    assert " 25%" in text and "50.0 MiB/200.0 MiB" in text and "10.0 MiB/s" in text
    assert "eta 00:15" in text
    html = progress_html(ev)
    assert f'value="{50 * MiB}" max="{200 * MiB}"' in html and "<progress" in html
    assert "25%  50.0 MiB/200.0 MiB  10.0 MiB/s  eta 00:15" in html
    # unknown size: no bar, no percentage, still a count
    assert progress_text(event("x.whl", None, 10)) == "x.whl  10 B"
    assert "&lt;b&gt;" in progress_html(event("<b>.whl", 10, 5))
    # finished: no eta; the notebook bar's numbers in binary units
    done = event("t.whl", 3 * MiB, 3 * MiB, 41_000_000.0, 0.0, finished=True)
    assert progress_html(done).endswith("<span>100%  3.0 MiB/3.0 MiB  39.1 MiB/s</span></div>")


def test_notebook_progress_updates_one_display_per_file(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = RecordedDisplay()
    r = NotebookRenderer(display=shown)
    clock = iter([0.0, 0.01, 0.5, 0.6, 0.61, 2.0])
    monkeypatch.setattr(notebook_module.time, "monotonic", lambda: next(clock))
    r.progress(event("a.whl", 100, 0))  # creates the display
    r.progress(event("a.whl", 100, 10))  # too soon: skipped
    r.progress(event("a.whl", 100, 50))  # update
    r.progress(event("b.whl", 10, 0))  # a second file, its own display
    r.progress(event("a.whl", 100, 100, finished=True))  # finished: always drawn
    assert len(shown.handles) == 2
    assert [display_id for _, display_id in shown.shown] == [True, True]
    a, b = shown.handles
    assert len(a.updates) == 2 and "100%" in a.updates[-1]["text/plain"]
    assert set(a.updates[-1]) == {"text/html", "text/plain"}
    assert b.updates == []


def test_notebook_plan_status_and_report() -> None:
    shown = RecordedDisplay()
    r = NotebookRenderer(display=shown)
    r.plan(make_plan(), detected="NVIDIA H100 (sm_90), driver 580", explain=True, dry_run=True)
    obj, _ = shown.shown[-1]
    assert "will install torch 2.14.1 [cuda13.0] (dry run)" in obj["text/plain"]
    assert "detected" in obj["text/plain"] and "H100" in obj["text/html"]
    assert "torchvision 0.29.1 [non-variant]  (already installed)" in obj["text/plain"]
    assert "considered 4 files" in obj["text/html"]  # --explain adds the reasoning
    assert obj["text/plain"].endswith(
        "torch: chose torch-2.14.1-...-cuda13.0.whl\nconsidered 4 files"
    )
    r.done("installed torch")
    assert "wheelmagic-status" in shown.shown[-1][0]["text/html"]
    r.message("oops <x>", level="error")
    assert "oops &lt;x&gt;" in shown.shown[-1][0]["text/html"]
    r.report(Report("t", [("a", "b")]))
    assert "<table" in shown.shown[-1][0]["text/html"]


def test_text_renderer_terminal_bar_and_log_milestones() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out, err = io.StringIO(), Tty()
    r = TextRenderer(out=out, err=err)
    r.progress(event("a.whl", 100, 0))
    r.progress(event("a.whl", 100, 100))
    r.progress(event("a.whl", 100, 100, finished=True))  # the final event again: drawn once
    r.done("installed a")
    assert err.getvalue().count("\r") == 2 and err.getvalue().endswith("\n")
    assert out.getvalue() == "installed a\n"

    log = io.StringIO()
    r = TextRenderer(out=io.StringIO(), err=log)
    for done in range(0, 101, 5):
        r.progress(event("b.whl", 100, done))
    r.progress(event("c.whl", None, 7, finished=True))  # unknown size: its final line only
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 6 and "100%" in lines[4]  # 0, 25, 50, 75, 100 %
    assert lines[5] == "c.whl  7 B"


def test_text_renderer_plan() -> None:
    out = io.StringIO()
    TextRenderer(out=out, err=io.StringIO()).plan(make_plan(), detected="cpu only")
    text = out.getvalue()
    assert text.splitlines()[0] == "wheelmagic: will install torch 2.14.1 [cuda13.0]"
    assert "install   torch 2.14.1 [cuda13.0, 900.0 MiB]: best for the driver" in text
    assert "  into      /env/bin/python" in text


def test_doctor_report_html_and_text() -> None:
    platform = load_platform(DATA / "nvidia-t4-driver535.snapshot.json")
    torch = InstalledBuild(
        name=canonicalize_name("torch"),
        version=Version("2.14.1"),
        local="cu130",
        kind="cuda",
        cuda="13.0",
    )
    diagnosis = diagnose({torch.name: torch}, platform, supported_properties(platform))
    assert diagnosis.status == "broken"
    rep = doctor_report(platform, diagnosis, torch)
    html, text = rep._repr_html_(), rep.text()
    assert "wheelmagic doctor: broken" in html and "#c62828" in html
    lines = text.splitlines()
    assert lines[0] == "wheelmagic doctor: broken"
    assert lines[1].split() == ["installed", "torch", "2.14.1+cu130", "(CUDA", "13.0)"]
    assert "  machine           linux x86_64, x86-64-v3" in lines
    assert "  NVIDIA driver     535.104.05 (supports CUDA 12.2)" in lines
    assert any(
        line.startswith("  GPU 0             Tesla T4, compute capability 7.5") for line in lines
    )
    assert any(line.startswith("  why") and "driver 535.104.05" in line for line in lines)
    assert any(line.startswith("  PyTorch will say") for line in lines)
    assert "NVML" not in text  # sources are left out
    assert diagnosis.fix is not None
    assert lines[-1] == f"to fix: {diagnosis.fix.magic()}"
    assert lines[-1].startswith("to fix: %variant_install torch==2.14.1 --variant cu12")
    assert repr(rep) == text


def test_doctor_report_without_a_fix_or_torch() -> None:
    platform = load_platform(DATA / "cpu-x86_64-v3.snapshot.json")
    torch = InstalledBuild(
        name=canonicalize_name("torch"), version=Version("2.14.1"), local="cpu", kind="cpu"
    )
    fits = doctor_report(platform, diagnose({torch.name: torch}, platform, {}), torch)
    assert fits.title == "wheelmagic doctor: fits" and "to fix" not in fits.text()
    upgrade = Diagnosis("fits", fix=Fix(("torch>=2.15",)))  # a fix, yet nothing to repair
    assert "to fix" not in doctor_report(platform, upgrade).text()
    missing = doctor_report(platform, diagnose({}, platform, {}, where="/v/bin/python"))
    assert missing.rows[0] == ("machine", "linux x86_64, x86-64-v3")
    assert missing.text().splitlines()[-1] == "to fix: %variant_install torch"


def test_detect_report() -> None:
    rep = detect_report(load_platform(DATA / "cpu-x86_64-v3.snapshot.json"))
    assert rep.text() == (
        "wheelmagic: detected platform\n  machine  linux x86_64, x86-64-v3\n  GPU      none found"
    )


def test_in_notebook_false_outside_kernels() -> None:
    assert in_notebook(SimpleNamespace()) is False
    assert isinstance(renderer_for(SimpleNamespace()), TextRenderer)
