"""Issue 11, item 15: `enable` records what it wrote; `disable` removes only what is still ours.

Real files in a throwaway prefix, through the CLI entry (`wheelmagic enable|disable`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pytest

from wheelmagic.commands import enable as cmd
from wheelmagic.errors import WheelmagicError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wheelmagic")
    cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_enable_records_path_hash_and_created_dirs(tmp_path: Path) -> None:
    assert main(["enable", "--prefix", str(tmp_path)]) == 0
    startup = tmp_path / "etc" / "ipython" / "startup"
    record = json.loads((startup / cmd.RECORD).read_text())
    assert record["path"] == str(startup / cmd.FILENAME)
    assert record["sha256"] == hashlib.sha256((startup / cmd.FILENAME).read_bytes()).hexdigest()
    assert record["created_dirs"] == [
        str(tmp_path / "etc"),
        str(tmp_path / "etc" / "ipython"),
        str(startup),
    ]


def test_disable_removes_the_directories_enable_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enable", "--prefix", str(tmp_path)]) == 0
    assert main(["disable", "--prefix", str(tmp_path)]) == 0
    assert not (tmp_path / "etc").exists()
    assert list(tmp_path.iterdir()) == []
    out = capsys.readouterr().out
    assert f"removed the directory {tmp_path / 'etc'}" in out


def test_disable_keeps_directories_that_hold_other_files_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enable", "--prefix", str(tmp_path)]) == 0
    other = tmp_path / "etc" / "ipython" / "ipython_config.py"
    other.write_text("c = get_config()\n")
    assert main(["disable", "--prefix", str(tmp_path)]) == 0
    startup = tmp_path / "etc" / "ipython" / "startup"
    assert not startup.exists()  # ours, empty
    assert other.read_text() == "c = get_config()\n"
    out = capsys.readouterr().out
    assert f"left {tmp_path / 'etc' / 'ipython'} (not empty: ipython_config.py" in out


def test_disable_never_removes_a_user_file_that_quotes_our_marker(tmp_path: Path) -> None:
    startup = cmd.startup_dir("sys-prefix", prefix=str(tmp_path))
    startup.mkdir(parents=True)
    mine = f"# my notes: wheelmagic's file starts with\n# {cmd.MARKER}\nprint('mine')\n"
    (startup / cmd.FILENAME).write_text(mine)
    with pytest.raises(WheelmagicError, match="leaving it alone"):
        cmd.disable("sys-prefix", prefix=str(tmp_path))
    with pytest.raises(WheelmagicError, match="leaving"):
        cmd.enable("sys-prefix", prefix=str(tmp_path))
    assert (startup / cmd.FILENAME).read_text() == mine


def test_enable_does_not_overwrite_an_edited_file_and_disable_leaves_it(tmp_path: Path) -> None:
    assert main(["enable", "--prefix", str(tmp_path)]) == 0
    target = cmd.startup_dir("sys-prefix", prefix=str(tmp_path)) / cmd.FILENAME
    edited = cmd.STARTUP_FILE + "import os  # my own addition\n"
    target.write_text(edited)
    with pytest.raises(WheelmagicError, match="changed since wheelmagic wrote it"):
        cmd.enable("sys-prefix", prefix=str(tmp_path))
    assert target.read_text() == edited
    with pytest.raises(WheelmagicError, match="changed since wheelmagic wrote it"):
        cmd.disable("sys-prefix", prefix=str(tmp_path))
    assert target.read_text() == edited


def test_disable_removes_our_unchanged_file_even_without_a_record(tmp_path: Path) -> None:
    startup = cmd.startup_dir("sys-prefix", prefix=str(tmp_path))
    startup.mkdir(parents=True)
    (startup / cmd.FILENAME).write_text(cmd.STARTUP_FILE)
    done = cmd.disable("sys-prefix", prefix=str(tmp_path))
    assert done.what == "removed" and not (startup / cmd.FILENAME).exists()
    assert startup.is_dir()  # enable did not create it: not ours to remove
