"""How front ends show things: HTML with a live progress bar in notebooks, plain text elsewhere.

Two renderers share one interface (`Renderer`) so the magics never branch on where they run:
`wheelmagic.ui.notebook.NotebookRenderer` and `wheelmagic.ui.text.TextRenderer`; `renderer_for`
picks one. `wheelmagic.ui.format` holds the one byte format and the one platform description,
`wheelmagic.ui.reports` the plan, doctor and detect tables. Everything here is typed against the
models (`Plan`, `Diagnosis`, `Platform`, `ProgressEvent`, `InstalledBuild`) and imports them only
for type checking, so importing `wheelmagic.ui` costs next to nothing.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from wheelmagic.install.plan import Plan
    from wheelmagic.install.progress import ProgressEvent
    from wheelmagic.ui.reports import Report


class Renderer(Protocol):
    """What a front end shows; implemented for notebooks (HTML) and terminals (text)."""

    def plan(
        self,
        plan: Plan,
        *,
        detected: str | None = None,
        explain: bool | str = False,
        dry_run: bool = False,
    ) -> None: ...

    def progress(self, event: ProgressEvent) -> None: ...

    def message(self, text: str, *, level: str = "info") -> None: ...

    def report(self, report: Report) -> None: ...

    def done(self, text: str, *, ok: bool = True) -> None: ...


def in_notebook(shell: object | None = None) -> bool:
    """A kernel with a display frontend (Jupyter, Colab, VS Code), not a terminal.

    `shell` defaults to the running IPython shell. A kernel's shell is ipykernel's
    `ZMQInteractiveShell` (Colab's and Spyder's subclass it); ipykernel is looked at only when
    it is already imported, so a terminal never imports it.
    """
    if "ipykernel" not in sys.modules:
        return False
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    from ipykernel.zmqshell import ZMQInteractiveShell

    return isinstance(shell, ZMQInteractiveShell)


def renderer_for(shell: object | None = None) -> Renderer:
    """The notebook renderer inside a kernel, else the text one."""
    if in_notebook(shell):
        from wheelmagic.ui.notebook import NotebookRenderer

        return NotebookRenderer()
    from wheelmagic.ui.text import TextRenderer

    return TextRenderer()
