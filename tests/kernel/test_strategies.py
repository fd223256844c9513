"""Restart decisions and strategies, in-process (fast; the real kernels are in test_kernels.py)."""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from wheelmagic import kernel as wk
from wheelmagic.app import Checkup
from wheelmagic.install.execute import Change
from wheelmagic.kernel import restart as rs
from wheelmagic.platform.model import Platform
from wheelmagic.pytorch.diagnose import Diagnosis, Fix
from wheelmagic.ui.text import TextRenderer

pytestmark = pytest.mark.kernel


def test_record_roundtrip(tmp_path: Path) -> None:
    rec = wk.RestartRecord(
        "torch was imported",
        "ipykernel",
        ["torch"],
        pid=os.getpid() + 1,
        time=time.time(),
        executable=sys.executable,
    )
    assert wk.write_record(rec, key="k", directory=tmp_path) == tmp_path / "k.json"
    got = wk.take_record(key="k", directory=tmp_path)
    assert got == rec and not (tmp_path / "k.json").exists()  # read once
    # the process that wrote it has not restarted yet: left alone
    wk.write_record(
        wk.RestartRecord("r", "manual", pid=os.getpid(), time=time.time()),
        key="k",
        directory=tmp_path,
    )
    assert wk.take_record(key="k", directory=tmp_path) is None
    assert (tmp_path / "k.json").exists()
    # a terminal re-exec keeps its pid by design
    wk.write_record(
        wk.RestartRecord("r", "terminal", pid=os.getpid(), time=time.time()),
        key="k",
        directory=tmp_path,
    )
    assert wk.take_record(key="k", directory=tmp_path) is not None
    # stale and garbage records are dropped
    wk.write_record(
        wk.RestartRecord("r", "ipykernel", pid=1, time=time.time() - 2 * 3600),
        key="k",
        directory=tmp_path,
    )
    assert wk.take_record(key="k", directory=tmp_path) is None
    (tmp_path / "k.json").write_text("{not json")
    assert wk.take_record(key="k", directory=tmp_path) is None
    assert not (tmp_path / "k.json").exists()


def test_kernel_key_prefers_connection_file(tmp_path: Path) -> None:
    conn = str(tmp_path / "kernel-abc.json")
    key = wk.kernel_key(["ipykernel_launcher.py", "-f", conn], pid=1)
    assert key.startswith("conn-") and key == wk.kernel_key(["x", f"-f={conn}"], pid=2)
    assert wk.kernel_key(["ipython"], pid=42) == "pid-42"


class FakeKernel:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def do_shutdown(self, restart: bool) -> dict[str, Any]:
        self.calls.append(restart)
        return {"status": "ok", "restart": restart}


def _kernel_shell() -> Any:
    return SimpleNamespace(kernel=FakeKernel())


@pytest.mark.parametrize(
    ("env", "parent", "expected"),
    [
        ({}, "/usr/bin/python3 /opt/conda/bin/jupyter-lab --port 8888", "jupyter"),
        ({}, "python -m jupyterhub-singleuser", "jupyter"),
        ({}, "/usr/bin/python /usr/bin/jupyter-nbconvert --execute x.ipynb", "nbclient"),
        ({}, "python -m papermill in.ipynb out.ipynb", "papermill"),
        ({"PAPERMILL_INPUT_PATH": "x"}, "", "papermill"),
        ({"VSCODE_PID": "123"}, "/home/u/.vscode-server/bin/node --extension-host", "vscode"),
        (
            {"VSCODE_PID": "123"},
            "python -m jupyter_server",
            "jupyter",
        ),  # server from a VS Code terminal
        ({}, "some-launcher", "jupyter"),  # unknown launchers are assumed to restart
    ],
)
def test_detect_frontend_kernels(env: dict[str, str], parent: str, expected: str) -> None:
    assert rs.detect_frontend(_kernel_shell(), env, parent) == expected


def test_detect_frontend_outside_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    assert rs.detect_frontend(None, {}, "") in ("python", "colab")
    from IPython.terminal.interactiveshell import TerminalInteractiveShell

    fake_terminal = object.__new__(TerminalInteractiveShell)
    assert rs.detect_frontend(fake_terminal, {}, "") == "terminal"
    monkeypatch.setitem(sys.modules, "google.colab", SimpleNamespace())
    assert rs.detect_frontend(_kernel_shell(), {}, "") == "colab"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path))
    return tmp_path / "restarts"


