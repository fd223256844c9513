"""The notebook front end: `%variant_install`, `%variant_doctor`, `%variant_detect`.

Thin on purpose: parse the line with the CLI's own `install` parser (same options, same
defaults), call `make_plan` / `execute`, render, and decide about a restart. Everything heavy
is imported inside the magic, so registering the magics at `%load_ext` costs nothing.

Restart only when needed: a changed distribution whose top-level modules are not imported in
this kernel is picked up by the next `import` after `importlib.invalidate_caches()`; one that
was imported (a C extension cannot be loaded twice) needs a new process.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

if TYPE_CHECKING:
    from wheelmagic.ui.render import Renderer


def renderer_for(ip: Any) -> Renderer:
    from wheelmagic.ui.render import renderer_for as choose

    return choose(ip)


MAGIC_NAMES = ("variant_install", "variant_doctor", "variant_detect")


# -- option parsing: the CLI's parser, reused -----------------------------------------------


class _MagicParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        if message:
            print(message, file=sys.stderr)
        raise _HelpShown()


class _HelpShown(Exception):
    """`--help` was printed: nothing else to do."""


def install_parser() -> argparse.ArgumentParser:
    """`wheelmagic install`'s own parser under the magic's name, plus `--no-restart`."""
    from wheelmagic.commands.install import build_install_parser

    parser = _retarget(build_install_parser())
    parser.prog = "%variant_install"
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="never restart the kernel; say when a restart is needed",
    )
    return parser


def _retarget(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make a parser built elsewhere raise UsageError instead of calling sys.exit."""
    parser.__class__ = type("_Retargeted", (_MagicParser, type(parser)), {})
    return parser


