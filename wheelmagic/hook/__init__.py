"""The import hook: check the torch build on its first real import, before any torch code runs.

Three parts, each with one job:

* `finder` -- the `sys.meta_path` finder on every import of the process (standard library
  only; `install` / `uninstall` put it in place);
* `causes` -- the error texts of a failed import, as a table of patterns and causes;
* `policy` -- what to do about a mismatch (doctor, policy, fix, restart), through `wheelmagic.app`.

Importing this package imports only the finder.
"""

from wheelmagic.hook.finder import (
    PREFIX,
    WATCHED,
    HookFinder,
    RestartRequired,
    install,
    installed_hook,
    uninstall,
)

__all__ = [
    "PREFIX",
    "WATCHED",
    "HookFinder",
    "RestartRequired",
    "install",
    "installed_hook",
    "uninstall",
]
