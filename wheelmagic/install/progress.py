"""Download progress as plain events; front ends render them (terminal, notebook, nothing).

`ProgressEvent`s go to any `Callable[[ProgressEvent], None]`. `Throttle` limits them to about
10 a second (always delivering the final one), so a renderer never slows a download down.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO


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


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


class TerminalProgress:
    """A one-line bar on stderr redrawn with \\r when it is a terminal; else one final line."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, event: ProgressEvent) -> None:
        if not self.tty and not event.finished:
            return
        done = human_bytes(event.done_bytes)
        rate = human_bytes(event.rate_bytes_per_s) + "/s"
        if event.total_bytes:
            frac = min(1.0, event.done_bytes / event.total_bytes)
            bar = "#" * int(frac * self.width)
            text = (
                f"{event.filename} [{bar:<{self.width}}] {frac:4.0%} "
                f"{done}/{human_bytes(event.total_bytes)} {rate}"
            )
            if event.eta_s is not None and not event.finished:
                text += f" eta {event.eta_s:.0f}s"
        else:
            text = f"{event.filename} {done} {rate}"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if event.finished else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


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
