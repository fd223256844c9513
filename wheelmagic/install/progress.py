"""Download progress as plain events; front ends render them (terminal, notebook, nothing).

`ProgressEvent`s go to any `Callable[[ProgressEvent], None]`. `Throttle` limits them to about
10 a second (always delivering the final one), so a renderer never slows a download down.
Drawing them is `wheelmagic.ui`'s job (`TextRenderer.progress`, `NotebookRenderer.progress`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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


class Combined:
    """Several files downloading at once, shown as one progress display.

    The files of one plan download in parallel (`wheelmagic.install.execute`); each sends its
    own throttled events from its own thread. This sums them into events for one display
    named after the set ("3 files: torch-....whl and 2 more"), about `per_second` a second,
    and finished when every file is. Thread-safe.
    """

    def __init__(
        self,
        callback: ProgressCallback,
        files: Sequence[tuple[str, int | None]],
        per_second: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import threading

        self.callback = callback
        first = files[0][0] if files else ""
        self.name = f"{len(files)} files: {first} and {len(files) - 1} more"
        sizes = [size for _name, size in files]
        self.total = None if any(s is None for s in sizes) else sum(s or 0 for s in sizes)
        self.expected = {name for name, _size in files}
        self.done: dict[str, int] = {}
        self.start: dict[str, int] = {}
        self.finished: set[str] = set()
        self.clock = clock
        self.t0 = clock()
        self.last = float("-inf")
        self.interval = 1.0 / per_second
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            name = event.filename
            if name not in self.start:
                # a resumed or cached file: what it already had is not this run's rate
                self.start[name] = event.done_bytes
            self.done[name] = event.done_bytes
            if event.finished:
                self.finished.add(name)
            complete = self.expected <= self.finished
            now = self.clock()
            if not complete and now - self.last < self.interval:
                return
            self.last = now
            done = sum(self.done.values())
            fresh = sum(self.done[n] - self.start[n] for n in self.done)
            rate = max(fresh, 0) / max(now - self.t0, 1e-6)
            eta = (self.total - done) / rate if self.total and rate > 0 else None
            out = ProgressEvent(self.name, self.total, done, rate, eta, complete)
        self.callback(out)
