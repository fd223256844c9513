"""Staging: non-variant name, variant markers decided, METADATA + RECORD rewritten, raw copy."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from support.wheels import build_plain_wheel, build_wheel, repack, variant_requirement

from wheelmagic.install.record import record_hash
from wheelmagic.install.stage import (
    StagingError,
    edit_metadata,
    requires_dist,
    rewrite_record,
    rewrite_wheel,
    stage_wheel,
)
from wheelmagic.variants.markers import VariantEnvironment

CUDA_REQS = [
    "filelock",
    "nvidia-cublas==13.1.1.3; platform_system == 'Linux' and variant_label == 'cuda13.0'",
    "nvidia-cudnn-cu13==9.24.0.43; platform_system == \"Linux\" and variant_label == 'cuda13.0'",
    "triton~=3.8.0; platform_system == 'Linux' and 'nvidia' in variant_namespaces",
    "pyyaml; extra == 'pyyaml'",
]
CUDA_PROPS = {"nvidia": {"cuda_version_lower_bound": ["13.0"], "sm_arch": ["90_real"]}}
SUPPORTED = {"nvidia": {"cuda_version_lower_bound": ["13.0", "12.0"], "sm_arch": ["90_real"]}}


def cuda_env() -> VariantEnvironment:
    return VariantEnvironment.for_wheel("cuda13.0", CUDA_PROPS, SUPPORTED)  # type: ignore[arg-type]


def check_wheel(path: Path) -> dict[str, bytes]:
    """The zip is valid and every RECORD row matches the member's bytes."""
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        members = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
    record_name = next(n for n in members if n.endswith(".dist-info/RECORD"))
    rows = list(csv.reader(io.StringIO(members[record_name].decode())))
    listed = {r[0] for r in rows if r}
    assert listed == set(members), set(members) ^ listed
    for name, digest, size in (r for r in rows if r):
        if name == record_name:
            assert digest == "" and size == ""
            continue
        assert digest == record_hash(members[name]), name
        assert int(size) == len(members[name]), name
    return members


def test_stage_rewrites_variant_markers(tmp_path: Path) -> None:
    src = build_wheel(tmp_path / "in", label="cuda13.0", properties=CUDA_PROPS, requires=CUDA_REQS)
    staged = stage_wheel(src, tmp_path / "out", env=cuda_env())
    assert staged.path.name == "torch-2.14.1-py3-none-any.whl"
    assert staged.rewritten
    members = check_wheel(staged.path)
    reqs = requires_dist(members["torch-2.14.1.dist-info/METADATA"].decode())
    assert reqs == [
        "filelock",
        "nvidia-cublas==13.1.1.3; platform_system == 'Linux'",
        'nvidia-cudnn-cu13==9.24.0.43; platform_system == "Linux"',
        "triton~=3.8.0; platform_system == 'Linux'",
        "pyyaml; extra == 'pyyaml'",
    ]
    for r in reqs:
        Requirement(r)  # stock packaging accepts every line
    # variant.json stays, so doctor can read the installed build later
    assert "torch-2.14.1.dist-info/variant.json" in members


def test_stage_drops_requirements_of_other_variants(tmp_path: Path) -> None:
    src = build_wheel(tmp_path / "in", label="null", requires=CUDA_REQS)
    staged = stage_wheel(src, tmp_path / "out", env=VariantEnvironment.null())
    assert staged.requires == ["filelock", "pyyaml; extra == 'pyyaml'"]
    assert len(staged.dropped) == 3
    check_wheel(staged.path)


def test_unchanged_metadata_is_copied_not_rewritten(tmp_path: Path) -> None:
    src = build_wheel(tmp_path / "in", label="null", requires=["filelock"])
    staged = stage_wheel(src, tmp_path / "out", env=VariantEnvironment.null())
    assert not staged.rewritten
    assert staged.path.name == "torch-2.14.1-py3-none-any.whl"
    assert staged.path.read_bytes() == src.read_bytes()
    # a copy, not a hard link: the download cache touches its files' mtime, uv keys on it
    assert os.stat(staged.path).st_ino != os.stat(src).st_ino


def test_stage_reuses_existing_output(tmp_path: Path) -> None:
    src = build_wheel(tmp_path / "in", label="cuda13.0", properties=CUDA_PROPS, requires=CUDA_REQS)
    first = stage_wheel(src, tmp_path / "out", env=cuda_env())
    mtime = first.path.stat().st_mtime_ns
    second = stage_wheel(src, tmp_path / "out", env=cuda_env())
    assert second.path == first.path and second.path.stat().st_mtime_ns == mtime