def parse_line(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace | None:
    """Parse a magic line with shell quoting; None when only help was asked for."""
    try:
        argv = shlex.split(line)
    except ValueError as err:
        raise UsageError(f"cannot parse {line!r}: {err}") from None
    try:
        return parser.parse_args(argv)
    except _HelpShown:
        return None


# -- the engine: plan, execute ----------------------------------------------------------------


class InstallOutcome:
    """What `run_install` did: the plan, and each changed distribution's top-level modules."""

    def __init__(
        self,
        plan: Any,
        changed: dict[str, list[str]] | None = None,
        dry_run: bool = False,
        summary: str = "",
    ) -> None:
        self.plan = plan
        self.changed = changed or {}
        self.dry_run = dry_run
        self.summary = summary


def run_install(args: argparse.Namespace, renderer: Renderer) -> InstallOutcome:
    """The CLI's install flow (`commands.install.make_plan_for`) with the magic's renderer."""
    from wheelmagic.commands.install import make_plan_for
    from wheelmagic.install.execute import execute
    from wheelmagic.ui.render import platform_summary

    plan, _indexes, client = make_plan_for(args)
    dry_run = bool(args.dry_run)
    try:
        if getattr(args, "json", False):
            print(json.dumps(plan.to_json(), indent=2))
        else:
            renderer.plan(
                plan,
                detected=platform_summary(plan.platform),
                explain=args.explain,
                dry_run=dry_run,
            )
        if dry_run or plan.nothing_to_do:
            return InstallOutcome(plan, {}, dry_run)
        result = execute(
            plan,
            source=client,
            backend=args.backend,
            pre=args.pre,  # indexes: client.config
            progress=renderer.progress,
        )
    finally:
        close = getattr(client, "close", None)
        if callable(close):
            close()
    changed = {str(c.name): list(getattr(c, "modules", ()) or ()) for c in result.changed}
    return InstallOutcome(plan, changed, False, result.summary())


# -- after the install: continue or restart ---------------------------------------------------


def finish_install(
    changed: Sequence[str] | Mapping[str, Sequence[str]],
    renderer: Renderer,
    *,
    no_restart: bool = False,
    ip: Any = None,
) -> str:
    """Continue in this kernel when possible, else restart it; returns what happened.

    `changed` lists the changed distributions, optionally with their top-level modules (as
    `execute` reports them, old and new files); otherwise they are read from each
    distribution's top_level.txt / RECORD. Returns "continue", "manual" (restart needed, not
    done) or the restart strategy.
    """
    from wheelmagic.kernel import imported_modules

    importlib.invalidate_caches()
    known = dict(changed) if isinstance(changed, Mapping) else {}
    hits = {d: sorted(m for m in mods if m in sys.modules) for d, mods in known.items() if mods}
    hits = {d: m for d, m in hits.items() if m}
    rest = [d for d in changed if not known.get(d)]
    hits.update(imported_modules(rest))
    names = ", ".join(changed)
    if not hits:
        renderer.done(f"installed {names}; no restart needed: import it now")
        return "continue"
    why = "; ".join(f"{d} was already imported ({', '.join(m)})" for d, m in hits.items())
    if no_restart:
        renderer.done(f"installed {names}")
        renderer.message(
            f"wheelmagic: restart the kernel to use the new build: {why}", level="warning"
        )
        return "manual"
    renderer.done(f"installed {names}; the kernel must restart: {why}")
    from wheelmagic.kernel.restart import restart_kernel  # says what it does (or can't)

    return restart_kernel(
        f"{why}; the new build loads in a new process", packages=list(changed), ip=ip
    )


# -- the magics --------------------------------------------------------------------------------


@magics_class
class WheelmagicMagics(Magics):  # type: ignore[misc]
    """`%variant_install`, `%variant_doctor`, `%variant_detect`."""

    @line_magic
    def variant_install(self, line: str) -> None:
        """Install the PyTorch build that fits this machine into this kernel's Python.

        Usage: %variant_install torch [torchvision ...] [--index-url URL] [--torch-backend B]
        [--variant LABEL] [--dry-run] [--explain] [--platform FILE] [--backend pip|uv]
        [--no-restart]. Same options as `wheelmagic install`; `--help` lists them all.
        """
        from wheelmagic.errors import WheelmagicError
        from wheelmagic.kernel.restart import KernelRestarting

        args = parse_line(install_parser(), line)
        if args is None:
            return
        renderer = renderer_for(self.shell)
        try:
            outcome = run_install(args, renderer)
        except WheelmagicError as err:
            renderer.message(f"wheelmagic: error: {err}", level="error")
            return
        except KeyboardInterrupt:
            renderer.message(
                "wheelmagic: interrupted; nothing was changed after the last completed step.",
                level="warning",
            )
            return
        if outcome.dry_run:
            renderer.done("dry run: nothing was installed")
            return
        if not outcome.changed:
            renderer.done(outcome.summary or outcome.plan.summary())
            return
        what = finish_install(
            outcome.changed,
            renderer,
            no_restart=bool(getattr(args, "no_restart", False)),
            ip=self.shell,
        )
        if what in ("ipykernel", "colab"):
            raise KernelRestarting(
                "wheelmagic: the kernel is restarting to load the new build; "
                "run the following cells once it is back."
            )

    @line_magic
    def variant_doctor(self, line: str) -> Any:
        """The platform and the doctor's verdict on this kernel's torch (HTML in notebooks)."""
        args = parse_line(_doctor_parser("%variant_doctor"), line)
        if args is None:
            return None
        from wheelmagic.errors import WheelmagicError

        try:
            from wheelmagic.kernel import doctor_facts

            platform, installed, diagnosis = doctor_facts(args.platform)
        except WheelmagicError as err:
            renderer_for(self.shell).message(f"wheelmagic: error: {err}", level="error")
            return None
        from wheelmagic.ui.render import doctor_report

        if args.json:
            print(json.dumps(_diagnosis_json(diagnosis), indent=2, default=str))
            return None
        self._show(doctor_report(platform, diagnosis, _torch_of(installed)))
        if args.explain:
            explain = getattr(diagnosis, "explain", None)
            lines = explain() if callable(explain) else list(getattr(diagnosis, "reasons", []))
            print("\n".join(str(x) for x in lines))
        return None

    @line_magic
    def variant_detect(self, line: str) -> None:
        """What this machine offers (GPU, driver, CPU level), as the installer sees it."""
        args = parse_line(_doctor_parser("%variant_detect"), line)
        if args is None:
            return
        from wheelmagic.errors import WheelmagicError
        from wheelmagic.platform import current_platform
        from wheelmagic.ui.render import detect_report

        try:
            platform = current_platform(platform_file=args.platform)
        except WheelmagicError as err:
            renderer_for(self.shell).message(f"wheelmagic: error: {err}", level="error")
            return
        if args.json:
            print(json.dumps(platform.to_json(), indent=2, default=str))
            return
        self._show(detect_report(platform))

    def _show(self, report: Any) -> None:
        renderer_for(self.shell).report(report)


def _doctor_parser(prog: str) -> argparse.ArgumentParser:
    p = _MagicParser(prog=prog)
    p.add_argument(
        "--platform", metavar="FILE", help="read the platform snapshot from FILE instead of probing"
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--explain", action="store_true", help="show the full reasoning")
    return p


def _torch_of(installed: Any) -> Any:
    if isinstance(installed, dict):
        torch = installed.get("torch")
        return _Described(torch) if torch is not None else None
    return installed


class _Described:
    def __init__(self, build: Any) -> None:
        self.build = build

    def summary(self) -> str:
        fn = getattr(self.build, "describe", None)
        return str(fn()) if callable(fn) else str(self.build)


def _diagnosis_json(diagnosis: Any) -> Any:
    fn = getattr(diagnosis, "to_json", None)
    if callable(fn):
        return fn()
    return {
        k: getattr(diagnosis, k, None)
        for k in ("status", "reasons", "predicted", "fix_command", "fix_magic")
    }
