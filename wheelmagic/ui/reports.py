"""Titled tables that render themselves: the plan, the doctor's verdict, the detected platform.

A `Report` is rows of (label, value) with a title: `_repr_html_` in notebooks, the same rows as
text everywhere else, so one report serves both renderers and a bare `Report` in a cell.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from wheelmagic.errors import WheelmagicError
from wheelmagic.ui.format import human_bytes, platform_rows, platform_summary
from wheelmagic.variants.filename import parse_wheel_name

if TYPE_CHECKING:
    from wheelmagic.install.plan import Plan, PlannedFile
    from wheelmagic.installed import InstalledBuild
    from wheelmagic.interpreter import Interpreter
    from wheelmagic.platform.model import Platform
    from wheelmagic.pytorch.diagnose import Diagnosis

Rows = Sequence[tuple[str, str]]

_STYLE = (
    "font-family: var(--jp-code-font-family, monospace); font-size: 12px; "
    "border-collapse: collapse; margin: 2px 0"
)
#: the colour of a title by the doctor's status
_STATUS_COLOURS = {
    "fits": "#2e7d32",
    "suboptimal": "#ef6c00",
    "broken": "#c62828",
    "missing": "#616161",
    "not-installed": "#616161",
}


class PrettyPrinter(Protocol):
    """The part of IPython's `PrettyPrinter` that `_repr_pretty_` uses."""

    def text(self, obj: str) -> None: ...


def table_html(rows: Rows, title: str | None = None, status: str | None = None) -> str:
    out = [f'<table class="wheelmagic" style="{_STYLE}">']
    if title:
        colour = _STATUS_COLOURS.get(status or "", "inherit")
        out.append(
            f'<tr><th colspan="2" style="text-align: left; color: {colour}">'
            f"{html.escape(title)}</th></tr>"
        )
    for key, value in rows:
        out.append(
            f'<tr><td style="text-align: left; padding-right: 1em; color: #666">'
            f'{html.escape(key)}</td><td style="text-align: left">{html.escape(value)}</td></tr>'
        )
    out.append("</table>")
    return "".join(out)


def table_text(rows: Rows, title: str | None = None) -> str:
    width = max((len(k) for k, _ in rows), default=0)
    lines = [title] if title else []
    lines.extend(f"  {k.ljust(width)}  {v}" for k, v in rows)
    return "\n".join(lines)


class Report:
    """A titled table: `_repr_html_` in notebooks, the same rows as text everywhere else."""

    def __init__(
        self,
        title: str,
        rows: Rows,
        status: str | None = None,
        footer: Sequence[str] = (),
    ) -> None:
        self.title = title
        self.rows = list(rows)
        self.status = status
        self.footer = list(footer)

    def _repr_html_(self) -> str:
        foot = "".join(f"<div><code>{html.escape(line)}</code></div>" for line in self.footer)
        return table_html(self.rows, self.title, self.status) + foot

    def text(self) -> str:
        body = table_text(self.rows, self.title)
        return "\n".join([body, *self.footer]) if self.footer else body

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: PrettyPrinter, cycle: bool) -> None:
        p.text(self.text())


# -- the plan ---------------------------------------------------------------------------------


def _file_line(p: PlannedFile) -> str:
    variant = p.label if p.label is not None else "non-variant"
    extra = f", {human_bytes(p.size)}" if p.size else ""
    line = f"{p.name} {p.version} [{variant}{extra}]"
    return f"{line}: {p.why}" if p.why else line


def plan_rows(plan: Plan, detected: str | None = None) -> list[tuple[str, str]]:
    """The compact block: what was detected, what was chosen, what is already fine."""
    rows: list[tuple[str, str]] = []
    if detected:
        rows.append(("detected", detected))
    rows.extend(("warning", w) for w in plan.warnings)
    rows.extend(("install", _file_line(p)) for p in plan.packages)
    rows.extend(("keep", _file_line(p) + "  (already installed)") for p in plan.satisfied)
    if plan.unused_accelerator is not None:
        rows.append(("warning", str(plan.unused_accelerator)))
    if plan.interpreter.executable:
        rows.append(("into", plan.interpreter.executable))
    return rows


def plan_report(plan: Plan, *, detected: str | None = None, dry_run: bool = False) -> Report:
    """`wheelmagic: will install torch 2.14.1 [cuda13.0]` over the plan's rows."""
    title = "wheelmagic: " + plan.summary() + (" (dry run)" if dry_run else "")
    return Report(title, plan_rows(plan, detected))


