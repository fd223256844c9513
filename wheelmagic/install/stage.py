"""Stage a verified wheel so that stock pip and uv install it.

Stock installers reject two things in a real PyTorch variant wheel: the variant label in the
filename, and the variant markers in `Requires-Dist` (`...; variant_label == 'cuda13.0'`),
which `packaging` cannot parse (pip fails with `InvalidRequirement` on install and again on
every later `pip check`). Staging gives the installer the same wheel under its non-variant
name, with the variant markers decided for the chosen variant and `METADATA` and `RECORD`
rewritten to match. `variant.json` stays in the dist-info, so `doctor` can read it later.

Big wheels (the torch CUDA wheel is 554 MB) are rewritten without recompressing: every member
except the edited ones is copied as raw compressed bytes (runs of untouched members in one
`copy_file_range`), so staging costs about one file copy; when METADATA does not change at all
the file is just copied under the new name. A staged file is reused on later runs.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import os
import shutil
import stat
import struct
import uuid
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wheelmagic.errors import VariantMetadataError, WheelmagicError
from wheelmagic.install.cache import remember, verified_sha256
from wheelmagic.install.record import (
    InvalidRecordEntry,
    RecordEntry,
    entry_for,
    escaping_path,
    read_record,
    write_record,
)
from wheelmagic.variants.filename import parse_wheel_name
from wheelmagic.variants.markers import VariantEnvironment, rewrite_requires_dist
from wheelmagic.variants.metadata import parse_variants_json
from wheelmagic.variants.properties import Properties, flatten

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_DATA_DESCRIPTOR_FLAG = 0x08
_ZIP64_EXTRA_ID = 0x0001


class StagingError(WheelmagicError):
    """A wheel that cannot be read or rewritten for the installer."""


# ---------------------------------------------------------------------------------------------
# METADATA and RECORD text (RECORD rows: `wheelmagic.install.record`)


def split_metadata(text: str) -> tuple[list[str], str]:
    """Header lines (continuations folded into their header, line endings kept) and the body."""
    lines = text.splitlines(keepends=True)
    headers: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line in ("\n", "\r\n", "\r"):
            break
        if line[:1] in (" ", "\t") and headers:
            headers[-1] += line
        else:
            headers.append(line)
        i += 1
    return headers, "".join(lines[i:])


def _header_value(header: str) -> tuple[str, str]:
    key, _, value = header.partition(":")
    return key.strip().lower(), value.strip()


def requires_dist(metadata: str) -> list[str]:
    """The `Requires-Dist` values of a METADATA text, in order."""
    headers, _ = split_metadata(metadata)
    return [v for k, v in map(_header_value, headers) if k == "requires-dist"]


def edit_metadata(
    metadata: str,
    *,
    requires: Sequence[str] | None = None,
    version: str | None = None,
) -> str:
    """METADATA with its `Requires-Dist` block and/or `Version` replaced; all else kept byte for byte.

    The new `Requires-Dist` lines go where the first old one was, so an unchanged list gives
    back the identical text (and staging can skip the rewrite).
    """
    headers, body = split_metadata(metadata)
    newline = "\r\n" if headers and headers[0].endswith("\r\n") else "\n"
    out: list[str] = []
    placed = requires is None
    for header in headers:
        key, _ = _header_value(header)
        if key == "requires-dist" and requires is not None:
            if not placed:
                out.extend(f"Requires-Dist: {r}{newline}" for r in requires)
                placed = True
            continue
        if key == "version" and version is not None:
            out.append(f"Version: {version}{newline}")
            continue
        out.append(header)
    if not placed and requires:
        out.extend(f"Requires-Dist: {r}{newline}" for r in requires)
    return "".join(out) + body


def rewrite_record(
    record: bytes,
    *,
    record_path: str,
    rename: Callable[[str], str] | None = None,
    contents: Mapping[str, bytes] | None = None,
) -> bytes:
    """RECORD with paths renamed and the rows of `contents` (new or changed files) rehashed.

    The rows are read and validated as `installer` `RecordEntry`s: a wheel whose RECORD is
    malformed is refused here (pip and uv would refuse it too), not passed on half-rewritten.
    """
    contents = dict(contents or {})
    try:
        entries = read_record(record.decode("utf-8"))
    except (InvalidRecordEntry, UnicodeDecodeError) as err:
        raise StagingError(
            f"{record_path} is malformed: {err}",
            hint="the wheel is damaged or was built wrongly; report it to the index maintainer",
        ) from None
    out: list[RecordEntry] = []
    seen: set[str] = set()
    for entry in entries:
        path = rename(entry.path) if rename else entry.path
        if path == record_path:
            continue
        if path in contents:
            out.append(entry_for(path, contents[path]))
        else:
            out.append(RecordEntry(path, entry.hash_, entry.size))
        seen.add(path)
    out.extend(
        entry_for(path, data)
        for path, data in contents.items()
        if path not in seen and path != record_path
    )
    out.append(RecordEntry(record_path, None, None))
    return write_record(out)


# ---------------------------------------------------------------------------------------------
# raw-copy zip rewriting


def _strip_zip64(extra: bytes) -> bytes:
    """Drop zip64 extra fields: `ZipInfo.FileHeader` adds a fresh one when it is needed."""
    out = bytearray()
    i = 0
    while i + 4 <= len(extra):
        xid, size = struct.unpack("<HH", extra[i : i + 4])
        if xid != _ZIP64_EXTRA_ID:
            out += extra[i : i + 4 + size]
        i += 4 + size
    return bytes(out)


def _copy_range(src: int, dst: int, offset: int, length: int) -> None:
    """Append `length` bytes of `src` from `offset` to `dst` (in the kernel where possible)."""
    end = offset + length
    use_cfr = hasattr(os, "copy_file_range")
    while offset < end:
        if use_cfr:
            try:
                n = os.copy_file_range(src, dst, min(end - offset, 1 << 30), offset)
            except OSError:
                use_cfr = False
                continue
            if n == 0:
                raise StagingError("the wheel ended early while copying it (truncated file?)")
        else:
            chunk = os.pread(src, min(end - offset, 8 << 20), offset)
            if not chunk:
                raise StagingError("the wheel ended early while copying it (truncated file?)")
            n = os.write(dst, chunk)
        offset += n


@dataclass
class _Pending:
    """A run of untouched members, copied in one go."""

    start: int = 0
    end: int = 0

    @property
    def size(self) -> int:
        return self.end - self.start


def rewrite_wheel(
    src: Path,
    dst: Path,
    *,
    replace: Mapping[str, bytes] | None = None,
    add: Mapping[str, bytes] | None = None,
    rename: Callable[[str], str] | None = None,
) -> None:
    """Write `src` to `dst` with some members replaced/added/renamed and RECORD updated.

    `replace` and `add` are keyed by the *new* member name. Untouched members are copied as raw
    compressed bytes (never recompressed); the result is a valid zip (`python -m zipfile -t`)
    whose RECORD matches its contents (pip's and uv's checks). `dst` appears atomically.
    """
    replace = dict(replace or {})
    add = dict(add or {})
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(src) as zin, open(src, "rb") as raw:
            infos = zin.infolist()
            names = [rename(i.filename) if rename else i.filename for i in infos]
            records = [n for n in names if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
            if len(records) != 1:
                raise StagingError(f"{src.name} has {len(records)} .dist-info/RECORD files, not 1")
            record_path = records[0]
            old_record = read_member(
                zin, infos[names.index(record_path)].filename, MAX_RECORD_BYTES, src.name
            )
            changed = {**replace, **add}
            missing = [n for n in replace if n not in names]
            if missing:
                raise StagingError(f"{src.name} has no member {missing[0]!r} to replace")
            replace[record_path] = rewrite_record(
                old_record, record_path=record_path, rename=rename, contents=changed
            )
            with open(tmp, "wb", buffering=0) as out:
                _write_members(zin, raw, out, infos, names, replace, add, record_path)
        os.replace(tmp, dst)
    except (zipfile.BadZipFile, OSError, struct.error) as err:
        raise StagingError(
            f"cannot rewrite {src.name}: {err}",
            hint=(
                "the file may be damaged or the disk full; remove it from the cache "
                "(`wheelmagic cache clear`) and try again"
            ),
        ) from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_members(
    zin: zipfile.ZipFile,
    raw: io.BufferedReader,
    out: io.FileIO,
    infos: list[zipfile.ZipInfo],
    names: list[str],
    replace: Mapping[str, bytes],
    add: Mapping[str, bytes],
    record_path: str,
) -> None:
    src_fd, dst_fd = raw.fileno(), out.fileno()
    zout = zipfile.ZipFile(out, "w")
    pending = _Pending()

    def flush() -> None:
        if pending.size:
            _copy_range(src_fd, dst_fd, pending.start, pending.size)
        pending.start = pending.end = 0

    def write_new(name: str, data: bytes, like: zipfile.ZipInfo | None) -> None:
        flush()
        zout.start_dir = out.tell()
        info = zipfile.ZipInfo(name, date_time=like.date_time if like else (1980, 1, 1, 0, 0, 0))
        info.external_attr = like.external_attr if like else 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zout.writestr(info, data)

    for info, name in zip(infos, names, strict=True):
        if name == record_path:
            for added, data in add.items():
                write_new(added, data, info)
        if name in replace:
            write_new(name, replace[name], info)
            continue
        raw.seek(info.header_offset)
        header = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
        if header[0] != _LOCAL_SIG:
            raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
        data_start = info.header_offset + _LOCAL_HEADER.size + header[9] + header[10]
        new = copy.copy(info)
        new.filename = new.orig_filename = name
        if name == info.filename and not info.flag_bits & _DATA_DESCRIPTOR_FLAG:
            # verbatim: local header and data unchanged, only the offset moves
            if pending.size and pending.end != info.header_offset:
                flush()
            if not pending.size:
                pending.start = pending.end = info.header_offset
            new.header_offset = out.tell() + pending.size
            pending.end = data_start + info.compress_size
        else:
            flush()
            new.flag_bits &= ~_DATA_DESCRIPTOR_FLAG
            new.extra = _strip_zip64(info.extra)
            new.header_offset = out.tell()
            out.write(new.FileHeader())
            _copy_range(src_fd, dst_fd, data_start, info.compress_size)
        zout.filelist.append(new)
        zout.NameToInfo[name] = new
    flush()
    zout.start_dir = out.tell()
    zout._didModify = True  # type: ignore[attr-defined]
    zout.close()


# ---------------------------------------------------------------------------------------------
# staging


@dataclass(frozen=True)
class StagedWheel:
    """A wheel ready for a stock installer."""

    #: the verified download (variant filename)
    source: Path
    #: the file to hand to pip/uv: non-variant filename
    path: Path
    #: METADATA was rewritten (variant markers decided)
    rewritten: bool
    #: Requires-Dist as the installer sees it
    requires: list[str] = field(default_factory=list)
    #: Requires-Dist lines dropped because their variant condition is false
    dropped: list[str] = field(default_factory=list)
    #: the wheel's member names (the backup watches where they go; saves re-reading the zip)
    members: tuple[str, ...] = field(default=(), repr=False)


def metadata_member(zf: zipfile.ZipFile) -> str:
    """The `{name}-{version}.dist-info/METADATA` member of a wheel."""
    found = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1]
    if len(found) != 1:
        raise StagingError(f"{Path(str(zf.filename)).name} has {len(found)} METADATA files, not 1")
    return found[0]


#: METADATA larger than this is refused (real ones: torch's is 30 KB); read without inflating more
MAX_METADATA_BYTES = 8 << 20
#: RECORD larger than this is refused (torch CUDA's: about 2 MB for 13,000 files)
MAX_RECORD_BYTES = 64 << 20
#: a wheel's own variant.json (the index's variants.json has the same cap)
MAX_VARIANT_JSON_BYTES = 5 << 20


def read_member(zf: zipfile.ZipFile, member: str, limit: int, source: str) -> bytes:
    """A member's bytes, inflating at most `limit` + 1 of them (a zip bomb costs nothing)."""
    with zf.open(member) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise StagingError(
            f"{source}: {member} is larger than {limit >> 20} MiB; refusing to read it",
            hint="the wheel is malformed or hostile; nothing was installed. Report it to the "
            "index maintainer",
        )
    return data


