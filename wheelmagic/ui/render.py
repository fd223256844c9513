"""How the magics show things: HTML with a live progress bar in notebooks, plain text elsewhere.

Two renderers share one small interface (`Renderer`) so the magics never branch on where they
run. The notebook renderer updates displays in place through `display_id` (no ipywidgets: a
plain `<progress>` element with a text/plain fallback for frontends that show only text); the
terminal renderer redraws one line with ``\\r`` when stderr is a terminal, and prints a few
milestones otherwise. Everything here takes duck-typed objects (the platform snapshot, the
plan, the doctor's diagnosis) so it stays importable without the heavy layers.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TextIO

#: Seconds between two redraws of one progress bar (ipykernel batches streams every 0.2 s).
MIN_INTERVAL = 0.15

_STYLE = (
    "font-family: var(--jp-code-font-family, monospace); font-size: 12px; "
    "border-collapse: collapse; margin: 2px 0"
)
_STATUS_COLOURS = {
    "fits": "#2e7d32",
    "suboptimal": "#ef6c00",
    "broken": "#c62828",
    "missing": "#616161",
    "not-installed": "#616161",
}


# -- formatting helpers -----------------------------------------------------------------------


def human_bytes(n: float | None) -> str:
    """1536 -> '1.5 KiB'; None -> '?'."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def human_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0 or seconds != seconds:
        return "--:--"
    s = int(seconds + 0.5)
    return (
        f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
        if s >= 3600
        else f"{s // 60:02d}:{s % 60:02d}"
    )


def _get(event: Any, name: str, default: Any = None) -> Any:
    if isinstance(event, dict):
        return event.get(name, default)
    return getattr(event, name, default)


def progress_text(event: Any, width: int = 30) -> str:
    """`torch-...whl  [=====>    ]  45%  120.0 MiB/265.3 MiB  30.2 MiB/s  eta 00:05`."""
    name = str(_get(event, "filename", "") or "")
    total = _get(event, "total_bytes")
    done = int(_get(event, "done_bytes", 0) or 0)
    rate = _get(event, "rate_bytes_per_s")
    eta = _get(event, "eta_s")
    if total:
        frac = min(max(done / total, 0.0), 1.0)
        filled = int(frac * width)
        bar = "=" * filled + (">" if filled < width else "") + " " * max(width - filled - 1, 0)
        head = f"[{bar}] {frac * 100:3.0f}%  {human_bytes(done)}/{human_bytes(total)}"
    else:
        head = f"{human_bytes(done)}"
    tail = f"  {human_bytes(rate)}/s" if rate else ""
    if total and done < total:
        tail += f"  eta {human_eta(eta)}"
    return f"{name}  {head}{tail}"


def _progress_numbers(event: Any) -> str:
    """`45%  120.0 MiB/265.3 MiB  30.2 MiB/s  eta 00:05` (the text bar without the bar)."""
    total = _get(event, "total_bytes")
    done = int(_get(event, "done_bytes", 0) or 0)
    rate = _get(event, "rate_bytes_per_s")
    parts = []
    if total:
        parts.append(f"{min(done / total, 1.0) * 100:.0f}%")
        parts.append(f"{human_bytes(done)}/{human_bytes(total)}")
    else:
        parts.append(human_bytes(done))
    if rate:
        parts.append(f"{human_bytes(rate)}/s")
    if total and done < total:
        parts.append(f"eta {human_eta(_get(event, 'eta_s'))}")
    return "  ".join(parts)


def progress_html(event: Any) -> str:
    name = html.escape(str(_get(event, "filename", "") or ""))
    total = _get(event, "total_bytes")
    done = int(_get(event, "done_bytes", 0) or 0)
    value = f'value="{done}" max="{int(total)}"' if total else ""
    return (
        '<div class="wheelmagic-progress" style="font-family: var(--jp-code-font-family, '
        'monospace); font-size: 12px; white-space: nowrap">'
        f'<progress {value} style="width: 20em; vertical-align: middle"></progress> '
        f"<code>{name}</code> <span>{html.escape(_progress_numbers(event))}</span></div>"
    )


def _platform_lines(platform: Any) -> list[tuple[str, str]]:
    """(label, value) rows describing a platform snapshot, whatever shape it has."""
    for attr in ("rows", "summary_rows"):
        fn = getattr(platform, attr, None)
        if callable(fn):
            try:
                return [(str(k), str(v)) for k, v in fn()]
            except Exception:
                break
    data: Any = None
    to_json = getattr(platform, "to_json", None)
    if callable(to_json):
        try:
            data = to_json()
        except Exception:
            data = None
    if not isinstance(data, dict):
        summary = getattr(platform, "summary", None)
        text = summary() if callable(summary) else str(platform)
        return [("platform", str(text))]
    return _snapshot_rows(data)


