"""After `wheelmagic enable --user`, IPython in an environment without wheelmagic prints
nothing at start (issue 13 item 10)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

from wheelmagic.commands import enable as cmd


def test_user_startup_file_is_silent_where_wheelmagic_is_not_installed(tmp_path: Path) -> None:
    # a venv that sees this run's IPython but not wheelmagic: a plain path line in a .pth adds
    # the directory without running its .pth files (wheelmagic's editable finder is one)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = str(venv / "bin" / "python")
    probe = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util as u; print(bool(u.find_spec('IPython')), "
            "bool(u.find_spec('wheelmagic')))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,  # not the checkout: its wheelmagic/ would be importable from the cwd
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # no PYTHONPATH either
    )
    assert probe.stdout.split() == ["True", "False"], probe

    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / cmd.FILENAME).write_text(cmd.STARTUP_FILE)  # what `enable --user` writes
    ran = subprocess.run(
        [
            python,
            "-m",
            "IPython",
            "--no-banner",
            "--colors=nocolor",
            "--HistoryManager.enabled=False",
            "-c",
            "print('started')",
        ],
        capture_output=True,
        text=True,
        env={
            "IPYTHONDIR": str(tmp_path / "ipython"),
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
        },
        timeout=120,
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "started" and "wheelmagic" not in ran.stderr, (
        ran.stdout + ran.stderr
    )
