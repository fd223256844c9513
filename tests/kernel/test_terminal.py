"""Terminal IPython: a restart re-execs IPython in place (same pid), history kept, and the
new shell confirms what is installed as soon as the extension loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kernel.harness import kernel_env, make_kernel_venv

pytestmark = pytest.mark.kernel

pexpect = pytest.importorskip("pexpect")

PROMPT = re.compile(r"In \[(\d+)\]: ")


def test_terminal_ipython_restarts_in_place(tmp_path: Path) -> None:
    venv = make_kernel_venv(tmp_path)  # startup file enabled: the extension loads itself
    env = kernel_env(tmp_path, TERM="dumb")
    child = pexpect.spawn(
        venv.python,
        ["-m", "IPython", "--colors=NoColor", "--no-banner", "--simple-prompt"],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 200),
    )
    try:
        child.expect(PROMPT)
        child.sendline("import os; print('PID', os.getpid())")
        child.expect(r"PID (\d+)")
        pid = child.match.group(1)
        child.expect(PROMPT)
        child.sendline(
            "from wheelmagic.kernel.restart import restart_kernel; "
            "restart_kernel('a test asked for it', packages=['packaging'])"
        )
        child.expect("restarting IPython \\(a test asked for it\\)")
        # the new IPython: the startup file loads the extension, which confirms at once
        child.expect("wheelmagic: kernel restarted; now installed: packaging ")
        child.expect(PROMPT)
        assert child.match.group(1) == "1"  # a fresh shell
        child.sendline("import os; print('PID', os.getpid())")
        child.expect(r"PID (\d+)")
        assert child.match.group(1) == pid  # exec'd in place
        child.expect(PROMPT)
        # history of the previous session was saved before the exec
        child.sendline("%history -g restart_kernel")
        child.expect("restart_kernel\\('a test asked for it'")
        child.expect(PROMPT)
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