_NOT_THIS_TARGET = re.compile(
    r"^  x (?P<file>\S+): (?:built for .*, which the target interpreter does not support"
    r"|(?P<python>requires Python .*; the target is .*))$"
)


def plan_explanation(plan: Plan, *, all_files: bool = False) -> list[str]:
    """Why each file was chosen, then what was considered (`--explain`).

    Files for other platforms or other Pythons are most of an index (956 of 985 lines against
    the default indexes): unless `all_files` (`--explain=all`), each requirement's are one
    counted line, "812 files for other platforms, 144 for other Pythons".
    """
    lines = [*plan.reasons, *plan.explanation]
    if all_files:
        return lines
    platforms = {t.platform for t in plan.interpreter.tags}
    out: list[str] = []
    counts = {"platforms": 0, "Pythons": 0}

    def flush() -> None:
        parts = [f"{n} for other {what}" for what, n in counts.items() if n]
        if parts:
            first, _, rest = parts[0].partition(" ")
            parts[0] = f"{first} {'file' if first == '1' else 'files'} {rest}"
            out.append("  x " + ", ".join(parts) + "; --explain=all shows them")
            counts.update(platforms=0, Pythons=0)

    for line in lines:
        m = _NOT_THIS_TARGET.match(line)
        if m is None:
            if not line.startswith(" "):
                flush()
            out.append(line)
            continue
        if m.group("python") or _platform_fits(m.group("file"), platforms):
            counts["Pythons"] += 1
        else:
            counts["platforms"] += 1
    flush()
    return out


def _platform_fits(filename: str, platforms: set[str]) -> bool:
    """Whether a wheel's platform tag is one the target takes (then its Python tag is not)."""
    try:
        wheel = parse_wheel_name(filename)
    except WheelmagicError:
        return False
    return any(t.platform in platforms for t in wheel.tags)


# -- doctor and detect ------------------------------------------------------------------------


def doctor_report(
    platform: Platform, diagnosis: Diagnosis, installed: InstalledBuild | None = None
) -> Report:
    """The platform and the doctor's verdict on the installed torch, as one table."""
    rows = platform_rows(platform)
    if installed is not None:
        rows.insert(0, ("installed", installed.describe()))
    rows.extend(("why", reason) for reason in diagnosis.reasons)
    rows.extend(("PyTorch will say", line) for line in diagnosis.predicted)
    rows.extend(("note", note) for note in diagnosis.notes)
    footer: list[str] = []
    if diagnosis.fix is not None and diagnosis.status != "fits":
        footer.append(f"to fix: {diagnosis.fix.magic()}")
    status = diagnosis.status
    return Report(f"wheelmagic doctor: {status}", rows, status=status, footer=footer)


def doctor_text(
    diagnosis: Diagnosis,
    installed: Mapping[str, InstalledBuild],
    platform: Platform,
    interpreter: Interpreter,
    names: Sequence[str],
) -> str:
    """`wheelmagic doctor`'s table: python, platform, installed builds, verdict, reasons,
    the error PyTorch will give, the fix (as a command and as the magic), notes."""
    lines: list[str] = []

    def row(label: str, items: Sequence[str]) -> None:
        for i, item in enumerate(items or ["-"]):
            for j, part in enumerate(item.splitlines() or [""]):
                head = label if i == 0 and j == 0 else ""
                pad = "" if j == 0 else "  "
                lines.append(f"  {head:<10} {pad}{part}")

    venv = ", venv" if interpreter.is_venv else ""
    row("python", [f"{interpreter.executable} ({interpreter.python_version}{venv})"])
    row("platform", [platform_summary(platform)])
    row(
        "installed",
        [installed[n].describe() if n in installed else f"{n}: not installed" for n in names],
    )
    row("verdict", [diagnosis.status])
    row("why", [f"- {r}" for r in diagnosis.reasons])
    if diagnosis.predicted:
        row("pytorch", [f"- {p}" for p in diagnosis.predicted])
    if diagnosis.fix is not None:
        row("fix", [diagnosis.fix.command(), f"in a notebook: {diagnosis.fix.magic()}"])
    if diagnosis.notes:
        row("notes", [f"- {n}" for n in diagnosis.notes])
    return "\n".join(lines)


def detect_report(platform: Platform) -> Report:
    return Report("wheelmagic: detected platform", platform_rows(platform))
