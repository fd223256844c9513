"""The terminal renderer: text on stdout, the progress bar on stderr.

On a terminal the bar is redrawn in place with ``\\r`` (at most every `MIN_INTERVAL` seconds);
in a log (stderr not a terminal) one line at 0, 25, 50, 75 and 100 % is enough.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from wheelmagic.ui.progress import is_finished, progress_text
from wheelmagic.ui.reports import Report, plan_explanation, plan_report

if TYPE_CHECKING:
    from wheelmagic.install.plan import Plan
    from wheelmagic.install.progress import ProgressEvent

#: Seconds between two redraws of one progress bar (ipykernel batches streams every 0.2 s).
MIN_INTERVAL = 0.15

#: the milestone of a finished file (quarters: 0..4)
_FINISHED = 4


class TextRenderer:
    """Terminal IPython, the CLI and plain Python: text on stdout, the progress bar on stderr."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out
        self.err = err
        self._last: dict[str, float] = {}
        self._open: str | None = None
        self._milestone: dict[str, int] = {}

    @property
    def _o(self) -> TextIO:
        return self.out or sys.stdout

    @property
    def _e(self) -> TextIO:
        return self.err or sys.stderr

    def _print(self, text: str) -> None:
        self._end_bar()
        print(text, file=self._o, flush=True)

    def plan(
        self,
        plan: Plan,
        *,
        detected: str | None = None,
        explain: bool | str = False,
        dry_run: bool = False,
    ) -> None:
        self._print(plan_report(plan, detected=detected, dry_run=dry_run).text())
        if explain:
            self._print("\n".join(plan_explanation(plan, all_files=explain == "all")))

    def progress(self, event: ProgressEvent) -> None:
        name = event.filename
        finished = is_finished(event)
        if self._e.isatty():
            now = time.monotonic()
            if finished and self._milestone.get(name) == _FINISHED:
                return  # the final event can arrive twice; draw the finished bar once
            if not finished and now - self._last.get(name, 0.0) < MIN_INTERVAL:
                return
            if finished:
                self._milestone[name] = _FINISHED
            self._last[name] = now
            self._e.write("\r" + progress_text(event).ljust(79))
            self._open = None if finished else name
            if finished:
                self._e.write("\n")
            self._e.flush()
            return
        # not a terminal: a line at 0/25/50/75/100 % is enough for logs
        total = event.total_bytes
        step = _FINISHED if finished else (event.done_bytes * 4 // total if total else 0)
        if step > self._milestone.get(name, -1):  # each milestone once, 100% included
            self._milestone[name] = step
            print(progress_text(event), file=self._e, flush=True)

    def _end_bar(self) -> None:
        if self._open is not None:
            self._e.write("\n")
            self._e.flush()
            self._open = None

    def message(self, text: str, *, level: str = "info") -> None:
        self._end_bar()
        stream = self._e if level in ("warning", "error") else self._o
        print(text, file=stream, flush=True)

    def report(self, report: Report) -> None:
        self._print(report.text())

    def done(self, text: str, *, ok: bool = True) -> None:
        self._print(text)
