"""A download's progress event as a line: a text bar for terminals and logs, HTML for notebooks.

Both show the same numbers (`45%  120.0 MiB/265.3 MiB  30.2 MiB/s  eta 00:05`), with the byte
format of `wheelmagic.ui.format`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from wheelmagic.ui.format import human_bytes, human_eta

if TYPE_CHECKING:
    from wheelmagic.install.progress import ProgressEvent


def is_finished(event: ProgressEvent) -> bool:
    """The file is complete: the last event, or every byte of a known size arrived."""
    total = event.total_bytes
    return event.finished or (bool(total) and event.done_bytes >= (total or 0))


def progress_numbers(event: ProgressEvent, pad: bool = False) -> str:
    """`45%  120.0 MiB/265.3 MiB  30.2 MiB/s  eta 00:05` (the text bar without the bar).

    `pad` right-aligns the percentage in three places so a redrawn bar does not jitter.
    """
    total, done = event.total_bytes, event.done_bytes
    parts = []
    if total:
        percent = min(max(done / total, 0.0), 1.0) * 100
        parts.append(f"{percent:3.0f}%" if pad else f"{percent:.0f}%")
        parts.append(f"{human_bytes(done)}/{human_bytes(total)}")
    else:
        parts.append(human_bytes(done))
    if event.rate_bytes_per_s:
        parts.append(f"{human_bytes(event.rate_bytes_per_s)}/s")
    if total and done < total:
        parts.append(f"eta {human_eta(event.eta_s)}")
    return "  ".join(parts)


def progress_text(event: ProgressEvent, width: int = 30) -> str:
    """`torch-...whl  [=====>    ]  45%  120.0 MiB/265.3 MiB  30.2 MiB/s  eta 00:05`."""
    total, done = event.total_bytes, event.done_bytes
    if not total:
        return f"{event.filename}  {progress_numbers(event)}"
    filled = int(min(max(done / total, 0.0), 1.0) * width)
    bar = "=" * filled + (">" if filled < width else "") + " " * max(width - filled - 1, 0)
    return f"{event.filename}  [{bar}] {progress_numbers(event, pad=True)}"


def progress_html(event: ProgressEvent) -> str:
    """A `<progress>` element with the file name and the same numbers as the text bar."""
    total = event.total_bytes
    value = f'value="{event.done_bytes}" max="{int(total)}"' if total else ""
    return (
        '<div class="wheelmagic-progress" style="font-family: var(--jp-code-font-family, '
        'monospace); font-size: 12px; white-space: nowrap">'
        f'<progress {value} style="width: 20em; vertical-align: middle"></progress> '
        f"<code>{html.escape(event.filename)}</code> "
        f"<span>{html.escape(progress_numbers(event))}</span></div>"
    )
