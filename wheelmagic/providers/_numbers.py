"""Version text as numbers, for the comparisons providers make (driver branches, macOS, arm)."""

from __future__ import annotations

import re


def numbers(text: str) -> tuple[int, ...]:
    """`"580.65.06"` -> (580, 65, 6); `"9.2a"` -> (9, 2).

    Not `packaging.version.Version`: driver versions and `9.2a` are not PEP 440 versions.
    """
    return tuple(int(m) for m in re.findall(r"\d+", text))
