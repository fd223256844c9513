"""Shared test set-up. Heavy end-to-end tests are marked `e2e`: CI runs them; locally
`pytest -m "not e2e"` or `WHEELMAGIC_SKIP_E2E=1` skips them. Tests that start real Jupyter
kernels are marked `kernel` (`-m "not kernel"` skips them); collection fails if one is not."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # `import support.server` etc.


#: Test directories whose tests start real Jupyter kernels: each test there is marked `kernel`.
KERNEL_DIRS = tuple(ROOT / "tests" / d for d in ("kernel", "notebooks", "browser"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if any(d in item.path.parents for d in KERNEL_DIRS)
        and item.get_closest_marker("kernel") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests under tests/kernel, tests/notebooks and tests/browser start real kernels and "
            "must be marked `kernel` (pytestmark = pytest.mark.kernel): " + ", ".join(unmarked)
        )
    if os.environ.get("WHEELMAGIC_SKIP_E2E") != "1":
        return
    skip = pytest.mark.skip(reason="WHEELMAGIC_SKIP_E2E=1")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_wheelmagic_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads the developer's own cache, platform override or index settings."""
    for var in list(os.environ):
        if var != "WHEELMAGIC_SKIP_E2E" and var.startswith(
            (
                "WHEELMAGIC_",
                "NV_VARIANT_PROVIDER_",
                "AMD_VARIANT_PROVIDER_",
                "INTEL_VARIANT_PROVIDER_",
                "UV_CUDA_",
                "UV_AMD_",
            )
        ):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WHEELMAGIC_CACHE_DIR", str(tmp_path_factory.mktemp("wm-cache")))
