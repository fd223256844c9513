"""Waiting for a condition in tests: poll it with a bound, never sleep in its place.

A sleep that stands in for "the other side got there" passes when the machine is fast and
fails (or, worse, passes for the wrong reason) when it is slow. `wait_until` polls the real
condition and fails the test, naming what never happened, when the bound runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], *, what: str, timeout: float = 60, interval: float = 0.02
) -> T:
    """Poll `condition` until it returns something true; return that, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)
