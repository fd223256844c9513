"""Issue 11, items 7 and 8: an index password never reaches a message, a record or argv.

Real pip and uv against a loopback index that needs `alice:s3cret`, into a real throwaway
venv; the installers are started through wrapper scripts that record their real argv (what
every local user can read in `/proc/PID/cmdline`). The import hook's failed fix runs in a real
process, and every file it leaves in the cache (attempts.json, installer logs) is searched.

pip and uv both print index URLs with the password masked themselves; our own messages did
not (`... (dependencies from http://alice:s3cret@...)`), and `--find-links` went on argv.
"""

from __future__ import annotations

import base64
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.e2e import hook_env
from support.server import Server, make_wheel, serve_directory
from support.wheels import build_wheel

from wheelmagic.index.constraints import ConstraintFile
from wheelmagic.install.backends import (
    Backend,
    BackendFailed,
    InstallRequest,
    PipBackend,
    UvBackend,
    find_uv,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret"
NO_GPU = '{"os": "linux", "arch": "x86_64", "cpu": {"x86_64_level": 3}}'
H100 = ROOT / "tests" / "data" / "platforms" / "nvidia-h100-driver580.snapshot.json"


@dataclass(frozen=True)
class Indexes:
    index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    constraints: tuple[ConstraintFile, ...] = ()


def _with_password(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@", 1)


def _recorder(path: Path, real: str, log: Path) -> str:
    """An executable that appends its argv (one line) to `log`, then runs `real`."""
    path.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(log))}\n'
        f'exec {shlex.quote(real)} "$@"\n'
    )
    path.chmod(0o755)
    return str(path)


@pytest.fixture(scope="module")
def needs_missing_dep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """An index with nothing on it, a find-links page, and a wheel needing a missing project."""
    d = tmp_path_factory.mktemp("secret-index")
    (d / "simple").mkdir()
    (d / "simple" / "index.html").write_text("<html><body></body></html>")
    (d / "links").mkdir()
    (d / "links" / "index.html").write_text("<html><body></body></html>")
    wheels = d / "wheels"
    wheels.mkdir()
    wheel = make_wheel(wheels, "demo", "1.0")
    # the wheel requires a project no index has, so the installer fails after asking
    import zipfile

    bad = wheels / "needy-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            name = item.filename.replace("demo", "needy")
            if name.endswith("METADATA"):
                data = data.replace(b"demo", b"needy") + b"Requires-Dist: wm-missing-dep-zz\n"
            dst.writestr(name, data)
    with serve_directory(d) as srv:
        yield srv, bad


def _saw_password(srv: Server, prefix: str) -> bool:
    token = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    return any(
        r.path.startswith(prefix) and r.headers.get("Authorization", "") == f"Basic {token}"
        for r in srv.requests
    )


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_installer_failure_and_argv_never_show_the_password(
    needs_missing_dep: tuple[Server, Path], tmp_path: Path, installer: str
) -> None:
    srv, wheel = needs_missing_dep
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    argv_log = tmp_path / "argv.log"
    backend: Backend
    if installer == "pip":
        python = _recorder(tmp_path / "python", str(venv / "bin" / "python"), argv_log)
        backend = PipBackend()
    else:
        uv = find_uv()
        if uv is None:
            pytest.skip("uv is not installed")
        python = str(venv / "bin" / "python")
        backend = UvBackend(_recorder(tmp_path / "uv", uv, argv_log))
    indexes = Indexes(
        index_urls=(_with_password(srv.url("simple/")),),
        find_links=(_with_password(srv.url("links/")),),
    )
    request = InstallRequest(
        python=python,
        wheels=(wheel,),
        indexes=indexes,
        env={"UV_CACHE_DIR": str(tmp_path / "uv-cache")},
    )
    lines: list[str] = []
    with pytest.raises(BackendFailed) as caught:
        backend.install(request, log=lines.append)
    err = caught.value
    assert "wm-missing-dep-zz" in err.output.lower().replace("_", "-")  # it failed for real
    for text in (str(err), err.message, err.hint or "", err.output, *lines, *err.argv):
        assert SECRET not in text, text
    assert "alice:****@" in err.message  # still says which index, without the secret
    recorded = argv_log.read_text()
    assert "install" in recorded and SECRET not in recorded, recorded
    # the credentials did reach the installer (through its environment): it used the links
    assert _saw_password(srv, "/links/"), [(r.path, r.headers) for r in srv.requests]


# -- the import hook: cell output (stderr of the process) and the files it leaves --------


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    v = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(v)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(v), "platbase": str(v)})["purelib"])
    (site / "zz_wheelmagic.pth").write_text(f"{ROOT}\n{sysconfig.get_paths()['purelib']}\n")
    return v


def test_hook_fix_failure_hides_the_password_in_output_and_records(
    venv: Path, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "torch", "2.9.0", label="cuda12.8")
    build_wheel(wheels, "torch", "2.9.0", label="null", requires=["wm-missing-dep-zz"])
    www = tmp_path / "www"
    subprocess.run(
        [sys.executable, "-m", "wheelmagic", "index", "build", str(wheels), str(www)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    cache = tmp_path / "cache"
    no_gpu = tmp_path / "no-gpu.json"
    no_gpu.write_text(NO_GPU)
    with serve_directory(www) as srv:
        url = _with_password(srv.url("simple/"))
        py = str(venv / "bin" / "python")
        setup = subprocess.run(
            [py, "-m", "wheelmagic", "install", "torch==2.9.0", "--variant", "cuda12.8", "--yes"],
            env=hook_env(cache, str(H100), url),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert setup.returncode == 0, setup.stderr
        r = subprocess.run(
            [py, "-c", "import wheelmagic.hook as h; h.install(); import torch"],
            env=hook_env(cache, str(no_gpu), url),
            capture_output=True,
            text=True,
            timeout=300,
            cwd=venv,
        )
    assert r.returncode == 0, r.stderr  # the old build still imports
    assert "the fix failed" in r.stderr, r.stderr
    assert SECRET not in r.stdout + r.stderr, r.stderr
    assert (cache / "attempts.json").is_file()
    leaked = [p for p in cache.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert leaked == [], leaked


def test_errors_carry_redacted_text_only() -> None:
    """The one redaction rule, applied to free text (an installer's or an exception's)."""
    from wheelmagic.index.urls import redact, redact_text

    text = (
        "ERROR: cannot fetch http://alice:s3cret@h/simple/x/ and https://tok@h2/s "
        "(see file:///tmp/a@b)"
    )
    out = redact_text(text)
    assert SECRET not in out and "tok@" not in out
    assert "http://alice:****@h/simple/x/" in out and "https://****@h2/s" in out
    assert redact("http://alice:s3cret@h/simple/") in out
    assert redact_text(out) == out