def _snapshot_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows for a `Platform.to_json()` snapshot: machine, driver, one row per GPU."""
    rows: list[tuple[str, str]] = []
    cpu = data.get("cpu") or {}
    level = (
        f"x86-64-v{cpu['x86_64_level']}"
        if cpu.get("x86_64_level")
        else f"armv{cpu['aarch64_version']}"
        if cpu.get("aarch64_version")
        else ""
    )
    machine = " ".join(str(x) for x in (data.get("os"), data.get("arch")) if x)
    if machine or level:
        rows.append(("machine", ", ".join(x for x in (machine, level) if x)))
    nv = data.get("nvidia")
    if isinstance(nv, dict):
        cuda = (
            f" (supports CUDA {nv['cuda_driver_version']})" if nv.get("cuda_driver_version") else ""
        )
        rows.append(("NVIDIA driver", f"{nv.get('driver_version') or '?'}{cuda}"))
        gpus = nv.get("gpus")
        for i, g in enumerate(gpus or []):
            if not isinstance(g, dict):
                rows.append((f"GPU {i}", str(g)))
                continue
            bits = [str(g.get("name") or "GPU")]
            if g.get("compute_capability"):
                bits.append(f"compute capability {g['compute_capability']}")
            if g.get("memory_bytes"):
                bits.append(human_bytes(g["memory_bytes"]))
            if g.get("mig"):
                bits.append("MIG")
            rows.append((f"GPU {g.get('index', i)}", ", ".join(bits)))
        if gpus == []:
            rows.append(("GPU", "none visible"))
    amd = data.get("amd")
    if isinstance(amd, dict):
        rocm = f" (ROCm {amd['rocm_version']})" if amd.get("rocm_version") else ""
        rows.append(("AMD GPU", ", ".join(amd.get("gfx") or ["?"]) + rocm))
    intel = data.get("intel")
    if isinstance(intel, dict):
        rows.append(("Intel GPU", "device IP " + ", ".join(intel.get("device_ip") or ["?"])))
    apple = data.get("apple")
    if isinstance(apple, dict):
        rows.append(("Apple", f"macOS {apple.get('macos_version') or '?'} (MPS)"))
    if not any(k in data for k in ("nvidia", "amd", "intel", "apple")):
        rows.append(("GPU", "none found"))
    if data.get("description"):
        rows.append(("snapshot", str(data["description"])))
    known = {"os", "arch", "cpu", "nvidia", "amd", "intel", "apple", "sources", "description"}
    for key, value in data.items():
        if key not in known and value not in (None, [], {}, ""):
            rows.append((str(key), _compact(value)))
    return rows


def _compact(value: Any, limit: int = 160) -> str:
    if isinstance(value, dict):
        text = ", ".join(
            f"{k}={_compact(v, 60)}" for k, v in value.items() if v not in (None, [], {}, "")
        )
    elif isinstance(value, (list, tuple)):
        text = ", ".join(_compact(v, 60) for v in value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def platform_summary(platform: Any) -> str:
    """One line: what was detected (the platform's own `summary()` if it has one)."""
    fn = getattr(platform, "summary", None)
    if callable(fn):
        try:
            return str(fn())
        except Exception:
            pass
    return "; ".join(f"{k}: {v}" for k, v in _platform_lines(platform)[:4])


def _table_html(
    rows: Sequence[tuple[str, str]], title: str | None = None, status: str | None = None
) -> str:
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


def _table_text(rows: Sequence[tuple[str, str]], title: str | None = None) -> str:
    width = max((len(k) for k, _ in rows), default=0)
    lines = [title] if title else []
    lines.extend(f"  {k.ljust(width)}  {v}" for k, v in rows)
    return "\n".join(lines)


# -- reports that render themselves -----------------------------------------------------------


class Report:
    """A titled table: `_repr_html_` in notebooks, the same rows as text everywhere else."""

    def __init__(
        self,
        title: str,
        rows: Sequence[tuple[str, str]],
        status: str | None = None,
        footer: Sequence[str] = (),
    ) -> None:
        self.title = title
        self.rows = list(rows)
        self.status = status
        self.footer = list(footer)

    def _repr_html_(self) -> str:
        foot = "".join(f"<div><code>{html.escape(line)}</code></div>" for line in self.footer)
        return _table_html(self.rows, self.title, self.status) + foot

    def text(self) -> str:
        body = _table_text(self.rows, self.title)
        return "\n".join([body, *self.footer]) if self.footer else body

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())


