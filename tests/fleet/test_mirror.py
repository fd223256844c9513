"""`wheelmagic mirror`: an offline variant index for a fleet, used by each machine alone.

Real CLI runs against a loopback variant index of small real wheels (which counts every
request), recorded platform snapshots for three machine types, real venvs installed from the
mirror with no other index, and a real file-size limit standing in for a disk that fills.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.server import serve_directory

from fleet.plumbing import FleetIndex, expected_build, fleet_env, fleet_venv, machine

pytestmark = [pytest.mark.fleet, pytest.mark.e2e]

KINDS = ("t4", "h100", "cpu")


def mirror(
    out: Path, *platforms: Path, index: str, env: dict[str, str], fsize: int | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "wheelmagic", "mirror", "torch", str(out)]
    for p in platforms:
        argv += ["--platform", str(p)]
    argv += ["--index-url", index]

    def limit() -> None:  # a disk that fills: writes past `fsize` bytes fail with EFBIG
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=600, preexec_fn=limit
    )


def tree(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def leftovers(out: Path) -> list[str]:
    return [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def test_mirror_holds_what_each_machine_needs_and_serves_them_offline(
    fleet_index: FleetIndex, tmp_path: Path
) -> None:
    env = fleet_env(tmp_path, WHEELMAGIC_CACHE_DIR=str(tmp_path / "cache"))
    out = tmp_path / "mirror"
    before = fleet_index.wheel_downloads()
    ran = mirror(out, *(machine(k) for k in KINDS), index=fleet_index.url, env=env)
    assert ran.returncode == 0, ran.stderr
    wheels = sorted(p.name for p in (out / "files").glob("*.whl"))
    assert wheels == [
        "mpdep-1.0-py3-none-any.whl",
        "torch-2.14.1-py3-none-any-cuda12.8.whl",
        "torch-2.14.1-py3-none-any-cuda13.0.whl",
        "torch-2.14.1-py3-none-any-null.whl",
    ]
    assert (out / "files" / "torch-2.14.1-variants.json").is_file()
    # each file is the index's own (the same bytes as the wheels it was built from)
    for name in wheels:
        assert (out / "files" / name).read_bytes() == (fleet_index.wheels / name).read_bytes()
    assert fleet_index.wheel_downloads() - before == 4  # each file once, mpdep too
    manifest = json.loads((out / "mirror.json").read_text())
    chosen = {Path(m["snapshot"]).name: m["chosen"] for m in manifest["machines"]}
    assert chosen[machine("h100").name] == ["torch-2.14.1-py3-none-any-cuda13.0.whl"]
    assert not leftovers(out)

    # a re-run fetches nothing and writes the same index
    first = tree(out)
    before = fleet_index.wheel_downloads()
    again = mirror(out, *(machine(k) for k in KINDS), index=fleet_index.url, env=env)
    assert again.returncode == 0, again.stderr
    assert fleet_index.wheel_downloads() == before
    assert "0 files downloaded, 4 reused" in again.stdout
    assert {k: v for k, v in tree(out).items() if k != "mirror.json"} == {
        k: v for k, v in first.items() if k != "mirror.json"
    }

    # each machine installs from the mirror alone: file:// for two, http for the third
    fleet_index.server.requests.clear()
    with serve_directory(out) as srv:
        for kind in KINDS:
            venv = fleet_venv(tmp_path / f"venv-{kind}")
            url = srv.url("simple/") if kind == "cpu" else (out / "simple").as_uri() + "/"
            got = subprocess.run(
                [
                    str(venv.bin / "wheelmagic"),
                    "install",
                    "torch",
                    "--yes",
                    "--index-url",
                    url,
                    "--platform",
                    str(machine(kind)),
                ],
                capture_output=True,
                text=True,
                env=fleet_env(
                    tmp_path / kind, WHEELMAGIC_CACHE_DIR=str(tmp_path / f"cache-{kind}")
                ),
                timeout=300,
            )
            assert got.returncode == 0, got.stderr
            assert venv.torch_build() == expected_build(kind)
            assert venv.run("import mpdep; print(mpdep.__version__)") == "1.0"
        assert srv.count("/files/torch-2.14.1-py3-none-any-null.whl") == 1
    assert fleet_index.server.requests == []  # the original index was never asked


def test_a_directory_of_snapshots_is_every_machine_in_it(
    fleet_index: FleetIndex, tmp_path: Path
) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for kind in ("t4", "cpu"):
        shutil.copy(machine(kind), fleet / f"{kind}.json")
    out = tmp_path / "mirror"
    ran = mirror(out, fleet, index=fleet_index.url, env=fleet_env(tmp_path))
    assert ran.returncode == 0, ran.stderr
    assert sorted(p.name for p in (out / "files").glob("torch-*.whl")) == [
        "torch-2.14.1-py3-none-any-cuda12.8.whl",
        "torch-2.14.1-py3-none-any-null.whl",
    ]


def test_bad_snapshot_names_the_file_and_leaves_out_dir_as_it_was(
    fleet_index: FleetIndex, tmp_path: Path
) -> None:
    env = fleet_env(tmp_path)
    out = tmp_path / "mirror"
    assert mirror(out, machine("cpu"), index=fleet_index.url, env=env).returncode == 0
    kept = tree(out)
    bad = tmp_path / "gpu-node.json"
    bad.write_text(json.dumps({"hostname": "gpu-node-7", "gpus": 8}))
    before = fleet_index.wheel_downloads()
    ran = mirror(out, machine("h100"), bad, index=fleet_index.url, env=env)
    assert ran.returncode != 0
    assert f"not a platform snapshot: {bad}: " in ran.stderr and "detect --json" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert fleet_index.wheel_downloads() == before  # checked before anything is fetched
    assert tree(out) == kept and not leftovers(out)


def test_a_disk_that_fills_names_the_machine_and_file_and_writes_nothing(
    fleet_index: FleetIndex, tmp_path: Path
) -> None:
    out = tmp_path / "mirror"
    # the cache holds the torch files already (a full disk under OUT_DIR, not the cache)
    warm = fleet_env(tmp_path, WHEELMAGIC_CACHE_DIR=str(tmp_path / "cache"))
    assert (
        mirror(tmp_path / "warm", machine("h100"), index=fleet_index.url, env=warm).returncode == 0
    )
    ran = mirror(out, machine("h100"), index=fleet_index.url, env=warm, fsize=64 << 10)
    assert ran.returncode != 0
    assert "Traceback" not in ran.stderr, ran.stderr
    assert "nvidia-h100-driver580.snapshot.json" in ran.stderr, ran.stderr
    assert "torch-2.14.1-py3-none-any-cuda13.0.whl" in ran.stderr or "mpdep" in ran.stderr
    assert "free disk space" in ran.stderr
    assert not out.exists() and not leftovers(out)
    # the same with a previous mirror in place: it is left as it was
    assert mirror(out, machine("cpu"), index=fleet_index.url, env=warm).returncode == 0
    kept = tree(out)
    ran = mirror(out, machine("h100"), index=fleet_index.url, env=warm, fsize=64 << 10)
    assert ran.returncode != 0 and "free disk space" in ran.stderr, ran.stderr
    assert tree(out) == kept and not leftovers(out)
    assert os.access(out, os.W_OK)
