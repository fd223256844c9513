"""`Options`: what a request asks for, and the one option table that fills it from a command line.

Every front end turns its input into an `Options` and hands it to `wheelmagic.app`: the CLI
and `%variant_install` through `add_install_arguments` + `from_arguments` (the same table, so
their options never drift), the import hook and the Dask plugin by building one directly.
The argparse `Namespace` stops here: nothing below this module sees argv.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

Installer = Literal["auto", "pip", "uv"]
INSTALLERS: tuple[Installer, ...] = ("auto", "pip", "uv")
#: `fit`: the build that uses this machine best, then the newest release at that level;
#: `newest`: the newest release first, then its best build (WHEELMAGIC_PREFER does the same)
Prefer = Literal["fit", "newest"]
PREFERS: tuple[Prefer, ...] = ("fit", "newest")
ENV_PREFER = "WHEELMAGIC_PREFER"


@dataclass(frozen=True)
class Options:
    """One request, typed and frozen. Defaults are what `wheelmagic install torch` does."""

    #: the target interpreter (None: this one)
    python: str | None = None
    #: a platform snapshot to plan for instead of probing (None: WHEELMAGIC_PLATFORM, else probe)
    platform_file: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    #: PyTorch's per-backend indexes: auto, cpu, cu128, ..., none
    torch_backend: str | None = None
    #: install this variant label (or backend name) instead of the best
    variant: str | None = None
    installer: Installer = "auto"
    pre: bool = False
    reinstall: bool = False
    dry_run: bool = False
    #: True: the reasons, files for other platforms/Pythons counted; "all": every file listed
    explain: bool | Literal["all"] = False
    #: None: WHEELMAGIC_PREFER, else "fit"
    prefer: Prefer | None = None
    #: plan with another platform's wheel tags and markers (uv's names; planning only)
    python_platform: str | None = None


# -- the option table shared by `wheelmagic install|preinstall` and `%variant_install` ---------


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    """Options every command shares: which machine facts and which interpreter."""
    p.add_argument(
        "--platform",
        metavar="FILE",
        help="read the platform snapshot from FILE (as printed by `wheelmagic detect --json`) "
        "instead of probing; WHEELMAGIC_PLATFORM does the same",
    )
    p.add_argument(
        "--python",
        metavar="PATH",
        help="target interpreter, a path or a command on PATH (python3.11): its tags and "
        "installed packages; default: this one",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_install_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `wheelmagic install` (and `preinstall`, and `%variant_install`)."""
    p.add_argument(
        "requirements",
        nargs="+",
        metavar="REQ",
        help="what to install, as for pip: torch, 'torch>=2.8', torchvision",
    )
    p.add_argument("--index-url", metavar="URL", help="the main package index (PEP 503/691)")
    p.add_argument(
        "--extra-index-url",
        metavar="URL",
        action="append",
        default=[],
        help="another index to consider (repeatable)",
    )
    p.add_argument(
        "--trusted-host",
        metavar="HOST",
        action="append",
        default=[],
        help="allow plain http (or a bad certificate) for HOST (repeatable)",
    )
    p.add_argument(
        "--find-links", metavar="DIR", action="append", default=[], help=argparse.SUPPRESS
    )
    p.add_argument(
        "--torch-backend",
        metavar="BACKEND",
        help="legacy PyTorch per-backend indexes: auto, cpu, cu128, cu130, rocm6.4, xpu, or none",
    )
    p.add_argument(
        "--variant",
        metavar="LABEL",
        help="install this variant label (cuda13.0, null, ...) instead of the best",
    )
    p.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    p.add_argument(
        "--explain",
        action="store_true",
        help="show the files considered and why (files for other platforms or Pythons counted)",
    )
    p.add_argument(
        "--explain=all",
        dest="explain_all",
        action="store_true",
        help="as --explain, listing every file for other platforms or Pythons too",
    )
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before installing")
    p.add_argument(
        "--backend",
        choices=INSTALLERS,
        default="auto",
        help="installer to drive (default: uv when available, else pip)",
    )
    p.add_argument("--pre", action="store_true", help="consider pre-releases")
    p.add_argument(
        "--prefer",
        choices=PREFERS,
        default=None,
        help="fit (default): the build that uses this machine's GPUs best, then the newest "
        "release with it; newest: the newest release first (WHEELMAGIC_PREFER does the same)",
    )
    p.add_argument(
        "--reinstall",
        action="store_true",
        help="reinstall even when the chosen build is already installed",
    )
    p.add_argument(
        "--python-platform",
        metavar="PLATFORM",
        help="plan with this platform's wheel tags (as uv: linux, macos, windows, "
        "aarch64-apple-darwin, x86_64-manylinux_2_28, ...); with --platform FILE for "
        "another machine; planning only (--dry-run)",
    )
    add_target_arguments(p)


def target_from_arguments(ns: argparse.Namespace) -> Options:
    """The `Options` of a command that only takes `add_target_arguments` (detect, doctor)."""
    return Options(python=ns.python, platform_file=ns.platform)


def from_arguments(ns: argparse.Namespace) -> Options:
    """The `Options` of a command line parsed with `add_install_arguments`."""
    return Options(
        python=ns.python,
        platform_file=ns.platform,
        index_url=ns.index_url,
        extra_index_urls=tuple(ns.extra_index_url),
        trusted_hosts=tuple(ns.trusted_host),
        find_links=tuple(ns.find_links),
        torch_backend=ns.torch_backend,
        variant=ns.variant,
        installer=ns.backend,
        pre=ns.pre,
        reinstall=ns.reinstall,
        dry_run=ns.dry_run,
        explain="all" if getattr(ns, "explain_all", False) else ns.explain,
        prefer=ns.prefer,
        python_platform=getattr(ns, "python_platform", None),
    )