def test_ipykernel_strategy_shuts_down_cleanly(cache: Path, capsys: Any) -> None:
    ip = _kernel_shell()
    assert (
        rs.restart_kernel(
            "torch was imported", packages=["torch"], ip=ip, frontend="jupyter", environ={}
        )
        == "ipykernel"
    )
    assert ip.kernel.calls == [True]
    assert "restarting the kernel (torch was imported)" in capsys.readouterr().out
    (record,) = cache.glob("*.json")
    assert '"strategy": "ipykernel"' in record.read_text()


@pytest.mark.parametrize("front", ["vscode", "nbclient", "papermill"])
def test_frontends_without_restarter_get_a_message(cache: Path, capsys: Any, front: str) -> None:
    ip = _kernel_shell()
    assert rs.restart_kernel("torch was imported", ip=ip, frontend=front, environ={}) == "manual"
    assert ip.kernel.calls == []
    assert "restart needed (torch was imported)" in capsys.readouterr().out


def test_env_overrides(cache: Path) -> None:
    ip = _kernel_shell()
    assert (
        rs.restart_kernel("r", ip=ip, frontend="jupyter", environ={"WHEELMAGIC_RESTART": "manual"})
        == "manual"
    )
    assert (
        rs.restart_kernel("r", ip=ip, frontend="vscode", environ={"WHEELMAGIC_RESTART": "shutdown"})
        == "ipykernel"
    )
    assert ip.kernel.calls == [True]


def test_colab_shows_its_restart_button(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[tuple[Any, dict[str, Any]]] = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    ip = _kernel_shell()
    assert (
        rs.restart_kernel(
            "torch was imported", packages=["torch"], ip=ip, frontend="colab", environ={}
        )
        == "colab"
    )
    ((obj, kw),) = shown
    assert kw == {"raw": True}
    assert obj[rs.COLAB_MIME]["pip_warning"] == {"packages": ["torch"]}
    assert ip.kernel.calls == [True]


def test_terminal_strategy_saves_history_then_execs(cache: Path) -> None:
    calls: list[Any] = []
    ip = SimpleNamespace(atexit_operations=lambda: calls.append("atexit"))
    got = rs.restart_kernel(
        "r",
        ip=ip,
        frontend="terminal",
        environ={},
        execv=lambda exe, argv: calls.append((exe, argv[:3])),
    )
    assert got == "terminal"
    assert calls == ["atexit", (sys.executable, [sys.executable, "-m", "IPython"])]

    def fail(exe: str, argv: list[str]) -> None:
        raise OSError("no exec here")

    assert rs.restart_kernel("r", ip=ip, frontend="terminal", environ={}, execv=fail) == "manual"


def test_finish_install_continues_when_nothing_was_imported(cache: Path) -> None:
    from wheelmagic.magics import finish_install

    out = io.StringIO()
    r = TextRenderer(out=out, err=out)
    changes = [Change("surely-not-installed-dist", None, "1.0")]
    assert finish_install(changes, r, ip=_kernel_shell()) == "continue"
    assert "no restart needed" in out.getvalue()


def test_finish_install_restarts_when_imported(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import packaging  # noqa: F401 - imported for real: its replacement needs a new process

    from wheelmagic import magics

    changes = [Change("packaging", "24.0", "24.1", modules=("packaging",))]
    ip = _kernel_shell()
    out = io.StringIO()
    r = TextRenderer(out=out, err=out)
    monkeypatch.setenv("WHEELMAGIC_RESTART", "shutdown")
    assert magics.finish_install(changes, r, ip=ip) == "ipykernel"
    assert ip.kernel.calls == [True]
    assert "the kernel must restart: packaging was already imported" in out.getvalue()
    assert magics.finish_install(changes, r, ip=ip, no_restart=True) == "manual"
    assert ip.kernel.calls == [True]


def test_confirmation_line() -> None:
    build = SimpleNamespace(describe=lambda: "torch 2.14.1+cu130 (CUDA 13.0)")
    platform = Platform.from_json({"os": "linux", "arch": "x86_64"})
    fits = Checkup(platform, {"torch": build}, Diagnosis("fits"))  # type: ignore[dict-item]
    record = wk.RestartRecord("r", "ipykernel", ["torch", "not-a-dist-x"])
    assert rs.confirmation_line(record, fits) == (
        "wheelmagic: kernel restarted; now installed: torch 2.14.1+cu130 (CUDA 13.0), "
        "not-a-dist-x (not installed); it fits this machine"
    )
    broken = Diagnosis("broken", ["driver too old"], fix=Fix(("torch==2.14.1",), "cu126"))
    line = rs.confirmation_line(wk.RestartRecord("r", "x", []), Checkup(platform, {}, broken))
    assert line.endswith(
        "doctor says broken: driver too old (fix: %variant_install torch==2.14.1 --variant cu126)"
    )
