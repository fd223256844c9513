"""`%load_ext wheelmagic`: register the magics and the import hook; `%unload_ext` removes both.

Loading runs at every kernel start when the extension is enabled for an environment, so it
must be cheap (no httpx, no pynvml, no platform probe: those load when a magic runs) and must
never break the kernel: any internal error becomes one warning line. ``WHEELMAGIC_DISABLE=1``
turns loading into a no-op, for an image where the extension is enabled globally.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

ENV_DISABLE = "WHEELMAGIC_DISABLE"
_TRUE = ("1", "true", "yes", "on")


def disabled(environ: Any = None) -> bool:
    env = os.environ if environ is None else environ
    return str(env.get(ENV_DISABLE, "")).strip().lower() in _TRUE


def _warn(what: str, err: BaseException) -> None:
    """One line on stderr: an extension problem must never look like a kernel failure."""
    with contextlib.suppress(Exception):  # a closed stderr
        print(
            f"wheelmagic: {what} failed ({type(err).__name__}: {err}); the kernel works "
            f"normally. Set {ENV_DISABLE}=1 to turn wheelmagic off.",
            file=sys.stderr,
            flush=True,
        )


def load(ip: Any) -> bool:
    """Register magics and hook; print the post-restart confirmation if one is pending.

    Returns True when wheelmagic is active. Never raises.
    """
    if disabled():
        return False
    try:
        from wheelmagic.magics import WheelmagicMagics

        ip.register_magics(WheelmagicMagics)
    except Exception as err:
        _warn("loading the magics", err)
        return False
    try:
        from wheelmagic import hook
    except ImportError:
        hook = None  # type: ignore[assignment]
    if hook is not None:
        try:
            hook.install(ip)
        except Exception as err:
            _warn("installing the import hook", err)
    try:
        from wheelmagic.kernel import record_path

        if record_path().exists():  # cheap: the common case stops here
            from wheelmagic.kernel.restart import confirm_after_restart

            confirm_after_restart(ip)
    except Exception as err:
        _warn("the post-restart check", err)
    return True


def unload(ip: Any) -> None:
    """Remove our magics and the import hook (IPython has no unregister API for magics)."""
    try:
        from wheelmagic.magics import MAGIC_NAMES, WheelmagicMagics

        manager = ip.magics_manager
        for kind in ("line", "cell"):
            table = manager.magics.get(kind, {})
            for name in MAGIC_NAMES:
                fn = table.get(name)
                owner = getattr(fn, "__self__", None)
                if owner is not None and isinstance(owner, WheelmagicMagics):
                    del table[name]
        manager.registry.pop(WheelmagicMagics.__name__, None)
    except Exception as err:
        _warn("unloading the magics", err)
    try:
        from wheelmagic import hook
    except ImportError:
        return
    try:
        hook.uninstall()
    except Exception as err:
        _warn("removing the import hook", err)
