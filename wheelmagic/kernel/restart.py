"""Restarting the kernel after an install, the way each frontend allows.

A kernel cannot restart itself: the manager that launched it does (jupyter_server's
KernelRestarter notices the exit and relaunches within ~3 s). So for Jupyter we ask ipykernel
to shut down cleanly (`kernel.do_shutdown(True)`: the cell's output and reply are delivered,
the process exits ~0.1 s later). Frontends without a restarter (VS Code local kernels,
nbclient/papermill) would be left with a dead kernel, so there we only tell the user. Terminal
IPython has no manager at all: it saves its history and re-execs itself.

`WHEELMAGIC_RESTART` overrides the choice: ``auto`` (default), ``shutdown`` (always
`do_shutdown`), ``manual`` (never restart, only say so).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wheelmagic.kernel import RestartRecord, take_record, write_record

if TYPE_CHECKING:
    from wheelmagic.app import Checkup
    from wheelmagic.pytorch.diagnose import Diagnosis

ENV_RESTART = "WHEELMAGIC_RESTART"
RESTART_MODES = ("auto", "shutdown", "manual")
COLAB_MIME = "application/vnd.colab-display-data+json"

#: Frontends whose kernels are *not* relaunched when the process exits.
NO_AUTORESTART = ("vscode", "nbclient", "papermill", "python")

_NBCLIENT_MARKERS = (
    "papermill",
    "nbconvert",
    "nbclient",
    "jupyter-execute",
    "testbook",
    "nbval",
    "quarto",
)
_SERVER_MARKERS = (
    "jupyter",
    "voila",
    "notebook",
    "nbclassic",
    "kernel_gateway",
    "enterprise_gateway",
    "spyder",
)


class KernelRestarting(Exception):  # noqa: N818 - it is a signal, not an error
    """Raised by the magic after asking for a restart, so "Run All" stops at this cell.

    IPython shows `_render_traceback_` instead of a traceback: one line, no noise.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def _render_traceback_(self) -> list[str]:
        return [self.message]


def _get_ipython() -> Any:
    mod = sys.modules.get("IPython")
    if mod is None:
        return None
    try:
        return mod.get_ipython()
    except Exception:
        return None


def _parent_cmdline(environ: Mapping[str, str]) -> str:
    """The command line of the process that launched this kernel ('' when unknown)."""
    ppid = environ.get("JPY_PARENT_PID") or str(os.getppid())
    try:
        with open(f"/proc/{int(ppid)}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").lower()
    except (OSError, ValueError):
        return ""


def detect_frontend(
    ip: Any = None,
    environ: Mapping[str, str] | None = None,
    parent_cmdline: str | None = None,
) -> str:
    """Who runs this interpreter: colab, jupyter, vscode, nbclient, papermill, terminal, python.

    ``jupyter`` means "an ipykernel whose manager we expect to relaunch it" and is also the
    answer for an unrecognised launcher (most launchers of ipykernel are servers).
    """
    env = os.environ if environ is None else environ
    ip = ip if ip is not None else _get_ipython()
    if "google.colab" in sys.modules:
        return "colab"
    if ip is None:
        return "python"
    if getattr(ip, "kernel", None) is None:
        cls = type(ip)
        if cls.__module__.startswith("IPython.terminal") and cls.__name__ == (
            "TerminalInteractiveShell"
        ):
            return "terminal"
        return "python"
    if any(k.startswith("PAPERMILL") for k in env):
        return "papermill"
    parent = _parent_cmdline(env) if parent_cmdline is None else parent_cmdline.lower()
    if "papermill" in parent:
        return "papermill"
    if any(m in parent for m in _NBCLIENT_MARKERS):
        return "nbclient"
    if any(m in parent for m in _SERVER_MARKERS):
        return "jupyter"
    if (
        "vscode" in parent
        or "code helper" in parent
        or any(
            k in env for k in ("VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK", "VSCODE_IPC_HOOK_CLI")
        )
    ):
        return "vscode"
    return "jupyter"


