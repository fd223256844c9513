"""wheelmagic: install the PyTorch build that fits this machine, from notebooks and the shell.

`%load_ext wheelmagic` registers the magics and the import hook. Everything heavy is
imported lazily so that loading the extension stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"


def load_ipython_extension(ipython: object) -> None:
    """IPython entry point; never fails a kernel start (errors become one warning line)."""
    from wheelmagic.extension import load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from wheelmagic.extension import unload

    unload(ipython)
