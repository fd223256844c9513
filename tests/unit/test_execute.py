"""execute(): stage, install with pip or uv, switch variants, and leave the old build working
when anything fails. Small synthetic wheels in throwaway `venv --without-pip` environments."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from support.wait import wait_until
from support.wheels import build_plain_wheel, build_wheel

from wheelmagic.app import restart_needed
from wheelmagic.errors import InstallError
from wheelmagic.index.constraints import ConstraintFile
from wheelmagic.install.backends import PipBackend, UvBackend, find_uv, pip_check
from wheelmagic.install.execute import execute
from wheelmagic.install.lock import LockTimeout, environment_lock
from wheelmagic.install.plan import Plan, PlannedFile
from wheelmagic.interpreter import clear_cache, inspect_interpreter
from wheelmagic.variants.filename import parse_wheel_name

CUDA_PROPS = {"nvidia": {"cuda_version_lower_bound": ["13.0"], "sm_arch": ["90_real"]}}
REQS = ["filelock", "nvidia-cublas==13.1.1.3; variant_label == 'cuda13.0'"]

BACKENDS = ["pip"] + (["uv"] if find_uv() else [])


@dataclass(frozen=True)
class Indexes:
    index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None
    constraints: tuple[ConstraintFile, ...] = ()


@pytest.fixture
def deps(tmp_path: Path) -> Path:
    d = tmp_path / "deps"
    build_plain_wheel(d, "filelock", "3.0")
    build_plain_wheel(d, "nvidia-cublas", "13.1.1.3")
    return d


@pytest.fixture
def venv(tmp_path: Path) -> str:
    v = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(v)], check=True)
    clear_cache()
    return str(v / "bin" / "python")


def planned(path: Path, label: str | None, props: dict | None = None) -> PlannedFile:
    w = parse_wheel_name(path.name)
    props = props or {}
    return PlannedFile(
        name=canonicalize_name(w.name),
        version=w.version,
        filename=path.name,
        label=label,
        url=path.as_uri(),
        index_url="file:///test-index/simple/",
        sha256=None,
        size=path.stat().st_size,
        properties=props,
        supported=props,  # type: ignore[arg-type]
    )


def make_plan(python: str, *files: PlannedFile) -> Plan:
    return Plan(
        ["torch"],
        list(files),
        [],
        platform=None,  # type: ignore[arg-type]
        interpreter=inspect_interpreter(python),
    )


def local(p: PlannedFile) -> Path:
    return Path(p.url.removeprefix("file://"))


def build_of(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import torch; print(torch.__build__)"], capture_output=True, text=True
    )
    return out.stdout.strip() if out.returncode == 0 else f"error: {out.stderr.strip()[-200:]}"


def backend(name: str) -> PipBackend | UvBackend:
    if name == "uv":
        uv = find_uv()
        assert uv
        return UvBackend(uv)
    return PipBackend()


def run(python: str, f: PlannedFile, deps: Path, tmp_path: Path, be: str, **kw: object):
    return execute(
        make_plan(python, f),
        indexes=Indexes(find_links=(str(deps),)),
        cache_dir=tmp_path / "cache",
        backend=backend(be),
        download=local,
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize("be", BACKENDS)
def test_install_then_switch_variant_at_same_version(
    tmp_path: Path, deps: Path, venv: str, be: str
) -> None:
    cpu = planned(build_wheel(tmp_path / "w", label="null", requires=REQS), "null")
    res = run(venv, cpu, deps, tmp_path, be)
    assert build_of(venv) == "cpu"
    assert {c.name: c.action for c in res.changed} == {
        "torch": "installed",
        "filelock": "installed",
    }
    assert {m for c in res.changed for m in c.modules} == {"torch", "filelock"}
    assert restart_needed(res.changed, {"torch.cuda": None}) == {"torch": ["torch"]}
    assert restart_needed(res.changed, ["numpy"]) == {}

    cuda = planned(
        build_wheel(tmp_path / "w", label="cuda13.0", properties=CUDA_PROPS, requires=REQS),
        "cuda13.0",
        CUDA_PROPS,
    )
    res = run(venv, cuda, deps, tmp_path, be)
    assert build_of(venv) == "cuda13.0"
    actions = {c.name: c.action for c in res.changed}
    assert actions == {"torch": "switched", "nvidia-cublas": "installed"}, res.changed
    torch = next(c for c in res.changed if c.name == "torch")
    assert (torch.label_before, torch.label_after) == ("null", "cuda13.0")
    ok, out = pip_check(venv)
    assert ok, out


@pytest.mark.parametrize("be", BACKENDS)
def test_downgrade(tmp_path: Path, deps: Path, venv: str, be: str) -> None:
    new = planned(
        build_wheel(tmp_path / "w", label="cuda13.0", properties=CUDA_PROPS, requires=REQS),
        "cuda13.0",
        CUDA_PROPS,
    )
    run(venv, new, deps, tmp_path, be)
    old = planned(
        build_wheel(tmp_path / "w", version="2.13.0", label="null", requires=REQS), "null"
    )
    res = run(venv, old, deps, tmp_path, be)
    assert build_of(venv) == "cpu"
    assert [c.action for c in res.changed if c.name == "torch"] == ["downgraded"]
    ok, out = pip_check(venv)
    assert ok, out


@pytest.mark.parametrize("be", BACKENDS)
def test_missing_dependency_leaves_previous_build(
    tmp_path: Path, deps: Path, venv: str, be: str
) -> None:
    run(
        venv,
        planned(build_wheel(tmp_path / "w", label="null", requires=REQS), "null"),
        deps,
        tmp_path,
        be,
    )
    bad = planned(
        build_wheel(
            tmp_path / "w",
            label="cuda13.0",
            properties=CUDA_PROPS,
            requires=[*REQS, "nvidia-not-there==1.0"],
        ),
        "cuda13.0",
        CUDA_PROPS,
    )
    with pytest.raises(InstallError) as err:
        run(venv, bad, deps, tmp_path, be)
    text = str(err.value)
    assert "torch-2.14.1-py3-none-any-cuda13.0.whl" in text
    assert "file:///test-index/simple/" in text
    assert "installed as before" in text or "left as it was" in text
    assert err.value.hint
    assert build_of(venv) == "cpu"


@pytest.mark.parametrize("be", BACKENDS)
def test_failure_while_installing_restores_old_files(
    tmp_path: Path, deps: Path, venv: str, be: str
) -> None:
    """The installer dies after removing the old torch: our backup puts it back."""
    run(
        venv,
        planned(build_wheel(tmp_path / "w", label="null", requires=REQS), "null"),
        deps,
        tmp_path,
        be,
    )
    # same version, so both backends must first remove the installed torch; the new wheel
    # has a file that cannot be written (its parent is a file), so the install fails midway
    broken = build_wheel(
        tmp_path / "w2",
        label="cuda13.0",
        properties=CUDA_PROPS,
        requires=REQS,
        extra_files={"torch/version.py/x": b""},
    )
    with pytest.raises(InstallError):
        run(venv, planned(broken, "cuda13.0", CUDA_PROPS), deps, tmp_path, be)
    assert build_of(venv) == "cpu"
    ok, out = pip_check(venv)
    assert ok, out


def test_concurrent_install_waits_then_times_out(tmp_path: Path, deps: Path, venv: str) -> None:
    run(
        venv,
        planned(build_wheel(tmp_path / "w", label="null", requires=REQS), "null"),
        deps,
        tmp_path,
        "pip",
    )
    interp = inspect_interpreter(venv)
    cuda = planned(
        build_wheel(tmp_path / "w", label="cuda13.0", properties=CUDA_PROPS, requires=REQS),
        "cuda13.0",
        CUDA_PROPS,
    )
    messages: list[str] = []
    with environment_lock(interp.sys_prefix, tmp_path / "cache"), pytest.raises(LockTimeout) as err:
        run(venv, cuda, deps, tmp_path, "pip", lock_timeout=0.5, log=messages.append)
    assert "another wheelmagic install" in str(err.value)
    assert any("waiting" in m for m in messages)
    assert build_of(venv) == "cpu"

    # released while the second one waits: it goes ahead, and only then. The first holder
    # keeps the lock until the test says so; every step of both lands in `events`, in order.
    events: list[str] = []
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with environment_lock(interp.sys_prefix, tmp_path / "cache"):
            held.set()
            release.wait(timeout=120)
            events.append("first: releasing")

    first = threading.Thread(target=hold)
    first.start()
    try:
        assert held.wait(timeout=30)
        with ThreadPoolExecutor(1) as pool:
            second = pool.submit(
                run, venv, cuda, deps, tmp_path, "pip", lock_timeout=120, log=events.append
            )
            wait_until(
                lambda: any("waiting" in e for e in events) or second.done(),
                what="the second install to wait for the lock",
            )
            assert not second.done(), second.result()
            assert not any(e.startswith("installing with") for e in events), events
            assert build_of(venv) == "cpu"
            release.set()
            second.result(timeout=300)
    finally:
        release.set()
        first.join(timeout=30)
    installing = next(i for i, e in enumerate(events) if e.startswith("installing with"))
    assert events.index("first: releasing") < installing, events
    assert build_of(venv) == "cuda13.0"


def test_nothing_to_do(tmp_path: Path, venv: str) -> None:
    res = execute(make_plan(venv), cache_dir=tmp_path, download=local)
    assert res.changed == [] and res.backend is None


def test_change_actions() -> None:
    from wheelmagic.install.execute import Change

    assert Change("torch", "2.13.0+cpu", "2.14.1").action == "upgraded"
    assert Change("torch", "2.14.1", "2.13.0").action == "downgraded"
    assert Change("torch", "2.14.1", "2.14.1", "null", "cuda13.0").action == "switched"
    assert Change("torch", "2.14.1+cpu", "2.14.1").action == "switched"
    assert Change("torch", "2.14.1", "2.14.1").action == "reinstalled"
    assert Change("torch", None, "2.14.1").action == "installed"
    assert Version("2.14.1")  # keep the import used


def test_backup_restores_a_partial_install(tmp_path: Path, deps: Path, venv: str) -> None:
    """What the backup does when an installer (uv has no rollback) dies halfway."""
    import shutil

    from wheelmagic.install.lock import Backup, installed_dists

    run(
        venv,
        planned(build_wheel(tmp_path / "w", label="null", requires=REQS), "null"),
        deps,
        tmp_path,
        "pip",
    )
    interp = inspect_interpreter(venv)
    sites = list(interp.site_packages)
    backup = Backup.take(["torch"], sites, interp.sys_prefix, tmp_path / "cache")
    site = Path(sites[0])
    # the installer removed the old torch and wrote part of a new one
    shutil.rmtree(site / "torch")
    shutil.rmtree(site / "torch-2.14.1.dist-info")
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text("raise ImportError('half installed')\n")
    (site / "torch" / "new_only.py").write_text("")
    di = site / "torch-2.15.0.dist-info"
    di.mkdir()
    (di / "RECORD").write_text(
        "torch/__init__.py,,\ntorch/new_only.py,,\ntorch-2.15.0.dist-info/RECORD,,\n"
    )
    assert backup.restore() == ["torch"]
    backup.discard()
    assert build_of(venv) == "cpu"
    assert not (site / "torch" / "new_only.py").exists()
    assert installed_dists(sites)["torch"].version == "2.14.1"
    assert not (Path(interp.sys_prefix) / ".wheelmagic-backup").exists()