def test_untouched_members_are_copied_raw(tmp_path: Path) -> None:
    src = build_wheel(
        tmp_path / "in",
        label="cuda13.0",
        properties=CUDA_PROPS,
        requires=CUDA_REQS,
        payload=200_000,
    )
    staged = stage_wheel(src, tmp_path / "out", env=cuda_env())
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(staged.path) as b:
        old = {i.filename: i for i in a.infolist()}
        for info in b.infolist():
            if info.filename.endswith(("METADATA", "RECORD")):
                continue
            o = old[info.filename]
            assert (info.CRC, info.compress_size, info.compress_type) == (
                o.CRC,
                o.compress_size,
                o.compress_type,
            )
            raw_a = _raw(src, o)
            raw_b = _raw(staged.path, info)
            assert raw_a == raw_b


def _raw(path: Path, info: zipfile.ZipInfo) -> bytes:
    with open(path, "rb") as f:
        f.seek(info.header_offset + 26)
        n, m = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
        f.seek(info.header_offset + 30 + n + m)
        return f.read(info.compress_size)


def test_members_with_data_descriptors(tmp_path: Path) -> None:
    """Streamed zips (flag bit 3) get fresh local headers; the result stays valid."""

    class Unseekable(io.RawIOBase):
        def __init__(self, f: io.BufferedWriter) -> None:
            self.f = f

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            return self.f.write(b)

    files = {
        "pkg/__init__.py": b"x = 1\n" * 100,
        "pkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Dist: a; variant_label == 'x'\n",
    }
    record = "".join(f"{n},{record_hash(d)},{len(d)}\n" for n, d in files.items())
    files["pkg-1.0.dist-info/RECORD"] = (record + "pkg-1.0.dist-info/RECORD,,\n").encode()
    src = tmp_path / "pkg-1.0-py3-none-any.whl"
    with open(src, "wb") as raw, zipfile.ZipFile(Unseekable(raw), "w", zipfile.ZIP_DEFLATED) as zf:  # type: ignore[arg-type]
        for n, d in files.items():
            with zf.open(n, "w") as w:
                w.write(d)
    with zipfile.ZipFile(src) as zf:
        assert all(i.flag_bits & 0x08 for i in zf.infolist())
    dst = tmp_path / "out.whl"
    rewrite_wheel(
        src,
        dst,
        replace={"pkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"},
    )
    members = check_wheel(dst)
    assert members["pkg/__init__.py"] == files["pkg/__init__.py"]
    out = subprocess.run([sys.executable, "-m", "zipfile", "-t", str(dst)], capture_output=True)
    assert out.returncode == 0


def test_rename_and_add_like_the_repacker(tmp_path: Path) -> None:
    src = build_wheel(tmp_path / "in", version="2.13.0", requires=["filelock"])
    dst = tmp_path / "renamed.whl"
    rewrite_wheel(
        src,
        dst,
        rename=lambda n: n.replace("torch-2.13.0.dist-info", "torch-2.13.0x.dist-info"),
        add={"torch-2.13.0x.dist-info/variant.json": b"{}"},
    )
    members = check_wheel(dst)
    assert "torch-2.13.0x.dist-info/variant.json" in members
    assert not any(n.startswith("torch-2.13.0.dist-info/") for n in members)
    names = list(members)
    assert names[-1].endswith("RECORD")


def test_edit_metadata_keeps_everything_else() -> None:
    text = (
        "Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0+cpu\nSummary: x\n"
        "Description: long\n  continued line\nRequires-Dist: a\nProvides-Extra: e\n"
        "Requires-Dist: b; extra == 'e'\n\nBody text\nRequires-Dist: not-a-header\n"
    )
    assert edit_metadata(text, requires=["a", "b; extra == 'e'"]) == text.replace(
        "Provides-Extra: e\nRequires-Dist: b; extra == 'e'\n", "Provides-Extra: e\n"
    ).replace("Requires-Dist: a\n", "Requires-Dist: a\nRequires-Dist: b; extra == 'e'\n")
    out = edit_metadata(text, version="2.13.0")
    assert "Version: 2.13.0\n" in out and "2.13.0+cpu" not in out
    assert requires_dist(text) == ["a", "b; extra == 'e'"]
    assert edit_metadata(text) == text