def restart_mode(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    mode = (env.get(ENV_RESTART) or "auto").strip().lower()
    return mode if mode in RESTART_MODES else "auto"


def _say(text: str) -> None:
    print(text, flush=True)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _manual_message(frontend: str, reason: str) -> str:
    where = {
        "vscode": "VS Code does not restart local kernels by itself: use 'Restart' in the "
        "notebook toolbar",
        "nbclient": "this notebook runner does not restart kernels: run the notebook again",
        "papermill": "papermill does not restart kernels: run the notebook again",
        "python": "restart Python",
        "terminal": "restart IPython",
        "colab": "use Runtime > Restart session",
        "jupyter": "use Kernel > Restart Kernel",
    }.get(frontend, "restart the kernel")
    return f"wheelmagic: restart needed ({reason}); {where} to use the new packages."


def _colab_button(packages: Sequence[str]) -> None:
    """Colab's own "restart session" button, the one it shows after `pip install`."""
    from IPython.display import display

    payload = {"pip_warning": {"packages": list(packages)}, "id": uuid.uuid4().hex}
    text = (
        "WARNING: The following packages were previously imported in this runtime: "
        f"{list(packages)}. You must restart the runtime in order to use newly installed "
        "versions."
    )
    display({COLAB_MIME: payload, "text/plain": text}, raw=True)


def restart_kernel(
    reason: str,
    *,
    packages: Sequence[str] = (),
    ip: Any = None,
    frontend: str | None = None,
    environ: Mapping[str, str] | None = None,
    execv: Callable[[str, list[str]], Any] = os.execv,
) -> str:
    """Restart this kernel (or tell the user to), saying why first; returns the strategy used.

    Strategies: ``ipykernel`` (clean shutdown, the server relaunches), ``colab`` (Colab's
    restart button, then the same shutdown), ``terminal`` (save history, re-exec IPython;
    does not return), ``manual`` (no restart possible: a message says what to do).
    A record is written first so that the next kernel confirms what is now installed.
    """
    ip = ip if ip is not None else _get_ipython()
    env = os.environ if environ is None else environ
    front = frontend or detect_frontend(ip, env)
    mode = restart_mode(env)
    kernel = getattr(ip, "kernel", None) if ip is not None else None

    if mode == "manual" or (mode == "auto" and front in NO_AUTORESTART):
        strategy = "manual"
    elif front == "terminal" and kernel is None:
        strategy = "terminal"
    elif kernel is not None and hasattr(kernel, "do_shutdown"):
        strategy = "colab" if front == "colab" else "ipykernel"
    else:
        strategy = "manual"

    write_record(
        RestartRecord(
            reason=reason,
            strategy=strategy,
            packages=list(packages),
            pid=os.getpid(),
            time=time.time(),
            executable=sys.executable,
        )
    )

    if strategy == "manual":
        _say(_manual_message(front, reason))
        if front == "colab" and packages:
            with contextlib.suppress(Exception):
                _colab_button(packages)
        return strategy

    if strategy == "terminal":
        _say(f"wheelmagic: restarting IPython ({reason}) ...")
        _flush()
        try:
            ip.atexit_operations()
            execv(sys.executable, [sys.executable, "-m", "IPython", *sys.argv[1:]])
        except Exception as err:  # exec failed: the shell is still ours, say what to do
            _say(
                f"wheelmagic: could not restart IPython ({err}); "
                + _manual_message("terminal", reason).split("; ", 1)[1]
            )
            return "manual"
        return strategy  # only reached when `execv` is a test double

    if strategy == "colab" and packages:
        with contextlib.suppress(Exception):
            _colab_button(packages)
    _say(f"wheelmagic: restarting the kernel ({reason}); it will be back in a few seconds.")
    _flush()
    assert kernel is not None
    kernel.do_shutdown(True)
    return strategy


def confirmation_line(record: RestartRecord, checkup: Checkup | None = None) -> str:
    """The one line the restarted kernel prints: what is installed now, and whether it fits.

    `checkup` defaults to the doctor's, run now on this kernel's interpreter.
    """
    names = record.packages or ["torch"]
    described: dict[str, str] = {}
    verdict = ""
    try:
        if checkup is None:
            from wheelmagic.app import Session

            checkup = Session().doctor()
        for name, build in checkup.installed.items():
            described[name] = build.describe()
        verdict = _verdict(checkup.diagnosis)
    except Exception:  # no verdict is better than no confirmation
        pass
    from importlib.metadata import PackageNotFoundError, version

    parts: list[str] = []
    for name in names:
        if name in described:
            parts.append(described[name])
            continue
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    line = "wheelmagic: kernel restarted; now installed: " + ", ".join(parts)
    return f"{line}; {verdict}" if verdict else line


def _verdict(diagnosis: Diagnosis) -> str:
    """The doctor's verdict on the installed torch, in a few words."""
    if diagnosis.status == "fits":
        return "it fits this machine"
    text = f"doctor says {diagnosis.status}"
    if diagnosis.reasons:
        text += f": {diagnosis.reasons[0]}"
    return text + (f" (fix: {diagnosis.fix.magic()})" if diagnosis.fix else "")


def confirm_after_restart(ip: Any = None) -> RestartRecord | None:
    """After a wheelmagic restart, say once what is installed now and whether it fits.

    The record is taken at extension load. A kernel prints the line in the *first cell* run
    after the restart (output during kernel start-up has no cell to go to and notebooks drop
    it); a terminal prints it at once.
    """
    record = take_record()
    if record is None:
        return None
    ip = ip if ip is not None else _get_ipython()
    events = getattr(ip, "events", None)
    if getattr(ip, "kernel", None) is None or events is None:
        _say(confirmation_line(record))
        return record

    def once(*_args: Any) -> None:
        with contextlib.suppress(ValueError):
            events.unregister("pre_run_cell", once)
        _say(confirmation_line(record))

    events.register("pre_run_cell", once)
    return record
