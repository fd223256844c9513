"""Faults beside `test_faults.py`: a server process that dies and comes back, a full disk
(downloading and installing), SIGKILL in the middle of an install, two installs into one venv
at once, and eight processes filling one shared cache.

What must hold: the previous torch still imports (or the next run recovers by itself), the
cache never shows a partial file, and whatever is left behind is cleaned or reused by the next
run. Small synthetic torch wheels, real venvs, the real CLI (and `wheelmagic.install` in real
processes for the cache test).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.e2e import ROOT, Ran, clean_env, make_venv, py, snapshot
from support.server import Fault, Server, free_port, random_file, serve_directory
from support.wheels import build_wheel

from wheelmagic.index.build import build_index

pytestmark = pytest.mark.e2e

NEW = "torch-2.15.0-py3-none-any-null.whl"
OLD_BUILD = "2.14.1+cpu cpu"
NEW_BUILD = "2.15.0+cpu cpu"
#: many small files make pip/uv take seconds: room to kill it or to overlap two installs
MANY_FILES = {f"torch/_m{i}.py": b"X = 1\n" for i in range(2500)}


def wm_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "wheelmagic", *args]


def run(argv: list[str], env: dict[str, str], *, preexec=None, timeout: float = 300) -> Ran:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=str(ROOT),
        preexec_fn=preexec,
    )
    return Ran(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)


@dataclass
class Setup:
    tmp: Path
    wheels: Path
    www: Path
    cache: Path
    env: dict[str, str]
    python: str
    url: str

    @property
    def prefix(self) -> Path:
        return Path(self.python).parent.parent

    def argv(self, req: str = "torch==2.15.0", *extra: str, url: str | None = None) -> list[str]:
        return wm_argv(
            "install",
            req,
            "--yes",
            "--index-url",
            url or self.url,
            "--platform",
            str(snapshot("cpu")),
            "--python",
            self.python,
            *extra,
        )

    def install(
        self,
        req: str = "torch==2.15.0",
        *extra: str,
        env: dict[str, str] | None = None,
        preexec=None,
    ) -> Ran:  # type: ignore[no-untyped-def]
        return run(self.argv(req, *extra), env or self.env, preexec=preexec)

    def add(self, **kw: object) -> Path:
        whl = build_wheel(self.wheels, version="2.15.0", label="null", **kw)  # type: ignore[arg-type]
        build_index(self.wheels, self.www, link="copy")
        return whl

    def build(self) -> str:
        ran = py(self.python, "import torch; print(torch.__version__, torch.__build__)")
        return ran.stdout.strip() if ran.returncode == 0 else "IMPORT FAILED: " + ran.stderr[-300:]

    def pip_check(self) -> Ran:
        return run([sys.executable, "-m", "pip", "--python", self.python, "check"], self.env)

    def backups(self) -> list[Path]:
        d = self.prefix / ".wheelmagic-backup"
        return sorted(d.iterdir()) if d.is_dir() else []

    def cached(self, cache: Path | None = None) -> list[Path]:
        return sorted((cache or self.cache / "wheelmagic").glob("wheels/*/*/*"))


def _setup(tmp: Path, url: str, *, venv_dir: Path | None = None) -> Setup:
    cache = tmp / "cache"
    env = clean_env(cache)
    python = make_venv(venv_dir or tmp / "venv", with_pip=False)
    s = Setup(tmp, tmp / "wheels", tmp / "www", cache, env, python, url)
    ran = s.install("torch==2.14.1")
    assert ran.returncode == 0, ran.output
    assert s.build() == OLD_BUILD
    return s


def _index(tmp: Path) -> Path:
    wheels = tmp / "wheels"
    build_wheel(wheels, version="2.14.1", label="null")
    build_index(wheels, tmp / "www", link="copy")
    return tmp / "www"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    www = _index(tmp_path)
    with serve_directory(www) as srv:
        yield srv, tmp_path


@pytest.fixture
def setup(served: tuple[Server, Path]) -> Setup:
    srv, tmp = served
    return _setup(tmp, srv.url("simple/"))


# ---------------------------------------------------------------------------------------------
# the server process dies mid-download and comes back


def _slow_server(root: str, port: int, path: str, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    slow = {path: Fault("slow", times=None, delay=0.05)}
    with serve_directory(Path(root), port=port, faults=slow) as srv:
        ready.put(srv.base_url)
        time.sleep(3600)


def _client_retries_into_a_dead_port(port: int, proc: subprocess.Popen[str]) -> None:
    """Wait until the client, its connection cut, comes back to the port and fails again.

    The port is held by a bare socket that accepts the retry and closes it unanswered, so the
    test knows the client really met the outage (a retry that failed) before the server is
    back, instead of guessing with a sleep.
    """
    with socket.socket() as down:
        down.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        down.bind(("127.0.0.1", port))
        down.listen(1)
        down.settimeout(60)
        try:
            conn, _ = down.accept()
        except TimeoutError:
            proc.kill()
            pytest.fail("the client never came back to the port after the server died")
        conn.close()


def test_server_process_killed_mid_download_then_back(tmp_path: Path) -> None:
    """kill -9 of the index server mid-file; it restarts on the same port; the same run resumes
    with a Range request and installs the verified file."""
    www = _index(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}/simple/"
    ctx = multiprocessing.get_context("spawn")
    with serve_directory(www, port=port):
        s = _setup(tmp_path, url)
    whl = s.add(payload=4 << 20)
    ready = ctx.Queue()
    server_a = ctx.Process(
        target=_slow_server, args=(str(www), port, f"/files/{NEW}", ready), daemon=True
    )
    server_a.start()
    ready.get(timeout=30)
    proc = subprocess.Popen(
        s.argv(),
        env=s.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
    )
    part_dir = s.cache / "wheelmagic" / "tmp"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = list(part_dir.glob("*/*.part")) if part_dir.is_dir() else []  # tmp/u<uid>/
        if parts and parts[0].stat().st_size > 300_000:
            break
        time.sleep(0.02)
    else:
        proc.kill()
        pytest.fail("the download never started")
    os.kill(server_a.pid, signal.SIGKILL)
    server_a.join(timeout=10)
    _client_retries_into_a_dead_port(port, proc)
    with serve_directory(www, port=port) as server_b:
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    ranged = [r for r in server_b.requests if r.path == f"/files/{NEW}"]
    assert ranged and ranged[0].status == 206, [(r.status, r.headers.get("Range")) for r in ranged]
    assert int(ranged[0].headers["Range"].split("=")[1].rstrip("-")) >= 300_000
    assert s.build() == NEW_BUILD
    [cached] = [p for p in s.cached() if p.name == NEW]
    assert (
        hashlib.sha256(cached.read_bytes()).hexdigest()
        == hashlib.sha256(whl.read_bytes()).hexdigest()
    )
    assert not [p for p in part_dir.rglob("*") if p.is_file()]  # the part moved into the cache


# ---------------------------------------------------------------------------------------------
# disk full


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"cannot mount a tmpfs here ({err})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def remount(path: Path, size: str) -> None:
    subprocess.run(
        ["mount", "-o", f"remount,size={size}", str(path)], check=True, capture_output=True
    )


def _fsize_limit(limit: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("how", ["tmpfs-2MiB-cache", "rlimit-fsize-1MiB"])
def test_disk_full_while_downloading(setup: Setup, how: str) -> None:
    setup.add(payload=3 << 20)
    preexec = None
    env = dict(setup.env)
    mount = setup.tmp / "small"
    with contextlib_for(how, mount) as small:
        if small is not None:
            env["WHEELMAGIC_CACHE_DIR"] = str(small)
            cache = small
        else:
            preexec = _fsize_limit(1 << 20)
            cache = setup.cache / "wheelmagic"
        ran = setup.install(env=env, preexec=preexec)
        assert ran.returncode == 4, ran.output
        assert "Traceback" not in ran.output
        assert NEW in ran.stderr and "could not store" in ran.stderr
        assert "free disk space or set WHEELMAGIC_CACHE_DIR" in ran.stderr
        assert setup.build() == OLD_BUILD  # nothing touched
        assert not [p for p in setup.cached(cache) if p.name == NEW]  # no partial file visible
        parts = list((cache / "tmp").glob("*/*.part"))  # tmp/u<uid>/: the user's own
        assert len(parts) == 1 and 0 < parts[0].stat().st_size < (3 << 20)
        # room again: the same command resumes the kept part and installs
        if small is not None:
            remount(small, "32m")
        ran = setup.install(env=env)
        assert ran.returncode == 0, ran.output
        assert setup.build() == NEW_BUILD
        assert not list((cache / "tmp").glob("*/*.part"))


@contextmanager
def contextlib_for(how: str, mount: Path) -> Iterator[Path | None]:
    if how.startswith("tmpfs"):
        with tmpfs(mount, "2m") as p:
            yield p
    else:
        yield None


@pytest.mark.parametrize("backend", ["pip", "uv"])
def test_disk_full_while_installing(served: tuple[Server, Path], backend: str) -> None:
    """The target environment's disk fills up while the installer writes the new torch."""
    srv, tmp = served
    with tmpfs(tmp / "envdisk", "3m") as disk:
        s = _setup(tmp, srv.url("simple/"), venv_dir=disk / "venv")
        s.add(payload=5 << 20)
        ran = s.install("torch==2.15.0", "--backend", backend)
        assert ran.returncode == 4, ran.output
        assert "could not install torch 2.15.0" in ran.stderr
        assert "installed as before" in ran.stderr
        assert "No space left" in ran.output or "os error 28" in ran.output, ran.output[-3000:]
        assert s.build() == OLD_BUILD
        assert s.pip_check().returncode == 0
        assert s.backups() == []
        remount(disk, "64m")
        ran = s.install("torch==2.15.0", "--backend", backend)
        assert ran.returncode == 0, ran.output
        assert s.build() == NEW_BUILD