def test_rewrite_record_rehashes_and_renames() -> None:
    record = b"a/x.py,sha256=old,3\nd-1.dist-info/METADATA,sha256=old,5\nd-1.dist-info/RECORD,,\n"
    out = rewrite_record(
        record,
        record_path="d-1.dist-info/RECORD",
        contents={"d-1.dist-info/METADATA": b"new", "d-1.dist-info/v.json": b"{}"},
    )
    rows = list(csv.reader(io.StringIO(out.decode())))
    assert rows[0] == ["a/x.py", "sha256=old", "3"]
    assert rows[1] == ["d-1.dist-info/METADATA", record_hash(b"new"), "3"]
    assert rows[2] == ["d-1.dist-info/v.json", record_hash(b"{}"), "2"]
    assert rows[3] == ["d-1.dist-info/RECORD", "", ""]


@pytest.mark.parametrize(
    "bad",
    [b"a/x.py,sha256=old\n", b"a/x.py,nohash=1,3\n", b"a/x.py,sha256=x,big\n", b"\xff,,\n"],
)
def test_rewrite_record_refuses_a_malformed_record(bad: bytes) -> None:
    with pytest.raises(StagingError, match="d-1.dist-info/RECORD is malformed"):
        rewrite_record(bad, record_path="d-1.dist-info/RECORD", contents={"x": b""})


def test_record_paths_keep_going_past_a_bad_row() -> None:
    from wheelmagic.install.record import read_record, record_paths, top_level_names

    text = "a/x.py,sha256=q,3\n\nbroken\nb\\y.py,,\n../../bin/t,,\n"
    assert record_paths(text) == ["a/x.py", "b/y.py", "../../bin/t"]
    good = "a/x.py,sha256=q,3\nd-1.dist-info/RECORD,,\n"
    assert [e.path for e in read_record(good)] == ["a/x.py", "d-1.dist-info/RECORD"]
    assert top_level_names(
        ["torch/__init__.py", "torch.libs/x.so", "six.py", "_C.cpython-311-x86_64.so", "x.pth"]
        + ["t-1.dist-info/RECORD", "../../bin/t", "__pycache__/six.pyc", "t-1.data/x", "/abs"]
    ) == ("torch", "six", "_C")


def test_variant_requirement_forms() -> None:
    assert variant_requirement(
        'nvidia-nccl-cu13==2.30.7; platform_system == "Linux"', "cuda13.0"
    ) == ("nvidia-nccl-cu13==2.30.7; platform_system == \"Linux\" and variant_label == 'cuda13.0'")
    assert variant_requirement("triton~=3.8.0", "cuda13.0") == (
        "triton~=3.8.0; 'nvidia' in variant_namespaces"
    )


def test_pip_installs_the_staged_wheel_and_pip_check_passes(tmp_path: Path) -> None:
    """The staged METADATA is what pip reads on install and on every later `pip check`."""
    deps = tmp_path / "deps"
    build_plain_wheel(deps, "filelock", "3.0")
    build_plain_wheel(deps, "nvidia-cublas", "13.1.1.3")
    build_plain_wheel(deps, "nvidia-cudnn-cu13", "9.24.0.43")
    build_plain_wheel(deps, "triton", "3.8.0")
    src = build_wheel(tmp_path / "in", label="cuda13.0", properties=CUDA_PROPS, requires=CUDA_REQS)
    staged = stage_wheel(src, tmp_path / "out", env=cuda_env())
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIP_")},
        "PIP_CONFIG_FILE": os.devnull,
    }
    pip = [sys.executable, "-m", "pip", "--python", py]
    subprocess.run(
        [*pip, "install", "--no-index", "--find-links", str(deps), str(staged.path)],
        check=True,
        env=env,
        capture_output=True,
    )
    check = subprocess.run([*pip, "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    out = subprocess.run(
        [py, "-c", "import torch, nvidia_cublas; print(torch.__build__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "cuda13.0"


@pytest.mark.skipif(
    not Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").exists(),
    reason="no real torch wheel on this machine",
)
def test_repack_real_cpu_wheel(tmp_path: Path) -> None:
    from support.wheels import TORCH_CPU

    out = repack(TORCH_CPU, tmp_path, label="null")
    assert out.name == "torch-2.13.0-cp311-cp311-manylinux_2_28_x86_64-null.whl"
    with zipfile.ZipFile(out) as zf:
        meta = zf.read("torch-2.13.0.dist-info/METADATA").decode()
        assert "\nVersion: 2.13.0\n" in meta
        assert "torch-2.13.0.dist-info/variant.json" in zf.namelist()
        assert not any("+cpu.dist-info" in n for n in zf.namelist())
