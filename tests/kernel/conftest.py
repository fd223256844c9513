"""Kernel fixtures: see `kernel.harness` (shared with the notebook and browser tests)."""

from kernel.harness import kernel_venv, wheel_index  # noqa: F401
