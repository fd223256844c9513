"""Variant-aware dependency resolution (issue 16) on a loopback index of small real variant
wheels, on several recorded platforms: the closure's variant-enabled packages are chosen
together, `abi_dependency` is satisfied against what is installed or co-selected, and every
failure names its package."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from packaging.version import Version
from support.server import serve_directory
from support.variant_sets import build_chain, build_set
from support.wheels import build_plain_wheel, build_wheel

from wheelmagic.errors import IndexError_, SelectionError
from wheelmagic.index import IndexClient, resolve_indexes
from wheelmagic.index.build import build_index
from wheelmagic.install.plan import Plan, make_plan
from wheelmagic.interpreter import inspect_interpreter
from wheelmagic.platform import load_platform
from wheelmagic.providers import supported_properties
from wheelmagic.pytorch.companions import PYTORCH_COMPANIONS

PLATFORMS = Path(__file__).resolve().parent.parent / "data" / "platforms"
H100 = "nvidia-h100-driver580.snapshot.json"  # CUDA 13 driver
T4 = "nvidia-t4-driver535.snapshot.json"  # CUDA 12 driver only
CPU = "cpu-x86_64-v3.snapshot.json"


@pytest.fixture(scope="module")
def index_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = build_set(tmp_path_factory.mktemp("variant-set"))
    with serve_directory(root) as srv:
        yield srv.url("simple/")


def plan(
    index_url: str,
    platform: str,
    *reqs: str,
    installed: Mapping[str, tuple[Version, str | None]] | None = None,
) -> Plan:
    plat = load_platform(PLATFORMS / platform)
    sup = supported_properties(plat)
    config = resolve_indexes(index_url, [], env={}, torch_backend="none", read_pip_files=False)
    with IndexClient(config, None, supported=sup) as client:
        return make_plan(
            list(reqs),
            platform=plat,
            interpreter=inspect_interpreter(sys.executable),
            source=client,
            companions=PYTORCH_COMPANIONS,
            supported=sup,
            installed=installed,
        )


def chosen(p: Plan) -> dict[str, str]:
    return {str(f.name): f"{f.version} {f.label}" for f in p.packages}


def test_vllm_pulls_the_torch_it_was_built_against(index_url: str) -> None:
    p = plan(index_url, H100, "vllm")
    assert chosen(p) == {"vllm": "0.11.0 torch28_cu12", "torch": "2.8.0 cuda12.8"}
    assert any("filelock" in r for r in p.reasons), p.reasons  # plain: left to pip/uv


@pytest.mark.parametrize(
    ("platform", "expect"),
    [
        (H100, {"flash-attn": "2.8.3 torch29_cu13", "torch": "2.9.0 cuda13.0"}),
        (T4, {"flash-attn": "2.8.3 torch29_cu12", "torch": "2.9.0 cuda12.8"}),
    ],
)
def test_flash_attn_alone_takes_the_newest_torch_on_the_best_line(
    index_url: str, platform: str, expect: dict[str, str]
) -> None:
    assert chosen(plan(index_url, platform, "flash-attn")) == expect


@pytest.mark.parametrize("platform", [H100, T4])
def test_flash_attn_and_vllm_find_the_one_consistent_set(index_url: str, platform: str) -> None:
    p = plan(index_url, platform, "flash-attn", "vllm")
    assert chosen(p) == {
        "flash-attn": "2.8.3 torch28_cu12",
        "vllm": "0.11.0 torch28_cu12",
        "torch": "2.8.0 cuda12.8",
    }
    assert any("the search" in line for line in p.explanation)
    assert any("pin " in line for line in p.explanation)


def test_a_package_whose_builds_pin_an_older_torch(index_url: str) -> None:
    p = plan(index_url, H100, "oldpkg")
    assert chosen(p) == {"oldpkg": "1.0 torch27_cu12", "torch": "2.7.0 cuda12.8"}


@pytest.mark.parametrize("platform", [H100, T4])
def test_an_installed_torch_decides_flash_attns_build_and_is_kept(
    index_url: str, platform: str
) -> None:
    p = plan(
        index_url, platform, "flash-attn", installed={"torch": (Version("2.8.0+cu128"), "cuda12.8")}
    )
    assert chosen(p) == {"flash-attn": "2.8.3 torch28_cu12"}
    assert any("torch: the installed build is kept" in r for r in p.reasons), p.reasons


def test_an_installed_torch_is_not_changed_behind_the_users_back(index_url: str) -> None:
    with pytest.raises(SelectionError) as err:
        plan(index_url, H100, "vllm", installed={"torch": (Version("2.9.0+cu130"), "cuda13.0")})
    assert err.value.message.startswith("torch: ")
    assert "installed torch 2.9.0" in err.value.message
    assert "torch 2.8.0 [cuda12.8]" in err.value.message
    assert "wheelmagic install vllm 'torch==2.8.0'" in (err.value.hint or "")
    # naming torch is asking to change it: then the set is found
    p = plan(
        index_url,
        H100,
        "vllm",
        "torch==2.8.0",
        installed={"torch": (Version("2.9.0+cu130"), "cuda13.0")},
    )
    assert chosen(p) == {"vllm": "0.11.0 torch28_cu12", "torch": "2.8.0 cuda12.8"}


def test_an_unsatisfiable_set_names_the_conflict(index_url: str) -> None:
    with pytest.raises(SelectionError) as err:
        plan(index_url, H100, "vllm", "torch==2.9.0")
    msg = err.value.message
    assert "vllm 0.11.0 [torch28_cu12] needs torch" in msg, msg
    assert "torch==2.9.0" in msg, msg
    assert msg.count("\n") <= 1, msg
    assert "vllm 0.11.0 has builds for this machine only for torch 2.8.0 on cuda12" in msg, msg
    assert "--explain" in (err.value.hint or "")
    search = err.value.explanation  # what --explain prints
    assert search[0] == "the search:" and any("backtrack" in line for line in search), search


def test_a_conflict_is_about_the_most_constrained_package(index_url: str) -> None:
    with pytest.raises(SelectionError) as err:
        plan(index_url, T4, "flash-attn==2.8.3", "vllm", "torch>=2.9")
    msg = err.value.message
    assert msg.startswith("vllm: no consistent set of builds: vllm 0.11.0 [torch28_cu12] needs"), (
        msg
    )
    assert "torch>=2.9" in msg, msg


@pytest.mark.parametrize("reqs", [("flash-attn",), ("torch", "flash-attn")])
def test_no_build_for_this_machine_names_that_package(index_url: str, reqs: tuple[str]) -> None:
    with pytest.raises(SelectionError) as err:
        plan(index_url, CPU, *reqs)
    msg = err.value.message
    assert msg.startswith("no installable build of flash-attn for this machine"), msg
    assert "no installable build of torch" not in msg
    # each file's real obstacle (no CUDA here), not "torch 2.9.0 is being installed"
    assert "cuda_version_lower_bound" in msg and "installed or being installed" not in msg, msg


def test_a_cycle_resolves(index_url: str) -> None:
    assert chosen(plan(index_url, CPU, "cyc-a")) == {"cyc-a": "1.0 null", "cyc-b": "1.0 null"}


@pytest.mark.e2e  # builds and serves 1,000 wheels (about half a minute)
def test_a_thousand_package_chain_is_refused_with_a_message(tmp_path: Path) -> None:
    root = build_chain(tmp_path, 1000)
    with serve_directory(root) as srv, pytest.raises(SelectionError) as err:
        plan(srv.url("simple/"), CPU, "chain-0000")
    assert "chain-0000 -> chain-0001" in err.value.message
    assert "variant-enabled packages" in err.value.message


def test_index_build_serves_pep658_metadata_and_the_client_checks_its_hash(
    tmp_path: Path,
) -> None:
    root = build_set(tmp_path)
    with serve_directory(root) as srv:
        config = resolve_indexes(
            srv.url("simple/"), [], env={}, torch_backend="none", read_pip_files=False
        )
        with IndexClient(config, None) as client:
            (cand,) = client.project("vllm").candidates
            assert client.requires_dist(cand) == (
                "torch==2.8.0; 'abi_dependency :: torch :: 2.8.0' in variant_properties",
                "filelock",
            )
        (root / "files" / f"{cand.filename}.metadata").write_text(
            "Metadata-Version: 2.1\nName: vllm\nVersion: 0.11.0\nRequires-Dist: evil\n"
        )
        with IndexClient(config, None) as client:
            (cand,) = client.project("vllm").candidates
            with pytest.raises(IndexError_) as err:
                client.requires_dist(cand)
    assert cand.filename in err.value.message and "sha256" in err.value.message


def test_plain_dependencies_on_a_per_backend_index_stay_with_the_installer(
    tmp_path: Path,
) -> None:
    """On `/whl/cu128`-like indexes every file gets a virtual label; only PyTorch's own
    packages are resolved by us, `filelock` stays with pip/uv."""
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "torch", "2.8.0+cu128", build="cuda12.8", requires=["filelock"])
    build_plain_wheel(wheels, "filelock", "3.0")
    build_index(wheels, tmp_path / "out")
    (tmp_path / "out" / "simple").rename(tmp_path / "out" / "cu128")
    with serve_directory(tmp_path / "out") as srv:
        p = plan(srv.url("cu128/"), H100, "torch")
    assert [str(f.name) for f in p.packages] == ["torch"]
    assert any("left to the installer" in r and "filelock" in r for r in p.reasons), p.reasons


def _front_end_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "WHEELMAGIC_"))}
    env.update({"PIP_CONFIG_FILE": os.devnull, "WHEELMAGIC_CACHE_DIR": str(tmp_path / "c")})
    return env


def _conflict_args(index_url: str) -> list[str]:
    return [
        "vllm", "torch==2.9.0", "--dry-run", "--explain", "--index-url", index_url,
        "--torch-backend", "none", "--platform", str(PLATFORMS / H100),
    ]  # fmt: skip


def test_cli_explain_shows_the_search_that_found_no_set(index_url: str, tmp_path: Path) -> None:
    ran = subprocess.run(
        [sys.executable, "-m", "wheelmagic", "install", *_conflict_args(index_url)],
        env=_front_end_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode != 0
    assert "the search:" in ran.stderr and "backtrack:" in ran.stderr, ran.stderr
    assert "error: vllm: no consistent set of builds" in ran.stderr, ran.stderr


def test_magic_explain_shows_the_search_that_found_no_set(index_url: str, tmp_path: Path) -> None:
    line = " ".join(_conflict_args(index_url))
    code = (
        "ip = get_ipython(); ip.run_line_magic('load_ext', 'wheelmagic'); "
        f"ip.run_line_magic('variant_install', {line!r})"
    )
    ran = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "-c", code],
        env=_front_end_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = ran.stdout + ran.stderr
    assert "the search:" in out and "backtrack:" in out, out
    assert "error: vllm: no consistent set of builds" in out, out
