"""The notebook front end: `%variant_install`, `%variant_doctor`, `%variant_detect`.

Thin on purpose: the line is parsed with the same option table as `wheelmagic install`
(`wheelmagic.options`), turned into `Options`, and handed to `wheelmagic.app`; the result is
rendered with `wheelmagic.ui`, and `app.restart_needed` decides whether the kernel restarts.
Everything heavy is imported inside the magic, so registering the magics at `%load_ext` costs
nothing.

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
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn, TypeVar

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

if TYPE_CHECKING:
    from wheelmagic.app import Session
    from wheelmagic.install.execute import Change
    from wheelmagic.ui import Renderer

MAGIC_NAMES = ("variant_install", "variant_doctor", "variant_detect")

T = TypeVar("T")


# -- option parsing: the CLI's option table --------------------------------------------------


class VariantInstallFailed(Exception):
    """A failed `%variant_install`: the cell ends with an error, so Run All, nbconvert and
    papermill stop there. The message was already shown; the traceback is not repeated.
    `c.Wheelmagic.raise_on_error = False` keeps `%pip`'s behaviour (print and go on)."""

    def _render_traceback_(self) -> list[str]:
        return []


def _raise_on_error(shell: object) -> bool:
    from wheelmagic.config import Wheelmagic

    cfg = getattr(shell, "config", None)
    return bool(Wheelmagic(config=cfg).raise_on_error if cfg is not None else True)


class _HelpShown(Exception):
    """`--help` was printed: nothing else to do."""


class MagicParser(argparse.ArgumentParser):
    """argparse that raises instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            print(message, file=sys.stderr)
        raise _HelpShown()


def install_parser() -> argparse.ArgumentParser:
    """`wheelmagic install`'s options under the magic's name, plus `--no-restart`."""
    from wheelmagic.options import add_install_arguments

    parser = MagicParser(
        prog="%variant_install",
        description="install the build of torch (and friends) that fits this machine",
    )
    add_install_arguments(parser)
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="never restart the kernel; say when a restart is needed",
    )
    return parser


def _target_parser(prog: str) -> argparse.ArgumentParser:
    from wheelmagic.options import add_target_arguments

    p = MagicParser(prog=prog)
    add_target_arguments(p)
    p.add_argument("--explain", action="store_true", help="show the full reasoning")
    return p


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


def _renderer(ip: object) -> Renderer:
    from wheelmagic.ui import renderer_for

    return renderer_for(ip)


# -- after the install: continue or restart ---------------------------------------------------


def finish_install(
    changed: list[Change], renderer: Renderer, *, no_restart: bool = False, ip: object = None
) -> str:
    """Continue in this kernel when possible, else restart it; returns what happened.

    "continue", "manual" (restart needed, not done) or the restart strategy used.
    """
    from wheelmagic.app import restart_needed

    importlib.invalidate_caches()
    hits = restart_needed(changed, sys.modules)
    names = ", ".join(c.name for c in changed)
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
        f"{why}; the new build loads in a new process",
        packages=[c.name for c in changed],
        ip=ip,
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
        from wheelmagic.app import Session
        from wheelmagic.errors import SelectionError, WheelmagicError
        from wheelmagic.kernel.restart import KernelRestarting
        from wheelmagic.options import from_arguments
        from wheelmagic.ui.format import platform_summary

        args = parse_line(install_parser(), line)
        if args is None:
            return
        options = from_arguments(args)
        if options.prefer is None:  # c.Wheelmagic.prefer, unless WHEELMAGIC_PREFER is set
            from wheelmagic.config import load_settings

            options = replace(options, prefer=load_settings(self.shell).prefer)
        renderer = _renderer(self.shell)
        try:
            with Session(options) as session:
                plan = session.plan(args.requirements)
                if args.json:
                    print(json.dumps(plan.to_json(), indent=2))
                else:
                    renderer.plan(
                        plan,
                        detected=platform_summary(plan.platform),
                        explain=options.explain,
                        dry_run=options.dry_run,
                    )
                if plan.unused_accelerator is not None and plan.nothing_to_do:
                    renderer.message(
                        f"wheelmagic: warning: {plan.unused_accelerator}", level="warning"
                    )
                if options.dry_run:
                    renderer.done("dry run: nothing was installed")
                    return
                if plan.nothing_to_do:
                    renderer.done(plan.summary())
                    return
                result = session.install(plan, progress=renderer.progress)
        except WheelmagicError as err:
            message = f"wheelmagic: error: {err}"
            if options.explain and isinstance(err, SelectionError) and err.explanation:
                renderer.message("\n".join(err.explanation))  # the search that found no set
            renderer.message(message, level="error")
            if _raise_on_error(self.shell):
                raise VariantInstallFailed(message) from None
            return
        except KeyboardInterrupt:
            renderer.message(
                "wheelmagic: interrupted; nothing was changed after the last completed step.",
                level="warning",
            )
            return
        if plan.unused_accelerator is not None:
            renderer.message(f"wheelmagic: warning: {plan.unused_accelerator}", level="warning")
        if not result.changed:
            renderer.done(result.summary())
            return
        what = finish_install(result.changed, renderer, no_restart=args.no_restart, ip=self.shell)
        if what in ("ipykernel", "colab"):
            raise KernelRestarting(
                "wheelmagic: the kernel is restarting to load the new build; "
                "run the following cells once it is back."
            )

    @line_magic
    def variant_doctor(self, line: str) -> None:
        """The platform and the doctor's verdict on this kernel's torch (HTML in notebooks)."""
        from wheelmagic.ui.reports import doctor_report

        asked = self._session("%variant_doctor", line)
        if asked is None:
            return
        args, session = asked
        checkup = self._shown_errors(session.doctor)
        if checkup is None:
            return
        diagnosis = checkup.diagnosis
        if args.json:
            print(json.dumps(diagnosis.to_json(), indent=2, default=str))
            return
        torch = checkup.installed.get("torch")
        _renderer(self.shell).report(doctor_report(checkup.platform, diagnosis, torch))
        if args.explain:
            print("\n".join(diagnosis.reasons))

    @line_magic
    def variant_detect(self, line: str) -> None:
        """What this machine offers (GPU, driver, CPU level), as the installer sees it."""
        from wheelmagic.ui.reports import detect_report

        asked = self._session("%variant_detect", line)
        if asked is None:
            return
        args, session = asked
        platform = self._shown_errors(session.detect)
        if platform is None:
            return
        if args.json:
            print(json.dumps(platform.to_json(), indent=2, default=str))
            return
        _renderer(self.shell).report(detect_report(platform))

    def _session(self, prog: str, line: str) -> tuple[argparse.Namespace, Session] | None:
        """The line of a magic that takes the target options, and a Session for it."""
        from wheelmagic.app import Session
        from wheelmagic.options import target_from_arguments

        args = parse_line(_target_parser(prog), line)
        return None if args is None else (args, Session(target_from_arguments(args)))

    def _shown_errors(self, call: Callable[[], T]) -> T | None:
        """`call()`, with wheelmagic's own errors shown as one line instead of a traceback."""
        from wheelmagic.errors import WheelmagicError

        try:
            return call()
        except WheelmagicError as err:
            _renderer(self.shell).message(f"wheelmagic: error: {err}", level="error")
            return None