def doctor_report(platform: Any, diagnosis: Any, installed: Any = None) -> Report:
    """The platform and the doctor's verdict on the installed torch, as one table."""
    status = str(getattr(diagnosis, "status", "unknown") or "unknown")
    rows = _platform_lines(platform)
    described = _describe_installed(installed)
    if described:
        rows.insert(0, ("installed", described))
    for reason in list(getattr(diagnosis, "reasons", []) or []):
        rows.append(("why", str(reason)))
    predicted = getattr(diagnosis, "predicted", None) or []
    for line in [predicted] if isinstance(predicted, str) else list(predicted):
        rows.append(("PyTorch will say", str(line)))
    for note in list(getattr(diagnosis, "notes", []) or []):
        rows.append(("note", str(note)))
    footer: list[str] = []
    fix = getattr(diagnosis, "fix_magic", None)
    if fix and status != "fits":
        footer.append(f"to fix: {fix}")
    return Report(f"wheelmagic doctor: {status}", rows, status=status, footer=footer)


def detect_report(platform: Any) -> Report:
    return Report("wheelmagic: detected platform", _platform_lines(platform))


def _describe_installed(installed: Any) -> str:
    if installed is None:
        return ""
    fn = getattr(installed, "summary", None)
    if callable(fn):
        try:
            return str(fn())
        except Exception:
            return ""
    torch = getattr(installed, "torch", None)
    if torch is not None:
        version = getattr(torch, "version", None)
        return f"torch {version}" if version else ""
    return ""


def plan_rows(plan: Any, detected: str | None = None) -> list[tuple[str, str]]:
    """The compact block: what was detected, what was chosen, what is already fine."""
    rows: list[tuple[str, str]] = []
    if detected:
        rows.append(("detected", detected))
    for warning in list(getattr(plan, "warnings", []) or []):
        rows.append(("warning", str(warning)))
    for p in list(getattr(plan, "packages", []) or []):
        rows.append(("install", _file_line(p)))
    for p in list(getattr(plan, "satisfied", []) or []):
        rows.append(("keep", _file_line(p) + "  (already installed)"))
    interp = getattr(plan, "interpreter", None)
    exe = getattr(interp, "executable", None)
    if exe:
        rows.append(("into", str(exe)))
    return rows


def _file_line(p: Any) -> str:
    label = getattr(p, "label", None)
    variant = label if label is not None else "non-variant"
    size = getattr(p, "size", None)
    extra = f", {human_bytes(size)}" if size else ""
    why = getattr(p, "why", "")
    line = f"{getattr(p, 'name', '?')} {getattr(p, 'version', '?')} [{variant}{extra}]"
    return f"{line}: {why}" if why else line


# -- renderers ---------------------------------------------------------------------------------

ProgressCallback = Callable[[Any], None]


class Renderer(Protocol):
    """What a front end shows; implemented for notebooks (HTML) and terminals (text)."""

    def plan(
        self,
        plan: Any,
        *,
        detected: str | None = None,
        explain: bool = False,
        dry_run: bool = False,
    ) -> None: ...

    def progress(self, event: Any) -> None: ...

    def message(self, text: str, *, level: str = "info") -> None: ...

    def report(self, report: Report) -> None: ...

    def done(self, text: str, *, ok: bool = True) -> None: ...