# ---------------------------------------------------------------------------------------------
# SIGKILL in the middle of an install


def _wait_for(cond, timeout: float = 120) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return False


def _kill_install(s: Setup, when: str) -> dict[str, object]:
    """Start an install with the pip backend, SIGKILL its process group at `when`."""
    site = Path(
        py(s.python, "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    )
    proc = subprocess.Popen(
        s.argv("torch==2.15.0", "--backend", "pip"),
        env=s.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(ROOT),
        start_new_session=True,
    )
    backup_dir = s.prefix / ".wheelmagic-backup"
    if when == "after-backup":
        reached = lambda: backup_dir.is_dir() and any(backup_dir.iterdir())  # noqa: E731
    else:  # pip is writing the new files
        reached = lambda: (site / "torch" / "_m500.py").exists()  # noqa: E731
    # stop waiting when the install ended by itself: then say how, instead of timing out
    hit = _wait_for(lambda: reached() or proc.poll() is not None) and reached()
    os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert hit, f"never reached {when}; the install exited {proc.returncode}:\n{out}{err}"
    return {"build_after_kill": s.build()}


@pytest.mark.parametrize("when", ["after-backup", "during-installer"])
def test_sigkill_mid_install_next_run_recovers(setup: Setup, when: str) -> None:
    setup.add(extra_files=MANY_FILES)
    state = _kill_install(setup, when)
    # what the code guarantees: the lock died with the process, so the next run goes through
    # and leaves a working, consistent torch
    ran = setup.install("torch==2.15.0", "--backend", "pip")
    assert ran.returncode == 0, (state, ran.output)
    assert "another wheelmagic install" not in ran.output
    assert setup.build() == NEW_BUILD
    check = setup.pip_check()
    assert check.returncode == 0, check.output
    assert state["build_after_kill"] in (OLD_BUILD, NEW_BUILD)  # no half-imported torch here


def test_after_sigkill_the_installed_build_is_read_correctly(setup: Setup) -> None:
    setup.add(extra_files=MANY_FILES)
    _kill_install(setup, "during-installer")
    ran = setup.install("torch==2.15.0", "--backend", "pip")
    assert ran.returncode == 0, ran.output
    ran = setup.install("torch==2.14.1")  # back to the old build
    assert ran.returncode == 0, ran.output
    assert setup.build() == OLD_BUILD, ran.output


def test_sigkill_mid_install_leaves_no_stale_backup(setup: Setup) -> None:
    setup.add(extra_files=MANY_FILES)
    _kill_install(setup, "during-installer")
    ran = setup.install("torch==2.15.0", "--backend", "pip")
    assert ran.returncode == 0, ran.output
    assert setup.backups() == []


# ---------------------------------------------------------------------------------------------
# two installs into one environment at once


def test_two_installs_into_one_venv_are_serialised(setup: Setup) -> None:
    setup.add(extra_files=MANY_FILES)
    procs = [
        subprocess.Popen(
            setup.argv("torch==2.15.0", "--backend", backend),
            env=setup.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(ROOT),
        )
        for backend in ("pip", "uv")
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, out + err
    waited = [out + err for out, err in outs if "another wheelmagic install" in out + err]
    assert len(waited) == 1, outs  # the second one waited for the first, then installed
    assert "waiting for it to finish" in waited[0]
    assert setup.build() == NEW_BUILD
    check = setup.pip_check()
    assert check.returncode == 0, check.output
    assert setup.backups() == []
    assert len(list(setup.prefix.glob("lib/*/site-packages/torch-*.dist-info"))) == 1


# ---------------------------------------------------------------------------------------------
# eight processes filling one shared cache


FETCH = """
import json, sys
from wheelmagic.install.cache import WheelCache
from wheelmagic.install.download import Fetcher
cache, items = sys.argv[1], json.loads(sys.argv[2])
with Fetcher(WheelCache(cache)) as f:
    for url, name, sha, size in items:
        r = f.fetch(url, filename=name, sha256=sha, size=size)
        assert r.path.stat().st_size == size, r.path
print("ok")
"""


def test_eight_processes_fill_one_cache(tmp_path: Path) -> None:
    files = tmp_path / "www" / "files"
    files.mkdir(parents=True)
    shared = [
        random_file(files / f"shared{i}-1.0-py3-none-any.whl", (1 << 20) + i * 4099, i)
        for i in range(4)
    ]
    own = [
        random_file(files / f"own{i}-1.0-py3-none-any.whl", (1 << 19) + i, 10 + i) for i in range(8)
    ]
    meta = {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size) for p in shared + own
    }
    cache = tmp_path / "shared-cache"
    seen_bad: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        """Every file visible under wheels/ must be complete the moment it is seen."""
        while not stop.is_set():
            for p in cache.glob("wheels/*/*/*"):
                if p.name.startswith("."):
                    continue  # a writer's temporary name: never the path a reader asks for
                with suppress(FileNotFoundError):
                    size = p.stat().st_size
                    seen.add(p.name)
                    if size != meta[p.name][1]:
                        seen_bad.append(f"{p.name}: {size} of {meta[p.name][1]} bytes")
            time.sleep(0.001)

    with serve_directory(tmp_path / "www") as srv:
        for p in shared + own:
            srv.faults[f"/files/{p.name}"] = Fault("slow", times=None, delay=0.01)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        procs = []
        for i in range(8):
            mine = shared[i % 4 :] + shared[: i % 4] + [own[i]]
            items = [(srv.url(f"files/{p.name}"), p.name, *meta[p.name]) for p in mine]
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", FETCH, str(cache), json.dumps(items)],
                    cwd=str(ROOT),
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        results = [p.communicate(timeout=300) for p in procs]
        stop.set()
        watcher.join(timeout=10)
        for p, (out, err) in zip(procs, results, strict=True):
            assert p.returncode == 0 and "ok" in out, err
        # each file went over the wire once: the others waited on its lock, then hit the cache
        for p in shared + own:
            assert srv.body_count(f"/files/{p.name}") == 1, (
                p.name,
                srv.statuses(f"/files/{p.name}"),
            )
    assert seen_bad == []
    assert seen == set(meta)
    entries = [p for p in cache.glob("wheels/*/*/*")]
    assert sorted(p.name for p in entries) == sorted(meta)
    for p in entries:
        sha, size = meta[p.name]
        assert p.parent.name == sha and p.stat().st_size == size
        assert hashlib.sha256(p.read_bytes()).hexdigest() == sha
    assert [p for p in (cache / "tmp").rglob("*") if p.is_file()] == []  # no .part, validator
    assert not [p for p in cache.rglob(".*") if p.is_file()]  # no temp names left
