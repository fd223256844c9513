"""RECORD (PEP 376) as values: pypa/installer's `RecordEntry` and `Hash`, read and written here.

installer gives the row type, its validation (`RecordEntry.from_elements`) and the reader
(`parse_record_file`); what it lacks, and this module adds, is a writer (installer's own
destination writes rows with `csv` inline), a reader that keeps going past a malformed row
(a backup must save what it can of a damaged installation) and the top-level import names a
RECORD implies. Everything else in wheelmagic reads and writes RECORD through these.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Iterable

from installer.records import Hash, InvalidRecordEntry, RecordEntry, parse_record_file

__all__ = [
    "InvalidRecordEntry",
    "RecordEntry",
    "entry_for",
    "escaping_path",
    "read_record",
    "record_hash",
    "record_paths",
    "top_level_names",
    "write_record",
]


def entry_for(path: str, data: bytes) -> RecordEntry:
    """The row for a file `path` with contents `data`: sha256 and size."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return RecordEntry(path, Hash("sha256", digest), len(data))


def escaping_path(path: str) -> bool:
    """A RECORD or member path that leaves its directory: absolute, a drive, or a `..` part.

    Wheels list paths relative to site-packages and never need `..`; an installed RECORD's
    `../../bin/x` rows are pip's own and are read with `record_paths`, not checked here.
    """
    text = path.replace("\\", "/")
    return text.startswith("/") or (len(text) > 1 and text[1] == ":") or ".." in text.split("/")


def record_hash(data: bytes) -> str:
    """The RECORD form of a sha256: `sha256=<urlsafe base64, no padding>`."""
    return str(entry_for("", data).hash_)


def read_record(text: str) -> list[RecordEntry]:
    """Every row, validated; raises `InvalidRecordEntry` at the first malformed one."""
    rows = parse_record_file(line for line in text.splitlines() if line.strip())
    return [RecordEntry.from_elements(*row) for row in rows]


def record_paths(text: str) -> list[str]:
    """The paths a RECORD lists, skipping rows that are malformed instead of failing."""
    try:
        return [path for path, _, _ in parse_record_file(_lines(text))]
    except InvalidRecordEntry:
        pass
    out: list[str] = []
    for line in _lines(text):
        try:
            out.extend(path for path, _, _ in parse_record_file([line]))
        except InvalidRecordEntry:
            continue
    return out


def write_record(entries: Iterable[RecordEntry]) -> bytes:
    """RECORD text as installers write it: CSV, `\\n` line ends, UTF-8."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=",", quotechar='"', lineterminator="\n")
    writer.writerows(entry.to_row() for entry in entries)
    return buf.getvalue().encode("utf-8")


def top_level_names(paths: Iterable[str]) -> tuple[str, ...]:
    """The top-level import names that RECORD paths (relative to site-packages) provide.

    A top-level `x.py` or extension module `x.*.so`/`x.pyd` gives `x`, a directory whose name
    is an identifier gives itself; metadata (`.dist-info`, `.data`, `.egg-info`), `.pth` files,
    `__pycache__` and paths outside site-packages (`../../bin/...`) give nothing.
    """
    names: dict[str, None] = {}
    for raw in paths:
        parts = [p for p in raw.replace("\\", "/").split("/") if p]
        if not parts or raw.startswith("/") or parts[0] in ("..", "__pycache__"):
            continue
        head = parts[0]
        if head.endswith((".dist-info", ".data", ".egg-info")):
            continue
        if len(parts) == 1:
            if head.endswith(".py"):
                names[head[:-3]] = None
            elif head.endswith((".so", ".pyd")):
                names[head.split(".", 1)[0]] = None
        elif head.isidentifier():
            names[head] = None
    return tuple(names)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]
