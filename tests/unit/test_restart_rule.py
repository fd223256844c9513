"""No restart for distributions whose only loaded modules are start-up hooks' (issue 13 item 3).

A stock Python 3.11 venv imports setuptools' `_distutils_hack` at every start (its
distutils-precedence.pth); torch depends on setuptools, so the first install upgrades it. That
must not ask for a restart. The module lists come from the real venv's real setuptools and pip.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wheelmagic.app import STARTUP_ONLY_MODULES, restart_needed
from wheelmagic.install.execute import Change, _modules
from wheelmagic.install.lock import installed_dists


@pytest.fixture(scope="module")
def stock_venv(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """(distribution -> its top-level modules, modules loaded at start) of a fresh venv."""
    prefix = tmp_path_factory.mktemp("stock") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True, timeout=300)
    python = str(prefix / "bin" / "python")
    out = subprocess.run(
        [
            python,
            "-c",
            "import json, site, sys; print(json.dumps([site.getsitepackages(), list(sys.modules)]))",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    site_dirs, loaded = json.loads(out)
    dists = installed_dists(site_dirs)
    return {name: _modules(d) for name, d in dists.items()}, set(loaded)


def change(name: str, modules: tuple[str, ...]) -> Change:
    return Change(name, "1.0", "2.0", modules=modules)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="3.11's ensurepip brings setuptools")
def test_setuptools_upgrade_after_a_stock_start_needs_no_restart(stock_venv) -> None:  # type: ignore[no-untyped-def]
    modules, loaded = stock_venv
    assert "_distutils_hack" in loaded  # the .pth really imported it at start-up
    assert "_distutils_hack" in modules["setuptools"]
    assert restart_needed([change("setuptools", modules["setuptools"])], loaded) == {}


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="3.11's ensurepip brings setuptools")
def test_setuptools_imported_by_the_user_still_needs_a_restart(stock_venv) -> None:  # type: ignore[no-untyped-def]
    modules, loaded = stock_venv
    hits = restart_needed([change("setuptools", modules["setuptools"])], loaded | {"pkg_resources"})
    assert hits == {"setuptools": ["pkg_resources"]}


def test_pip_upgrade_needs_no_restart(stock_venv) -> None:  # type: ignore[no-untyped-def]
    modules, loaded = stock_venv
    assert restart_needed([change("pip", modules["pip"])], loaded | {"pip"}) == {}


def test_wheel_upgrade_needs_no_restart() -> None:
    assert restart_needed([change("wheel", ("wheel",))], {"wheel", "wheel.bdist_wheel"}) == {}


def test_torch_still_needs_a_restart_beside_them(stock_venv) -> None:  # type: ignore[no-untyped-def]
    modules, loaded = stock_venv
    changes = [change("setuptools", modules["setuptools"]), change("torch", ("torch",))]
    assert restart_needed(changes, loaded | {"torch"}) == {"torch": ["torch"]}


def test_every_exemption_says_why() -> None:
    assert set(STARTUP_ONLY_MODULES) == {"_distutils_hack", "pip", "wheel"}
    assert all(len(why) > 20 for why in STARTUP_ONLY_MODULES.values())
