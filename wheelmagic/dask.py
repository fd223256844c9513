"""Dask front end: a worker plugin that installs, on each worker, the build that fits it.

`distributed.diagnostics.plugin.PipInstall` installs the same packages on every worker; on a
cluster whose workers sit on different GPU generations (or none) that is the wrong build on
some of them. `VariantInstall` runs wheelmagic on every worker instead: the worker detects its
own machine (or reads `WHEELMAGIC_PLATFORM`), plans the best build for it and installs that
into its own interpreter, under the environment lock, through the shared cache when the
workers' `WHEELMAGIC_CACHE_DIR` points at one.

    from distributed import Client
    from wheelmagic.dask import VariantInstall

    client = Client("tcp://scheduler:8786")
    plugin = VariantInstall(["torch", "torchvision"], restart_workers=True)
    for name, r in plugin.register(client).items():   # client.register_plugin(plugin), then
        print(name, r.platform, r.chosen, r.action)     # each worker's result

A worker restarts itself (through its nanny, after handing its tasks back) only when
`restart_workers` is set and a package that changed was already imported in it
(`wheelmagic.app.restart_needed`); the new process runs the plugin again, finds the build in
place, and reports `installed, restarted`. A failure (no network, no fitting build) does not
take the worker down: it is that worker's result, `action == "failed"`, with the message.

`client.register_plugin(plugin)` works too, but answers `{"status": "OK"}` for every worker
whatever the plugin did (that reply is fixed by distributed's `Worker.plugin_add`), so the
per-worker results come from `plugin.register(client)` (or `plugin.results(client)` after
`register_plugin`), which also waits for restarting workers to come back. Needs
`distributed` (`pip install 'wheelmagic[dask]'`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError("wheelmagic.dask needs distributed: pip install 'wheelmagic[dask]'") from err

from wheelmagic.options import Installer, Options

if TYPE_CHECKING:
    from distributed import Client, Worker

__all__ = ["VariantInstall", "WorkerResult"]

ACTIONS = ("installed", "installed, restarted", "fits", "failed")


@dataclass(frozen=True)
class WorkerResult:
    """What `VariantInstall` did on one worker."""

    #: the worker's name (`dask worker --name`, else its address)
    worker: str
    #: the one-line platform summary (`wheelmagic detect`'s first line)
    platform: str
    #: the builds that fit this worker, e.g. "torch 2.14.1 [cuda13.0]"
    chosen: str
    #: installed | installed, restarted | fits | failed
    action: str
    #: the worker's interpreter
    python: str = ""
    #: distribution -> the modules already imported that made a restart necessary
    restart: dict[str, list[str]] | None = None
    #: the summary line, or the error message when `action == "failed"`
    message: str = ""
    #: still to restart (the result of the process that is about to go away)
    restarting: bool = False


class VariantInstall(WorkerPlugin):  # type: ignore[misc]
    """Install the build of `packages` that fits each worker (see the module docstring)."""

    def __init__(
        self,
        packages: Sequence[str],
        *,
        restart_workers: bool = False,
        index_url: str | None = None,
        extra_index_urls: Sequence[str] = (),
        installer: Installer = "auto",
        pre: bool = False,
        name: str | None = None,
    ) -> None:
        self.packages = list(packages)
        if not self.packages:
            raise ValueError("VariantInstall needs at least one package")
        self.restart_workers = restart_workers
        self.options = Options(
            index_url=index_url,
            extra_index_urls=tuple(extra_index_urls),
            installer=installer,
            pre=pre,
        )
        digest = hashlib.sha256(json.dumps(self.packages).encode()).hexdigest()[:8]
        self.name = name or f"wheelmagic-variant-install-{digest}"
        self.result: WorkerResult | None = None

    # -- on the worker --------------------------------------------------------------------
    async def setup(self, worker: Worker) -> None:
        name = str(worker.name)
        previous = _take_record(self._record_path(worker))
        result = await asyncio.get_running_loop().run_in_executor(None, self._install, name)
        if previous is not None and previous.restarting:
            # the process before this one installed and asked for this restart
            result = replace(previous, action="installed, restarted", restarting=False)
        elif result.restart and self.restart_workers and worker.nanny is not None:
            # leave through the nanny (tasks handed back first); the new process reports
            result = replace(result, restarting=True)
            _write_record(self._record_path(worker), result)
            changed = ", ".join(result.restart or ())
            worker.loop.add_callback(
                worker.close_gracefully,
                restart=True,
                reason=f"wheelmagic: {changed} changed after import",
            )
        self.result = result

    def _install(self, worker: str) -> WorkerResult:
        from wheelmagic.app import Session, restart_needed
        from wheelmagic.errors import WheelmagicError
        from wheelmagic.ui.format import platform_summary

        shown = "unknown"
        try:
            with Session(self.options) as session:
                shown = platform_summary(session.platform)
                check = session.check_fits(self.packages)
                if check.fits:
                    chosen = ", ".join(b.describe() for b in check.installed)
                    return WorkerResult(
                        worker, shown, chosen, "fits", sys.executable, None, check.why
                    )
                plan = session.plan(self.packages)
                chosen = ", ".join(
                    f"{p.name} {p.version} [{p.label or 'null'}]"
                    for p in [*plan.packages, *plan.satisfied]
                )
                if plan.nothing_to_do:
                    return WorkerResult(
                        worker, shown, chosen, "fits", sys.executable, None, plan.summary()
                    )
                done = session.install(plan)
            restart = restart_needed(done.changed, sys.modules) or None
            return WorkerResult(
                worker, shown, chosen, "installed", sys.executable, restart, done.summary()
            )
        except WheelmagicError as err:
            return WorkerResult(
                worker, shown, "", "failed", sys.executable, None, f"worker {worker}: {err}"
            )

    def _record_path(self, worker: Worker) -> Path:
        """Where a worker leaves its result for the process its nanny starts next."""
        key = f"{worker.nanny or worker.address}|{worker.name}|{self.name}|{sys.prefix}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:24]
        return Path(tempfile.gettempdir()) / "wheelmagic-dask" / f"{digest}.json"

    # -- on the client --------------------------------------------------------------------
    def register(self, client: Client, timeout: float = 300) -> dict[str, WorkerResult]:
        """`client.register_plugin(self)`, then every worker's result (see `results`)."""
        names = [str(w["name"]) for w in client.scheduler_info()["workers"].values()]
        client.register_plugin(self)
        return self.results(client, timeout, expect=names)

    def results(
        self, client: Client, timeout: float = 300, *, expect: Sequence[str] = ()
    ) -> dict[str, WorkerResult]:
        """Each worker's result, keyed by worker name, once none is still restarting.

        A restarting worker leaves the cluster until its nanny has started the new process;
        `expect` names the workers to wait for (`register` passes the workers it saw).
        """
        plugin_name = self.name
        deadline = time.monotonic() + timeout
        while True:
            raw: dict[str, Any] = client.run(_collect, plugin_name, on_error="return")
            out = {
                r.worker: r
                for r in (WorkerResult(**v) for v in raw.values() if isinstance(v, dict) and v)
            }
            pending = (
                [addr for addr, v in raw.items() if not isinstance(v, dict) or not v]
                + [r.worker for r in out.values() if r.restarting]
                + [name for name in expect if name not in out]
            )
            if not pending:
                return out
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"wheelmagic: workers {pending} did not report within {timeout:g}s; "
                    "see their logs"
                )
            time.sleep(0.2)


def _collect(plugin_name: str, dask_worker: Worker) -> dict[str, Any]:
    """Run on a worker by `client.run`: that worker's result ({} while setup runs)."""
    plugin = dask_worker.plugins.get(plugin_name)
    result = getattr(plugin, "result", None)
    return asdict(result) if isinstance(result, WorkerResult) else {}


def _write_record(path: Path, result: WorkerResult) -> None:
    from wheelmagic._fs import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(asdict(result)).encode())


def _take_record(path: Path) -> WorkerResult | None:
    try:
        data = json.loads(path.read_text())
        os.unlink(path)
        return WorkerResult(**data)
    except (OSError, ValueError, TypeError):
        return None