def check_paths(zf: zipfile.ZipFile, source: str) -> list[str]:
    """Every member and every RECORD row must stay inside the environment.

    pip refuses a member that escapes only when it reaches it (after writing the ones before);
    a RECORD row that escapes it copies into the installed RECORD, where an uninstall or a
    rollback would delete it. Both are refused here, before anything is installed. Returns
    the member names (the backup watches where they will go).
    """
    names = zf.namelist()
    bad = [n for n in names if escaping_path(n)]
    records = [n for n in names if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
    if not bad and len(records) == 1:
        try:
            text = read_member(zf, records[0], MAX_RECORD_BYTES, source).decode("utf-8")
            # the first column of every row, malformed or not (cheaper than validating each
            # row: torch lists 13,000; `rewrite_record` validates when it rewrites)
            rows = [row[0] for row in csv.reader(text.splitlines()) if row]
        except (csv.Error, UnicodeDecodeError) as err:
            raise StagingError(
                f"{source}: {records[0]} is malformed: {err}",
                hint="the wheel is damaged or was built wrongly; report it to the index maintainer",
            ) from None
        bad = [r for r in rows if escaping_path(r)]
    if bad:
        raise StagingError(
            f"{source}: refusing a wheel whose files or RECORD point outside the environment "
            f"({bad[0]!r}{f' and {len(bad) - 1} more' if len(bad) > 1 else ''})",
            hint="the wheel is hostile or broken; nothing was installed. Report it to the "
            "index maintainer",
        )
    return names


def staged_metadata(source: Path, env: VariantEnvironment) -> tuple[str, str, str]:
    """(member name, current METADATA, METADATA the installer should see).

    Also refuses a wheel whose members or RECORD escape the environment (`check_paths`) and
    one whose METADATA or RECORD is larger than the caps above.
    """
    member, text, new, _names = _read_for_staging(source, env)
    return member, text, new


def _read_for_staging(source: Path, env: VariantEnvironment) -> tuple[str, str, str, list[str]]:
    """`staged_metadata`, and the member names.

    Also refuses a wheel whose members or RECORD escape the environment (`check_paths`) and
    one whose METADATA or RECORD is larger than the caps above.
    """
    try:
        with zipfile.ZipFile(source) as zf:
            names = check_paths(zf, source.name)
            member = metadata_member(zf)
            text = read_member(zf, member, MAX_METADATA_BYTES, source.name).decode("utf-8")
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as err:
        raise StagingError(
            f"cannot read the metadata of {source.name}: {err}",
            hint=("the cached file may be damaged: `wheelmagic cache clear` and try again"),
        ) from err
    old = requires_dist(text)
    try:
        new = rewrite_requires_dist(old, env)
    except ValueError as err:
        raise StagingError(
            f"{source.name} declares a requirement wheelmagic cannot evaluate: {err}",
            hint="report it to the package's maintainers",
        ) from err
    return member, text, text if new == old else edit_metadata(text, requires=new), names


def wheel_variant(source: Path) -> tuple[str, Properties] | None:
    """(label, properties) from the wheel's own `dist-info/variant.json`, None if it has none."""
    try:
        with zipfile.ZipFile(source) as zf:
            names = [
                n
                for n in zf.namelist()
                if n.endswith(".dist-info/variant.json") and n.count("/") == 1
            ]
            if not names:
                return None
            raw = read_member(zf, names[0], MAX_VARIANT_JSON_BYTES, source.name)
            data = json.loads(raw.decode("utf-8"))
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError) as err:
        raise StagingError(f"cannot read the variant.json of {source.name}: {err}") from err
    try:
        meta = parse_variants_json(data, f"{source.name}/variant.json")
    except VariantMetadataError as err:
        raise StagingError(err.message) from err
    if len(meta.variants) != 1:
        raise StagingError(
            f"{source.name}: its variant.json lists {len(meta.variants)} "
            "variants; a wheel's own must list exactly one"
        )
    return next(iter(meta.variants.items()))


