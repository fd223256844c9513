"""Download progress as plain events; front ends render them (terminal, notebook, nothing).

`ProgressEvent`s go to any `Callable[[ProgressEvent], None]`. `Throttle` limits them to about
10 a second (always delivering the final one), so a renderer never slows a download down.
Drawing them is `wheelmagic.ui`'s job (`TextRenderer.progress`, `NotebookRenderer.progress`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressEvent:
    filename: str
    total_bytes: int | None
    done_bytes: int
    rate_bytes_per_s: float
    eta_s: float | None
    #: True on the last event of a file (complete or cached)
    finished: bool = False


ProgressCallback = Callable[[ProgressEvent], None]


class NullProgress:
    def __call__(self, event: ProgressEvent) -> None:
        pass


class Throttle:
    """Turns byte counts into at most `per_second` events for one file."""

    def __init__(
        self,
        callback: ProgressCallback | None,
        filename: str,
        total: int | None,
        start_bytes: int = 0,
        per_second: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.callback = callback
        self.filename = filename
        self.total = total
        self.done = start_bytes
        self.start_bytes = start_bytes
        self.clock = clock
        self.t0 = clock()
        self.last = float("-inf")
        self.interval = 1.0 / per_second

    def _event(self, finished: bool) -> ProgressEvent:
        elapsed = max(self.clock() - self.t0, 1e-6)
        rate = (self.done - self.start_bytes) / elapsed
        eta = (self.total - self.done) / rate if self.total and rate > 0 else None
        return ProgressEvent(self.filename, self.total, self.done, rate, eta, finished)

    def update(self, n: int) -> None:
        self.done += n
        if self.callback is None:
            return
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self.callback(self._event(False))

    def finish(self) -> None:
        if self.callback is not None:
            self.callback(self._event(True))
