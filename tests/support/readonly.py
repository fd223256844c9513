"""Make a directory really read-only for a test, also when the tests run as root."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[str]:
    """Make `directory` really read-only for this process; yields how.

    As root, permission bits are ignored, so: a read-only bind mount of the directory over
    itself (needs CAP_SYS_ADMIN), else the immutable attribute (`chattr +i`, needs a file
    system that has it). As another user: `chmod a-w`. Skips when none of these is available.
    """
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            yield "chmod 0555 (not root)"
        finally:
            directory.chmod(mode)
        return
    d = str(directory)
    mounted = subprocess.run(["mount", "--bind", d, d], capture_output=True).returncode == 0
    if mounted:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", d], capture_output=True)
        if ro.returncode == 0:
            try:
                yield "read-only bind mount"
            finally:
                subprocess.run(["umount", d], check=True)
            return
        subprocess.run(["umount", d], check=True)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", d]).returncode == 0:
        try:
            yield "chattr +i"
        finally:
            subprocess.run(["chattr", "-i", d], check=True)
        return
    pytest.skip("root, and neither a read-only bind mount nor chattr +i is available here")