def check_variant(source: Path, label: str, properties: Properties) -> None:
    """The wheel must be the build the index described: same label, same properties.

    Selection trusted the index's `*-variants.json`; a wheel whose own `variant.json` says
    otherwise (a lying or inconsistent index) is refused before anything is installed.
    """
    own = wheel_variant(source)
    if own is None:
        raise StagingError(
            f"{source.name} is named as variant {label!r} but has no dist-info/variant.json",
            hint="the index serves a malformed variant wheel; report it to its maintainer",
        )
    own_label, own_props = own
    if own_label != label or _props(own_props) != _props(properties):
        raise StagingError(
            f"{source.name}: its own dist-info/variant.json does not match the index's "
            f"variants.json: the index says {label!r} {_show(properties)}, the wheel says "
            f"{own_label!r} {_show(own_props)}",
            hint="the index is inconsistent; nothing was installed. Report it to the index "
            "maintainer, or choose another build with --variant",
        )


def _props(p: Properties) -> dict[str, dict[str, frozenset[str]]]:
    return {ns: {f: frozenset(v) for f, v in fs.items()} for ns, fs in p.items()}


def _show(p: Properties) -> str:
    items = [str(x) for x in flatten(p)]
    return "(" + (", ".join(items) if items else "no properties") + ")"


