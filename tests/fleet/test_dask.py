"""`wheelmagic.dask.VariantInstall` on a real Dask cluster whose workers are different machines.

A real scheduler on 127.0.0.1 and two `dask worker` processes (each with its nanny), started
from two different venvs with two recorded platforms (no GPU; H100 with driver 580) and one
shared wheelmagic cache. The H100 worker has already imported a CPU torch, so its new build
needs a new process: it restarts itself; the CPU worker does not.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import free_port
from support.wait import wait_until

from fleet.plumbing import FleetIndex, FleetVenv, fleet_env, fleet_venv, machine

distributed = pytest.importorskip("distributed")

pytestmark = [pytest.mark.fleet, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


#: a task (a builtin and a string: nothing of this module has to unpickle on the cluster):
#: which torch the worker imports, from where, in which process
TORCH_BUILD = (
    "(__import__('torch').__build__, __import__('torch').__file__, __import__('os').getpid())"
)


@pytest.fixture
def cluster(
    fleet_index: FleetIndex, tmp_path: Path
) -> Iterator[tuple[str, dict[str, FleetVenv], list[Path]]]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs: list[Path] = []
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(argv: list[str], env: dict[str, str], log: Path) -> None:
        logs.append(log)
        with open(log, "wb") as out:
            procs.append(
                subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
            )

    base_env = fleet_env(tmp_path)
    spawn(
        [
            str(ROOT / ".venv" / "bin" / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        base_env,
        tmp_path / "scheduler.log",
    )
    venvs: dict[str, FleetVenv] = {}
    for kind in ("cpu", "h100"):
        venv = fleet_venv(tmp_path / f"venv-{kind}")
        venvs[kind] = venv
        env = fleet_env(
            tmp_path,
            WHEELMAGIC_PLATFORM=str(machine(kind)),
            WHEELMAGIC_INDEX_URL=fleet_index.url,
            WHEELMAGIC_CACHE_DIR=str(tmp_path / "shared-cache"),
            WHEELMAGIC_ON_MISMATCH="off",
            PATH=f"{venv.bin}:/usr/local/bin:/usr/bin:/bin",
        )
        spawn(
            [
                str(venv.bin / "dask"),
                "worker",
                address,
                "--name",
                f"w-{kind}",
                "--nthreads",
                "1",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                "--local-directory",
                str(tmp_path / f"dask-{kind}"),
            ],
            env,
            tmp_path / f"worker-{kind}.log",
        )
    try:
        yield address, venvs, logs
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _logs(logs: list[Path]) -> str:
    return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)


def test_each_worker_gets_its_own_build_and_only_an_importing_one_restarts(
    cluster: tuple[str, dict[str, FleetVenv], list[Path]], fleet_index: FleetIndex
) -> None:
    from distributed import Client

    from wheelmagic.dask import VariantInstall

    address, venvs, logs = cluster
    # the H100 worker's env starts with the CPU build, already imported by a task
    pre = subprocess.run(
        [
            str(venvs["h100"].bin / "wheelmagic"),
            "install",
            "torch",
            "--variant",
            "null",
            "--yes",
            "--index-url",
            fleet_index.url,
            "--platform",
            str(machine("h100")),
        ],
        env=fleet_env(venvs["h100"].prefix.parent),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pre.returncode == 0, pre.stderr
    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
        by_name = {w["name"]: a for a, w in client.scheduler_info()["workers"].items()}
        build, _path, h100_pid = client.submit(
            eval, TORCH_BUILD, workers=[by_name["w-h100"]], pure=False
        ).result(60)
        assert build == "cpu"

        plugin = VariantInstall(["torch"], restart_workers=True)
        results = plugin.register(client)
        assert set(results) == {"w-cpu", "w-h100"}, _logs(logs)
        cpu, h100 = results["w-cpu"], results["w-h100"]
        assert (cpu.action, cpu.chosen, cpu.restart) == (
            "installed",
            "torch 2.14.1 [null]",
            None,
        ), cpu
        assert "no GPU" in cpu.platform and cpu.python == venvs["cpu"].python
        assert (h100.action, h100.chosen) == ("installed, restarted", "torch 2.14.1 [cuda13.0]")
        assert h100.restart == {"torch": ["torch"]} and "H100" in h100.platform
        assert h100.python == venvs["h100"].python

        # tasks submitted afterwards import the worker's own build
        client.wait_for_workers(2, timeout=120)
        wait_until(
            lambda: len(client.scheduler_info()["workers"]) == 2,
            what="both workers registered after the restart",
            timeout=120,
        )
        by_name = {w["name"]: a for a, w in client.scheduler_info()["workers"].items()}
        for kind, expected in (("cpu", "cpu"), ("h100", "cuda13.0")):
            build, path, pid = client.submit(
                eval, TORCH_BUILD, workers=[by_name[f"w-{kind}"]], pure=False
            ).result(60)
            assert build == expected, (kind, _logs(logs))
            assert path.startswith(str(venvs[kind].prefix)), path
            if kind == "h100":
                assert pid != h100_pid  # a new process: the old one had the CPU build loaded
    assert venvs["cpu"].torch_build() == "cpu"
    assert venvs["h100"].torch_build() == "cuda13.0"


def test_a_worker_without_network_reports_a_failure_and_keeps_running(
    fleet_index: FleetIndex, tmp_path: Path
) -> None:
    """The index is unreachable from the worker: its result says so; the worker stays up."""
    from distributed import Client, LocalCluster

    from wheelmagic.dask import VariantInstall

    dead = f"http://127.0.0.1:{free_port()}/simple/"
    with (
        LocalCluster(
            n_workers=1,
            processes=False,
            dashboard_address=":0",
        ) as lc,
        Client(lc) as client,
    ):
        plugin = VariantInstall(["wheelmagic-no-such-package"], index_url=dead)
        replies = client.register_plugin(plugin)  # distributed's own reply: always OK
        assert [r["status"] for r in replies.values()] == ["OK"]
        (result,) = plugin.results(client).values()
        assert result.action == "failed"
        assert f"worker {result.worker}:" in result.message and "127.0.0.1" in result.message
        assert client.submit(lambda: 41 + 1).result(30) == 42
