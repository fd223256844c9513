"""What each start-up entry point imports, listed (`sys.modules` of a real process), and that the remembered verdict is what `preinstall` and the hook answer from.

The entry points: `wheelmagic preinstall` when its remembered "fits" holds, the import hook's
check on `import torch` when its remembered "fits" holds, and `%load_ext wheelmagic`. None of
them may import the engine, `packaging`, httpx, the GPU probes or `subprocess`; a change the
verdict depends on sends both back to the full path (which then remembers again).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).parents[1] / "data" / "platforms" / "cpu-x86_64-v3.snapshot.json"

#: never on a fast path (the modules the full path needs)
HEAVY = (
    "packaging",
    "httpx",
    "httpcore",
    "pynvml",
    "subprocess",
    "filelock",
    "installer",
    "traitlets",
    "wheelmagic.app",
    "wheelmagic.install",
    "wheelmagic.index",
    "wheelmagic.installed",
    "wheelmagic.interpreter",
    "wheelmagic.platform",
    "wheelmagic.pytorch",
    "wheelmagic.hook.policy",
)


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """This interpreter with a torch 2.13.0+cpu (a stand-in package) on PYTHONPATH, planned
    for a recorded CPU-only machine."""
    site = tmp_path / "site"
    d = site / "torch-2.13.0+cpu.dist-info"
    d.mkdir(parents=True)
    (d / "METADATA").write_text("Metadata-Version: 2.4\nName: torch\nVersion: 2.13.0+cpu\n\n")
    (d / "RECORD").write_text(f"{d.name}/METADATA,,\n")
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text("")
    (site / "torch" / "version.py").write_text("__version__ = '2.13.0+cpu'\ncuda = None\n")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(site),
        "WHEELMAGIC_PLATFORM": str(SNAPSHOT),
        "WHEELMAGIC_CACHE_DIR": str(tmp_path / "cache"),
        "IPYTHONDIR": str(tmp_path / "ipy"),
    }


#: runs the CLI in process, then prints (on stderr, last line) every module it imported
_CLI = r"""
import sys
from wheelmagic.cli import main
rc = main(sys.argv[1:])
mods = sorted(sys.modules)
import json
print(json.dumps(mods), file=sys.stderr)
sys.exit(rc)
"""


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, env=env, timeout=120
    )


def _preinstall(env: dict[str, str], *reqs: str) -> tuple[dict[str, object], set[str]]:
    proc = _run(["-c", _CLI, "preinstall", *(reqs or ("torch",)), "--json"], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout), set(json.loads(proc.stderr.strip().splitlines()[-1]))


PREINSTALL_FAST = {
    "wheelmagic",
    "wheelmagic.cli",
    "wheelmagic.errors",
    "wheelmagic.commands",
    "wheelmagic.commands.preinstall",
    "wheelmagic.options",
    "wheelmagic.verdict",
    "wheelmagic._fs",
}


def test_preinstall_remembers_fits_and_the_no_op_imports_only_this(
    env: dict[str, str], tmp_path: Path
) -> None:
    first, mods = _preinstall(env)
    assert first["status"] == "fits" and "remembered" not in first
    assert "wheelmagic.app" in mods  # the full path the first time

    again, mods = _preinstall(env)
    assert again["status"] == "fits" and again["remembered"] is True
    assert again["message"] == first["message"]
    assert {m for m in mods if m.startswith("wheelmagic")} == PREINSTALL_FAST
    assert _heavy(mods) == []

    # pip rewrote torch's files: the full path again, which remembers again
    record = tmp_path / "site" / "torch-2.13.0+cpu.dist-info" / "RECORD"
    st = record.stat()
    os.utime(record, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third, mods = _preinstall(env)
    assert "remembered" not in third and "wheelmagic.app" in mods
    fourth, _ = _preinstall(env)
    assert fourth["remembered"] is True


def test_preinstall_with_a_changed_requirement_checks_again(env: dict[str, str]) -> None:
    _preinstall(env)
    got, _ = _preinstall(env, "torch==2.13.0")
    assert "remembered" not in got


_HOOK = r"""
import json, sys
import wheelmagic.hook
wheelmagic.hook.install()
before = set(sys.modules)
import torch
print(json.dumps([sorted(set(sys.modules) - before), sorted(sys.modules)]))
"""


def _hook(env: dict[str, str]) -> tuple[list[str], set[str]]:
    """(what `import torch` imported, everything imported by the end)"""
    proc = _run(["-c", _HOOK], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    during, everything = json.loads(proc.stdout.strip().splitlines()[-1])
    return during, set(everything)


def test_hook_check_answers_from_the_remembered_verdict(env: dict[str, str]) -> None:
    during, _ = _hook(env)
    assert "wheelmagic.hook.policy" in during and "wheelmagic.app" in during  # the doctor ran

    during, mods = _hook(env)
    ours = {m for m in during if m.startswith("wheelmagic")}
    assert ours == {"wheelmagic.verdict", "wheelmagic._fs"}, during
    assert _heavy(mods) == []
    # `import wheelmagic.hook` itself: the finder only
    assert {m for m in mods if m.startswith("wheelmagic")} == {
        "wheelmagic",
        "wheelmagic.hook",
        "wheelmagic.hook.finder",
        "wheelmagic.verdict",
        "wheelmagic._fs",
    }

    # another GPU made visible: the doctor runs again
    during, _ = _hook({**env, "CUDA_VISIBLE_DEVICES": "1"})
    assert "wheelmagic.app" in during


def test_hook_with_a_broken_record_runs_the_doctor(env: dict[str, str]) -> None:
    _hook(env)
    for rec in (Path(env["WHEELMAGIC_CACHE_DIR"]) / "verdicts").iterdir():
        rec.write_text("{not json")
    during, _ = _hook(env)
    assert "wheelmagic.app" in during
    during, _ = _hook(env)
    assert "wheelmagic.app" not in during  # and the record was written afresh


_LOAD_EXT = r"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = set(sys.modules)
ip.run_line_magic("load_ext", "wheelmagic")
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_load_ext_imports_only_this(env: dict[str, str]) -> None:
    proc = _run(["-c", _LOAD_EXT], env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    new = set(json.loads(proc.stdout.strip().splitlines()[-1]))
    assert {m for m in new if m.startswith("wheelmagic")} <= {
        "wheelmagic",
        "wheelmagic.extension",
        "wheelmagic.magics",
        "wheelmagic.hook",
        "wheelmagic.hook.finder",
        "wheelmagic.kernel",
        "wheelmagic._fs",
    }
    assert _heavy(new) == []
