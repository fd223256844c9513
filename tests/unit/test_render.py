"""Renderers: the notebook one updates one display per file in place, the text one redraws a line."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from wheelmagic.ui import render
from wheelmagic.ui.render import (
    NotebookRenderer,
    Report,
    TextRenderer,
    doctor_report,
    human_bytes,
    human_eta,
    progress_html,
    progress_text,
)


@dataclass
class Event:
    filename: str
    total_bytes: int | None
    done_bytes: int
    rate_bytes_per_s: float | None = None
    eta_s: float | None = None


@dataclass
class FakeHandle:
    updates: list[dict[str, str]] = field(default_factory=list)

    def update(self, obj: dict[str, str], **kw: Any) -> None:
        assert kw.get("raw") is True
        self.updates.append(obj)


class FakeDisplay:
    """Records `display(...)` calls the way IPython.display.display is called by the renderer."""

    def __init__(self) -> None:
        self.shown: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.handles: list[FakeHandle] = []

    def __call__(self, obj: dict[str, str], **kw: Any) -> FakeHandle | None:
        assert kw.pop("raw") is True
        self.shown.append((obj, kw))
        if kw.get("display_id") is True:
            self.handles.append(FakeHandle())
            return self.handles[-1]
        return None


def _plan() -> Any:
    pkg = SimpleNamespace(
        name="torch",
        version="2.14.1",
        label="cuda13.0",
        size=900 * 2**20,
        why="best for the driver (CUDA 13.0)",
    )
    keep = SimpleNamespace(name="torchvision", version="0.29.1", label=None, size=None, why="")
    return SimpleNamespace(
        packages=[pkg],
        satisfied=[keep],
        interpreter=SimpleNamespace(executable="/env/bin/python"),
        summary=lambda: "will install torch 2.14.1 [cuda13.0]",
        reasons=["torch: chose torch-2.14.1-...-cuda13.0.whl"],
        explanation=["considered 4 files"],
    )


def test_human_units() -> None:
    assert human_bytes(None) == "?"
    assert human_bytes(512) == "512 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(3 * 2**30) == "3.0 GiB"
    assert human_eta(None) == "--:--"
    assert human_eta(65) == "01:05"
    assert human_eta(3725) == "1:02:05"


def test_progress_text_and_html() -> None:
    ev = Event("torch.whl", 200 * 2**20, 50 * 2**20, 10 * 2**20, 15)
    text = progress_text(ev)
    assert text.startswith("torch.whl  [")
    assert " 25%" in text and "50.0 MiB/200.0 MiB" in text and "10.0 MiB/s" in text
    assert "eta 00:15" in text
    html = progress_html(ev)
    assert f'value="{50 * 2**20}" max="{200 * 2**20}"' in html and "<progress" in html
    # unknown size: no bar, no percentage, still a count; dict events work too
    assert "%" not in progress_text({"filename": "x.whl", "total_bytes": None, "done_bytes": 10})
    assert "&lt;b&gt;" in progress_html(Event("<b>.whl", 10, 5))


def test_notebook_progress_updates_one_display_per_file(monkeypatch: Any) -> None:
    shown = FakeDisplay()
    r = NotebookRenderer(display=shown)
    clock = iter([0.0, 0.01, 0.5, 0.6, 0.61, 2.0])
    monkeypatch.setattr(render.time, "monotonic", lambda: next(clock))
    r.progress(Event("a.whl", 100, 0))  # creates the display
    r.progress(Event("a.whl", 100, 10))  # too soon: skipped
    r.progress(Event("a.whl", 100, 50))  # update
    r.progress(Event("b.whl", 10, 0))  # a second file, its own display
    r.progress(Event("a.whl", 100, 100))  # finished: always drawn
    assert len(shown.handles) == 2
    assert [kw.get("display_id") for _, kw in shown.shown] == [True, True]
    a, b = shown.handles
    assert len(a.updates) == 2 and "100%" in a.updates[-1]["text/plain"]
    assert set(a.updates[-1]) == {"text/html", "text/plain"}
    assert b.updates == []


def test_notebook_plan_status_and_report() -> None:
    shown = FakeDisplay()
    r = NotebookRenderer(display=shown)
    r.plan(_plan(), detected="NVIDIA H100 (sm_90), driver 580", explain=True, dry_run=True)
    obj, _ = shown.shown[-1]
    assert "will install torch 2.14.1 [cuda13.0] (dry run)" in obj["text/plain"]
    assert "detected" in obj["text/plain"] and "H100" in obj["text/html"]
    assert "torchvision 0.29.1 [non-variant]  (already installed)" in obj["text/plain"]
    assert "considered 4 files" in obj["text/html"]  # --explain adds the reasoning
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
    r.progress(Event("a.whl", 100, 0))
    r.progress(Event("a.whl", 100, 100))
    r.done("installed a")
    assert err.getvalue().count("\r") == 2 and err.getvalue().endswith("\n")
    assert out.getvalue() == "installed a\n"

    log = io.StringIO()
    r = TextRenderer(out=io.StringIO(), err=log)
    for done in range(0, 101, 5):
        r.progress(Event("b.whl", 100, done))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 5 and "100%" in lines[-1]  # 0, 25, 50, 75, 100 %


def test_text_renderer_plan() -> None:
    out = io.StringIO()
    TextRenderer(out=out, err=io.StringIO()).plan(_plan(), detected="cpu only")
    text = out.getvalue()
    assert text.splitlines()[0] == "wheelmagic: will install torch 2.14.1 [cuda13.0]"
    assert "install   torch 2.14.1 [cuda13.0, 900.0 MiB]: best for the driver" in text
    assert "into" in text and "/env/bin/python" in text


def test_doctor_report_html_and_text() -> None:
    platform = SimpleNamespace(
        to_json=lambda: {
            "os": "linux",
            "arch": "x86_64",
            "cpu": {"x86_64_level": 4},
            "nvidia": {
                "driver_version": "580.65",
                "cuda_driver_version": "13.0",
                "gpus": [
                    {
                        "index": 0,
                        "name": "H100",
                        "compute_capability": "9.0",
                        "memory_bytes": 80 << 30,
                    }
                ],
            },
            "amd": None,
            "sources": {"nvidia": "NVML"},
        }
    )
    diag = SimpleNamespace(
        status="broken",
        reasons=["CUDA 13.0 build, driver supports 12.4"],
        predicted=["The NVIDIA driver on your system is too old"],
        notes=[],
        fix_magic="%variant_install torch --variant cuda12.4",
    )
    installed = SimpleNamespace(summary=lambda: "torch 2.14.1+cu130 (CUDA 13.0)")
    rep = doctor_report(platform, diag, installed)
    html, text = rep._repr_html_(), rep.text()
    assert "wheelmagic doctor: broken" in html and "#c62828" in html
    assert "machine           linux x86_64, x86-64-v4" in text
    assert "NVIDIA driver     580.65 (supports CUDA 13.0)" in text
    assert "GPU 0             H100, compute capability 9.0, 80.0 GiB" in text
    assert "AMD" not in text and "NVML" not in text  # empty facts and sources are left out
    assert text.splitlines()[1].split() == ["installed", "torch", "2.14.1+cu130", "(CUDA", "13.0)"]
    assert text.rstrip().endswith("to fix: %variant_install torch --variant cuda12.4")
    assert repr(rep) == text
    fits = doctor_report(platform, SimpleNamespace(status="fits", reasons=[], fix_magic="x"))
    assert "to fix" not in fits.text()


def test_in_notebook_false_outside_kernels() -> None:
    assert render.in_notebook(SimpleNamespace()) is False
    assert isinstance(render.renderer_for(SimpleNamespace()), TextRenderer)
