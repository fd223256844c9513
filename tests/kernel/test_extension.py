"""`%load_ext wheelmagic`: cheap, never fatal, opt-out, unload removes everything."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from wheelmagic import extension

pytestmark = pytest.mark.kernel

_PROBE = r"""
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = set(sys.modules)
t = time.perf_counter()
ip.run_line_magic("load_ext", "wheelmagic")
took = time.perf_counter() - t
new = sorted(set(sys.modules) - before)
hooked = type(sys.meta_path[0]).__module__
magics = [m for m in ("variant_install", "variant_doctor", "variant_detect")
          if m in ip.magics_manager.magics["line"]]
ip.run_line_magic("unload_ext", "wheelmagic")
after = [m for m in ("variant_install", "variant_doctor", "variant_detect")
         if m in ip.magics_manager.magics["line"]]
hook_left = any(getattr(f, "_wheelmagic_hook", False) for f in sys.meta_path)
print(json.dumps({"took": took, "new": new, "hooked": hooked, "magics": magics,
                  "after": after, "hook_left": hook_left}))
"""


def _probe(env_extra: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "IPYTHONDIR": str(tmp_path / "ipy"),
        "WHEELMAGIC_CACHE_DIR": str(tmp_path / "cache"),
        **env_extra,
    }
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    data["stderr"] = proc.stderr
    return data


def test_load_registers_magics_and_hook_and_stays_light(tmp_path: Path) -> None:
    data = _probe({}, tmp_path)
    assert data["magics"] == ["variant_install", "variant_doctor", "variant_detect"]
    assert data["hooked"] == "wheelmagic.hook.finder"
    ours = {m for m in data["new"] if m.split(".")[0] == "wheelmagic"}
    assert ours <= {
        "wheelmagic",
        "wheelmagic.extension",
        "wheelmagic.magics",
        "wheelmagic.hook",
        "wheelmagic.hook.finder",
        "wheelmagic.kernel",
        "wheelmagic._fs",
    }
    heavy = [
        m
        for m in data["new"]
        if m.split(".")[0] in ("httpx", "pynvml", "httpcore", "anyio")
        or m in ("wheelmagic.install.plan", "wheelmagic.index", "wheelmagic.platform")
    ]
    assert heavy == []
    assert data["after"] == [] and data["hook_left"] is False
    assert data["stderr"] == ""


def test_opt_out(tmp_path: Path) -> None:
    data = _probe({"WHEELMAGIC_DISABLE": "1"}, tmp_path)
    assert data["magics"] == [] and data["hooked"] != "wheelmagic.hook.finder"


def test_internal_error_is_one_warning_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken:
        def register_magics(self, cls: Any) -> None:
            raise RuntimeError("boom")

    assert extension.load(Broken()) is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: boom" in err and "WHEELMAGIC_DISABLE" in err


def test_pending_record_prints_confirmation_on_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelmagic import kernel as wk

    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path))
    wk.write_record(
        wk.RestartRecord("torch was imported", "ipykernel", ["packaging"], pid=1, time=time.time())
    )
    registered: list[Any] = []
    ip = type("Ip", (), {"register_magics": lambda self, cls: registered.append(cls)})()
    # the doctor fails for real (an unreadable snapshot): the confirmation still comes
    monkeypatch.setenv("WHEELMAGIC_PLATFORM", str(tmp_path / "missing.json"))
    try:
        assert extension.load(ip) is True
    finally:
        from wheelmagic import hook

        hook.uninstall()
    out = capsys.readouterr().out
    assert out.startswith("wheelmagic: kernel restarted; now installed: packaging ")
    assert out.count("\n") == 1
    assert not wk.record_path().exists()


def test_magic_uses_the_cli_install_options(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from IPython.core.error import UsageError

    from wheelmagic.cli import build_parser
    from wheelmagic.magics import install_parser, parse_line
    from wheelmagic.options import Options, from_arguments

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    cli = {o for a in sub.choices["install"]._actions for o in a.option_strings}
    parser = install_parser()
    magic = {o for a in parser._actions for o in a.option_strings}
    assert cli <= magic and magic - cli == {"--no-restart"}
    args = parse_line(
        parser,
        "torch 'torchvision>=0.20' --torch-backend cu128 --variant "
        "cuda12.8 --dry-run --explain --platform /x.json --backend uv "
        "--extra-index-url A --extra-index-url B",
    )
    assert args is not None
    assert args.requirements == ["torch", "torchvision>=0.20"]
    assert (
        args.torch_backend,
        args.variant,
        args.dry_run,
        args.explain,
        args.platform,
        args.backend,
        args.extra_index_url,
    ) == ("cu128", "cuda12.8", True, True, "/x.json", "uv", ["A", "B"])
    assert from_arguments(args) == Options(
        platform_file="/x.json",
        extra_index_urls=("A", "B"),
        torch_backend="cu128",
        variant="cuda12.8",
        installer="uv",
        dry_run=True,
        explain=True,
    )
    with pytest.raises(UsageError, match="%variant_install"):
        parse_line(parser, "torch --no-such-option")
    with pytest.raises(UsageError):
        parse_line(parser, "")
    with pytest.raises(UsageError, match="cannot parse"):
        parse_line(parser, "torch 'unclosed")
    assert parse_line(install_parser(), "--help") is None
    assert "usage: %variant_install" in capsys.readouterr().out


def test_kernel_confirmation_waits_for_the_first_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a kernel, start-up output has no cell to go to: the line comes with the first cell."""
    from IPython.core.events import EventManager, available_events

    from wheelmagic import kernel as wk
    from wheelmagic.kernel.restart import confirm_after_restart

    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path))
    # the doctor fails for real (an unreadable snapshot): the confirmation still comes
    monkeypatch.setenv("WHEELMAGIC_PLATFORM", str(tmp_path / "missing.json"))
    wk.write_record(wk.RestartRecord("r", "ipykernel", ["packaging"], pid=1, time=time.time()))
    ip = type("Ip", (), {})()
    ip.kernel = object()
    ip.events = EventManager(ip, available_events)
    assert confirm_after_restart(ip) is not None
    assert capsys.readouterr().out == ""
    ip.events.trigger("pre_run_cell", None)
    ip.events.trigger("pre_run_cell", None)
    assert capsys.readouterr().out.count("kernel restarted") == 1
