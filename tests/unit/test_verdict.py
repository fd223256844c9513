"""The remembered verdict (wheelmagic.verdict): given back only while nothing it depends on
changed. One case per fact in the fingerprint, on real files (a site directory, a fake
interpreter file, a directory standing in for /proc, /sys and /dev); correctness, not speed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from wheelmagic import verdict

SNAPSHOT = Path(__file__).parents[1] / "data" / "platforms" / "cpu-x86_64-v3.snapshot.json"


class World:
    """A target: an interpreter file, two search-path entries, a system root, an environment."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.venv = tmp / "venv"
        (self.venv / "bin").mkdir(parents=True)
        self.python = self.venv / "bin" / "python"
        self.python.write_text("#!interpreter\n")
        (self.venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
        self.site = tmp / "site"
        self.user = tmp / "user-site"
        self.site.mkdir()
        self.user.mkdir()
        self.root = tmp / "root"
        self.write(
            "proc/driver/nvidia/version",
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06\n",
        )
        self.write("sys/module/nvidia/version", "580.65.06\n")
        self.write("proc/driver/nvidia/gpus/0000:01:00.0/information", "Model: NVIDIA H100\n")
        self.env: dict[str, str] = {"CUDA_VISIBLE_DEVICES": "0", "HOME": "/home/x"}
        self.cache = tmp / "cache"
        self.dist("torch", "2.13.0+cpu", variant=True)

    def write(self, rel: str, text: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        return p

    def dist(
        self, name: str, version: str, *, where: Path | None = None, variant: bool = False
    ) -> Path:
        site = where or self.site
        d = site / f"{name}-{version}.dist-info"
        d.mkdir()
        (d / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n\n")
        (d / "RECORD").write_text(f"{d.name}/METADATA,,\n")
        if variant:
            (d / "variant.json").write_text('{"variants": {"null": {}}}')
        (site / name).mkdir(exist_ok=True)
        (site / name / "version.py").write_text(f"__version__ = {version!r}\n")
        return d

    @property
    def path(self) -> list[str]:
        return [str(self.site), str(self.user)]

    def fingerprint(self) -> verdict.Fingerprint:
        return verdict.fingerprint(
            str(self.python),
            self.path,
            ["torch", "torchvision"],
            environ=self.env,
            sysroot=str(self.root),
        )

    def remember(self) -> None:
        assert verdict.remember(
            "preinstall",
            "k",
            self.fingerprint(),
            search_path=self.path,
            names=["torch", "torchvision"],
            verdict={"status": "fits", "why": "it fits"},
            cache=self.cache,
        )

    def recall(self) -> dict[str, object] | None:
        return verdict.recall(
            "preinstall",
            "k",
            str(self.python),
            environ=self.env,
            cache=self.cache,
            sysroot=str(self.root),
        )


def bump(path: Path, text: str | None = None) -> None:
    """Change a file's content or, with the same content, its mtime (a reinstall's rewrite)."""
    if text is not None:
        path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = World(tmp_path)
    w.remember()
    assert w.recall() == {"status": "fits", "why": "it fits"}
    return w


def _reinstall_other_version(w: World) -> None:
    old = w.site / "torch-2.13.0+cpu.dist-info"
    for f in old.iterdir():
        f.unlink()
    old.rmdir()
    w.dist("torch", "2.14.1+cu130")


def _platform_file_changed(w: World) -> None:
    f = w.tmp / "platform.json"
    f.write_text(SNAPSHOT.read_text())
    w.env["WHEELMAGIC_PLATFORM"] = str(f)
    w.remember()
    assert w.recall() is not None
    bump(f)


CHANGES: dict[str, Callable[[World], object]] = {
    "interpreter replaced (mtime)": lambda w: bump(w.python),
    "venv's pyvenv.cfg changed": lambda w: bump(w.venv / "pyvenv.cfg", "home = /opt/py\n"),
    "pip reinstalled torch (another version)": _reinstall_other_version,
    "torch's RECORD rewritten (same version)": lambda w: bump(
        w.site / "torch-2.13.0+cpu.dist-info" / "RECORD"
    ),
    "torch's variant.json changed": lambda w: bump(
        w.site / "torch-2.13.0+cpu.dist-info" / "variant.json", '{"variants": {"cu": {}}}'
    ),
    "torch's variant.json removed": lambda w: (
        w.site / "torch-2.13.0+cpu.dist-info" / "variant.json"
    ).unlink(),
    "torch/version.py rewritten": lambda w: bump(w.site / "torch" / "version.py", "x = 1\n"),
    "torchvision installed": lambda w: w.dist("torchvision", "0.28.0"),
    "a second torch in a later path entry": lambda w: w.dist("torch", "2.12.0", where=w.user),
    "a search-path entry disappeared": lambda w: w.user.rmdir(),
    "a .pth file added": lambda w: (w.site / "extra.pth").write_text("/elsewhere\n"),
    "driver updated (/proc)": lambda w: bump(
        w.root / "proc/driver/nvidia/version",
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  590.10.01\n",
    ),
    "driver updated (/sys/module)": lambda w: bump(
        w.root / "sys/module/nvidia/version", "590.10.01\n"
    ),
    "driver unloaded": lambda w: (w.root / "sys/module/nvidia/version").unlink(),
    "another GPU added": lambda w: w.write(
        "proc/driver/nvidia/gpus/0000:02:00.0/information", "Model: NVIDIA H100\n"
    ),
    "the GPU swapped in the same slot": lambda w: bump(
        w.root / "proc/driver/nvidia/gpus/0000:01:00.0/information", "Model: GeForce GTX 1080 Ti\n"
    ),
    "amdgpu loaded": lambda w: w.write("sys/module/amdgpu/version", "6.10.5\n"),
    "WSL2 /dev/dxg appeared": lambda w: w.write("dev/dxg", ""),
    "CUDA_VISIBLE_DEVICES changed": lambda w: w.env.update(CUDA_VISIBLE_DEVICES="1"),
    "CUDA_VISIBLE_DEVICES unset": lambda w: w.env.pop("CUDA_VISIBLE_DEVICES"),
    "an override set": lambda w: w.env.update(NV_VARIANT_PROVIDER_FORCE_SM_ARCH="8.0"),
    "a uv override set": lambda w: w.env.update(UV_CUDA_DRIVER_VERSION="570.0"),
    "WHEELMAGIC_PLATFORM set": lambda w: w.env.update(WHEELMAGIC_PLATFORM=str(SNAPSHOT)),
    "the WHEELMAGIC_PLATFORM file changed": _platform_file_changed,
    "PYTHONPATH set": lambda w: w.env.update(PYTHONPATH="/elsewhere"),
    "wheelmagic upgraded": lambda w: setattr(verdict, "__version__", "99.0"),
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_any_change_it_depends_on_forgets_the_verdict(
    world: World, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verdict, "__version__", verdict.__version__)  # restored after the test
    CHANGES[change](world)
    assert world.recall() is None
    # the full path then refreshes the record, which holds again
    world.remember()
    assert world.recall() == {"status": "fits", "why": "it fits"}


UNRELATED: dict[str, Callable[[World], object]] = {
    "another package installed": lambda w: w.dist("numpy", "2.3.0"),
    "an unrelated variable": lambda w: w.env.update(HOME="/root", LANG="C"),
    "an unrelated file in the site": lambda w: (w.site / "six.py").write_text(""),
}


@pytest.mark.parametrize("change", list(UNRELATED), ids=list(UNRELATED))
def test_what_it_does_not_depend_on_keeps_the_verdict(world: World, change: str) -> None:
    UNRELATED[change](world)
    assert world.recall() == {"status": "fits", "why": "it fits"}


def test_a_record_written_before_the_check_sees_a_change_made_during_it(world: World) -> None:
    before = world.fingerprint()  # the full path takes this first ...
    bump(world.site / "torch-2.13.0+cpu.dist-info" / "RECORD")  # ... pip runs meanwhile ...
    verdict.remember(
        "preinstall",
        "k",
        before,
        search_path=world.path,
        names=["torch"],
        verdict={"status": "fits"},
        cache=world.cache,
    )
    assert world.recall() is None  # ... so the next start checks again


def _record(w: World) -> Path:
    return Path(verdict.record_path("preinstall", "k", w.cache))


def _into_directory(p: Path) -> None:
    p.unlink()
    p.mkdir()


CORRUPT: dict[str, Callable[[Path], object]] = {
    "not JSON": lambda p: p.write_bytes(b"\x00garbage{"),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:40]),
    "empty": lambda p: p.write_bytes(b""),
    "a list": lambda p: p.write_text("[1, 2]"),
    "another schema": lambda p: p.write_text(
        json.dumps({**json.loads(p.read_text()), "schema": "wheelmagic-verdict/0"})
    ),
    "another key (a hash collision)": lambda p: p.write_text(
        json.dumps({**json.loads(p.read_text()), "key": "other"})
    ),
    "a verdict that is not fits": lambda p: p.write_text(
        json.dumps({**json.loads(p.read_text()), "verdict": {"status": "broken"}})
    ),
    "a search path of numbers": lambda p: p.write_text(
        json.dumps({**json.loads(p.read_text()), "search_path": [1, 2]})
    ),
    "a directory": lambda p: _into_directory(p),
}


@pytest.mark.parametrize("damage", list(CORRUPT), ids=list(CORRUPT))
def test_a_corrupt_or_foreign_record_is_ignored(world: World, damage: str) -> None:
    CORRUPT[damage](_record(world))
    assert world.recall() is None


def test_a_verdict_that_is_not_fits_removes_the_record(world: World) -> None:
    assert not verdict.remember(
        "preinstall",
        "k",
        world.fingerprint(),
        search_path=world.path,
        names=["torch"],
        verdict={"status": "suboptimal"},
        cache=world.cache,
    )
    assert not _record(world).exists()


def test_the_record_is_replaced_atomically(world: World) -> None:
    world.remember()
    leftovers = [p.name for p in _record(world).parent.iterdir() if p.suffix == ".tmp"]
    assert leftovers == []
    assert json.loads(_record(world).read_text())["schema"] == verdict.SCHEMA


def test_cache_clear_removes_the_records(world: World) -> None:
    from wheelmagic.install.cache import WheelCache

    assert _record(world).exists()
    WheelCache(world.cache).clear()
    assert not _record(world).exists()
    assert world.recall() is None
