"""The notebook renderer: HTML blocks, and one in-place progress display per downloaded file.

Displays are updated in place through `display_id` (no ipywidgets: a plain `<progress>` element
with a text/plain fallback for frontends that show only text). IPython is imported when a
renderer is made, never when this module is, so `%load_ext wheelmagic` stays light.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from wheelmagic.ui.progress import is_finished, progress_html, progress_text
from wheelmagic.ui.reports import Report, plan_explanation, plan_report, table_html, table_text
from wheelmagic.ui.text import MIN_INTERVAL

if TYPE_CHECKING:
    from wheelmagic.install.plan import Plan
    from wheelmagic.install.progress import ProgressEvent


class DisplayHandle(Protocol):
    """What IPython's `display(..., display_id=True)` returns: a display to update in place."""

    def update(self, obj: Mapping[str, str], *, raw: bool) -> None: ...


class Display(Protocol):
    """The part of `IPython.display.display` used here: raw MIME bundles, maybe a display id."""

    def __call__(
        self, obj: Mapping[str, str], *, raw: bool, display_id: bool | None = None
    ) -> DisplayHandle | None: ...


class NotebookRenderer:
    """Jupyter: HTML blocks, and one in-place progress display per downloaded file."""

    def __init__(self, display: Display | None = None) -> None:
        if display is None:
            from IPython.display import display as ipython_display

            display = ipython_display
        self._display = display
        self._handles: dict[str, DisplayHandle] = {}
        self._last: dict[str, float] = {}

    def _show(self, html_text: str, text: str) -> None:
        self._display({"text/html": html_text, "text/plain": text}, raw=True)

    def plan(
        self,
        plan: Plan,
        *,
        detected: str | None = None,
        explain: bool | str = False,
        dry_run: bool = False,
    ) -> None:
        report = plan_report(plan, detected=detected, dry_run=dry_run)
        body = table_html(report.rows, report.title)
        text = table_text(report.rows, report.title)
        if explain:
            lines = "\n".join(plan_explanation(plan, all_files=explain == "all"))
            body += (
                '<details open><summary>why</summary><pre style="font-size: 11px">'
                + html.escape(lines)
                + "</pre></details>"
            )
            text += "\n" + lines
        self._show(body, text)

    def progress(self, event: ProgressEvent) -> None:
        name = event.filename
        now = time.monotonic()
        handle = self._handles.get(name)
        recent = now - self._last.get(name, 0.0) < MIN_INTERVAL
        if handle is not None and recent and not is_finished(event):
            return  # drawn moments ago; the finished bar is always drawn
        self._last[name] = now
        bundle = {"text/html": progress_html(event), "text/plain": progress_text(event)}
        if handle is None:  # the file's first event: a display to update later
            created = self._display(bundle, raw=True, display_id=True)
            if created is not None:
                self._handles[name] = created
        else:
            handle.update(bundle, raw=True)

    def message(self, text: str, *, level: str = "info") -> None:
        colour = {"warning": "#ef6c00", "error": "#c62828"}.get(level, "inherit")
        self._show(f'<div style="color: {colour}"><code>{html.escape(text)}</code></div>', text)

    def report(self, report: Report) -> None:
        self._show(report._repr_html_(), report.text())

    def done(self, text: str, *, ok: bool = True) -> None:
        colour = "#2e7d32" if ok else "#c62828"
        mark = "✔" if ok else "✘"
        self._show(
            f'<div class="wheelmagic-status" style="color: {colour}; font-weight: bold">'
            f"{mark} {html.escape(text)}</div>",
            text,
        )
