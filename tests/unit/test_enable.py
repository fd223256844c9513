"""`wheelmagic enable|disable`: the startup file goes where IPython looks, idempotently."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from wheelmagic.commands import enable as cmd
from wheelmagic.errors import WheelmagicError

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    """The two subcommands as `wheelmagic` registers them (without the other commands)."""
    parser = argparse.ArgumentParser(prog="wheelmagic")
    cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_cli_lists_both_subcommands() -> None:
    from wheelmagic.cli import COMMANDS

    assert COMMANDS["enable"] == COMMANDS["disable"] == "enable"


def test_startup_file_matches_jupyter_config() -> None:
    shipped = (ROOT / "jupyter-config" / "ipython" / "startup" / cmd.FILENAME).read_text()
    assert shipped == cmd.STARTUP_FILE
    assert cmd.MARKER in cmd.STARTUP_FILE
    compile(cmd.STARTUP_FILE, cmd.FILENAME, "exec")


def test_kernel_config_snippet_appends() -> None:
    text = (ROOT / "jupyter-config" / "ipython" / "ipython_kernel_config.py").read_text()
    assert 'c.InteractiveShellApp.extensions.append("wheelmagic")' in text


def test_scopes(tmp_path: Path) -> None:
    assert cmd.startup_dir("sys-prefix", prefix=str(tmp_path)) == tmp_path / "etc/ipython/startup"
    assert cmd.startup_dir("user", environ={"IPYTHONDIR": str(tmp_path)}) == (
        tmp_path / "profile_default" / "startup"
    )
    if sys.platform != "win32":
        assert cmd.startup_dir("system") == Path("/etc/ipython/startup")
    with pytest.raises(ValueError):
        cmd.startup_dir("global")


def test_enable_disable_cli_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "etc/ipython/startup" / cmd.FILENAME
    assert main(["enable", "--prefix", str(tmp_path)]) == 0
    assert target.read_text() == cmd.STARTUP_FILE
    assert "enabled: every IPython and Jupyter kernel" in capsys.readouterr().out
    assert main(["enable", "--sys-prefix", "--prefix", str(tmp_path)]) == 0
    assert "already enabled" in capsys.readouterr().out
    # an older wheelmagic's file, as that version recorded it: ours, so it is updated
    old = cmd.STARTUP_FILE + "# old version\n"
    target.write_text(old)
    record = cmd.Record.read(target.parent)
    assert record is not None
    cmd.Record(record.path, cmd._sha256(old.encode()), record.created_dirs).write(target.parent)
    assert main(["enable", "--prefix", str(tmp_path)]) == 0
    assert "updated" in capsys.readouterr().out and target.read_text() == cmd.STARTUP_FILE
    assert main(["disable", "--prefix", str(tmp_path)]) == 0
    assert "disabled: removed" in capsys.readouterr().out and not target.exists()
    assert main(["disable", "--prefix", str(tmp_path)]) == 0
    assert "not enabled" in capsys.readouterr().out


def test_user_scope(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipy"))
    assert main(["enable", "--user"]) == 0
    assert (tmp_path / "ipy/profile_default/startup" / cmd.FILENAME).exists()
    assert "every environment" in capsys.readouterr().out


def test_foreign_file_left_alone(tmp_path: Path) -> None:
    target = cmd.startup_dir("sys-prefix", prefix=str(tmp_path)) / cmd.FILENAME
    target.parent.mkdir(parents=True)
    target.write_text("print('mine')\n")
    with pytest.raises(WheelmagicError, match="not written by wheelmagic"):
        cmd.enable("sys-prefix", prefix=str(tmp_path))
    with pytest.raises(WheelmagicError, match="not written by wheelmagic"):
        cmd.disable("sys-prefix", prefix=str(tmp_path))
    assert target.read_text() == "print('mine')\n"


def test_unwritable_directory_says_what_to_do(tmp_path: Path) -> None:
    blocker = tmp_path / "etc"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(WheelmagicError) as info:
        cmd.enable("sys-prefix", prefix=str(tmp_path))
    assert "cannot write" in str(info.value) and info.value.hint


def test_flags_are_exclusive() -> None:
    with pytest.raises(SystemExit):
        main(["enable", "--user", "--system"])


def test_startup_file_loads_the_extension_and_honours_opt_out(tmp_path: Path) -> None:
    startup = tmp_path / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / cmd.FILENAME).write_text(cmd.STARTUP_FILE)
    probe = (
        "from IPython import get_ipython; ip = get_ipython(); "
        "print('LOADED' if 'wheelmagic' in ip.extension_manager.loaded else 'NOT')"
    )
    (startup / "99-probe.py").write_text(probe + "\n")
    base = {
        "IPYTHONDIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "WHEELMAGIC_CACHE_DIR": str(tmp_path / "cache"),
    }
    argv = [
        sys.executable,
        "-m",
        "IPython",
        "--no-banner",
        "--colors=nocolor",
        "--HistoryManager.enabled=False",
        "-c",
        "pass",
    ]
    on = subprocess.run(argv, capture_output=True, text=True, env=base, timeout=60, check=False)
    assert "LOADED" in on.stdout, on.stdout + on.stderr
    off = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**base, "WHEELMAGIC_DISABLE": "1"},
        timeout=60,
        check=False,
    )
    assert "NOT" in off.stdout, off.stdout + off.stderr
    assert "Traceback" not in on.stderr + off.stderr