def stage_wheel(
    source: Path,
    out_dir: Path,
    *,
    env: VariantEnvironment,
    filename: str | None = None,
) -> StagedWheel:
    """Put `source` into `out_dir` under its non-variant name, variant markers decided.

    `filename` is the name the file had on the index (the cache may store it under another);
    a staged file that already exists is reused (its directory should be keyed by content)
    only when its sha256 checks out (`staged_ok`): anything else found there is replaced.
    """
    wheel = parse_wheel_name(filename or source.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / wheel.non_variant_filename()
    member, old_text, new_text, names = _read_for_staging(source, env)
    old_reqs, new_reqs = requires_dist(old_text), requires_dist(new_text)
    dropped = [r for r in old_reqs if r not in new_reqs and _variant_line(r)]
    rewritten = new_text != old_text
    if os.path.lexists(dst) and not staged_ok(source, dst, rewritten=rewritten):
        dst.unlink()  # planted, damaged or half-written: stage it again
    if not dst.exists():
        if rewritten:
            rewrite_wheel(source, dst, replace={member: new_text.encode("utf-8")})
            _write_digest(dst, verified_sha256(dst))
        else:
            _copy(source, dst)
            remember(dst, verified_sha256(source))
    return StagedWheel(source, dst, rewritten, new_reqs, dropped, tuple(names))


def _digest_path(dst: Path) -> Path:
    return dst.with_name(f".{dst.name}.sha256")


def staged_ok(source: Path, dst: Path, *, rewritten: bool) -> bool:
    """May a staged file found on disk be installed? Hashed once per process (`cache`).

    A plain copy must hash like its (verified) source. A rewritten one must hash like the
    digest staging wrote beside it, and that digest file must be this user's own and not
    writable by others (in a shared cache another user could plant both files).
    """
    if dst.is_symlink() or not dst.is_file():
        return False
    if not rewritten:
        return verified_sha256(dst) == verified_sha256(source)
    digest = _digest_path(dst)
    try:
        st = digest.lstat()
        if (
            not stat.S_ISREG(st.st_mode)
            or st.st_uid != os.geteuid()
            or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
            or st.st_size > 128
        ):
            return False
        want = digest.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return verified_sha256(dst) == want


def _write_digest(dst: Path, sha256: str) -> None:
    path = _digest_path(dst)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(sha256 + "\n")
    os.replace(tmp, path)


def _variant_line(req: str) -> bool:
    from wheelmagic.variants.markers import has_variant_markers

    return has_variant_markers(req)


def _copy(source: Path, dst: Path) -> None:
    """A copy (in the kernel: `copy_file_range`/`sendfile`), deliberately not a hard link.

    The download cache refreshes its files' mtime on every hit (LRU); a hard link would share
    that inode, and uv, which keys its unpacked-wheel cache on the file's mtime, would unpack
    the 554 MB wheel again on every install (measured: 10 s instead of 1 s per switch).
    """
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    shutil.copyfile(source, tmp)
    os.replace(tmp, dst)