class TextRenderer:
    """Terminal IPython and plain Python: text on stdout, the progress bar on stderr."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out
        self.err = err
        self._last: dict[str, float] = {}
        self._open: str | None = None
        self._milestone: dict[str, int] = {}

    @property
    def _o(self) -> TextIO:
        return self.out or sys.stdout

    @property
    def _e(self) -> TextIO:
        return self.err or sys.stderr

    def _print(self, text: str) -> None:
        self._end_bar()
        print(text, file=self._o, flush=True)

    def plan(
        self,
        plan: Any,
        *,
        detected: str | None = None,
        explain: bool = False,
        dry_run: bool = False,
    ) -> None:
        title = "wheelmagic: " + (_summary(plan) + (" (dry run)" if dry_run else ""))
        self._print(_table_text(plan_rows(plan, detected), title))
        if explain:
            self._print("\n".join(_explain_lines(plan)))

    def progress(self, event: Any) -> None:
        name = str(_get(event, "filename", "") or "")
        total = _get(event, "total_bytes")
        done = int(_get(event, "done_bytes", 0) or 0)
        finished = bool(total) and done >= int(total)
        tty = bool(getattr(self._e, "isatty", lambda: False)())
        if tty:
            now = time.monotonic()
            if finished and self._milestone.get(name) == 4:
                return  # the final event can arrive twice; draw the finished bar once
            if not finished and now - self._last.get(name, 0.0) < MIN_INTERVAL:
                return
            if finished:
                self._milestone[name] = 4
            self._last[name] = now
            self._e.write("\r" + progress_text(event).ljust(79))
            self._open = None if finished else name
            if finished:
                self._e.write("\n")
            self._e.flush()
            return
        # not a terminal: a line at 0/25/50/75/100 % is enough for logs
        step = 4 if finished else (int(done * 4 / total) if total else 0)
        if step > self._milestone.get(name, -1):  # each milestone once, 100% included
            self._milestone[name] = step
            print(progress_text(event), file=self._e, flush=True)

    def _end_bar(self) -> None:
        if self._open is not None:
            self._e.write("\n")
            self._e.flush()
            self._open = None

    def message(self, text: str, *, level: str = "info") -> None:
        self._end_bar()
        stream = self._e if level in ("warning", "error") else self._o
        print(text, file=stream, flush=True)

    def report(self, report: Report) -> None:
        self._print(report.text())

    def done(self, text: str, *, ok: bool = True) -> None:
        self._print(text if ok else f"{text}")


class NotebookRenderer:
    """Jupyter: HTML blocks, and one in-place progress display per downloaded file."""

    def __init__(self, display: Callable[..., Any] | None = None) -> None:
        if display is None:
            from IPython.display import display as ipy_display

            display = ipy_display
        self._display = display
        self._handles: dict[str, Any] = {}
        self._last: dict[str, float] = {}

    def _show(self, html_text: str, text: str, **kw: Any) -> Any:
        return self._display({"text/html": html_text, "text/plain": text}, raw=True, **kw)

    def plan(
        self,
        plan: Any,
        *,
        detected: str | None = None,
        explain: bool = False,
        dry_run: bool = False,
    ) -> None:
        title = "wheelmagic: " + _summary(plan) + (" (dry run)" if dry_run else "")
        rows = plan_rows(plan, detected)
        body = _table_html(rows, title)
        if explain:
            lines = _explain_lines(plan)
            body += (
                '<details open><summary>why</summary><pre style="font-size: 11px">'
                + html.escape("\n".join(lines))
                + "</pre></details>"
            )
            text = _table_text(rows, title) + "\n" + "\n".join(lines)
        else:
            text = _table_text(rows, title)
        self._show(body, text)

    def progress(self, event: Any) -> None:
        name = str(_get(event, "filename", "") or "")
        total = _get(event, "total_bytes")
        done = int(_get(event, "done_bytes", 0) or 0)
        finished = bool(total) and done >= int(total)
        now = time.monotonic()
        handle = self._handles.get(name)
        if handle is None:
            self._handles[name] = self._show(
                progress_html(event), progress_text(event), display_id=True
            )
            self._last[name] = now
            return
        if not finished and now - self._last.get(name, 0.0) < MIN_INTERVAL:
            return
        self._last[name] = now
        handle.update(
            {"text/html": progress_html(event), "text/plain": progress_text(event)}, raw=True
        )

    def message(self, text: str, *, level: str = "info") -> None:
        colour = {"warning": "#ef6c00", "error": "#c62828"}.get(level, "inherit")
        self._show(f'<div style="color: {colour}"><code>{html.escape(text)}</code></div>', text)

    def report(self, report: Report) -> None:
        self._show(report._repr_html_(), report.text())

    def done(self, text: str, *, ok: bool = True) -> None:
        colour = "#2e7d32" if ok else "#c62828"
        mark = "✔" if ok else "✘"
        self._show(
            f'<div class="wheelmagic-status" style="color: {colour}; font-weight: bold">'
            f"{mark} {html.escape(text)}</div>",
            text,
        )


def _summary(plan: Any) -> str:
    fn = getattr(plan, "summary", None)
    return str(fn()) if callable(fn) else "plan"


def _explain_lines(plan: Any) -> list[str]:
    lines: Iterable[Any] = list(getattr(plan, "reasons", []) or []) + list(
        getattr(plan, "explanation", []) or []
    )
    return [str(x) for x in lines]


def in_notebook(ip: Any = None) -> bool:
    """A kernel with a display frontend (Jupyter, Colab, VS Code), not a terminal."""
    if ip is None:
        mod = sys.modules.get("IPython")
        ip = mod.get_ipython() if mod is not None else None
    return ip is not None and "ipykernel" in sys.modules and getattr(ip, "kernel", None) is not None


def renderer_for(ip: Any = None) -> Renderer:
    return NotebookRenderer() if in_notebook(ip) else TextRenderer()
