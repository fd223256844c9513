"""Browser tests: register the `browser` marker (until pyproject lists it) and the fixtures."""

from __future__ import annotations

import pytest
from kernel.harness import wheel_index  # noqa: F401


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: tests driving a real browser (Chromium)")
