"""Browser tests: the shared kernel fixtures (the `browser` marker is declared in pyproject)."""

from kernel.harness import wheel_index  # noqa: F401
