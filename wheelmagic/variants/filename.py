"""Wheel filenames with an optional PEP 825 variant label.

`{name}-{version}(-{build})?-{py}-{abi}-{plat}(-{label})?.whl`. `packaging` parses everything
but the label (pypa/packaging#1148), so we peel the label off and hand the rest to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from packaging.tags import Tag, parse_tag
from packaging.utils import (
    BuildTag,
    InvalidWheelFilename,
    NormalizedName,
    parse_wheel_filename,
)
from packaging.version import Version

from wheelmagic.errors import InvalidWheelName
from wheelmagic.variants.properties import LABEL_RE, NULL_LABEL


@dataclass(frozen=True)
class WheelName:
    filename: str
    name: NormalizedName
    version: Version
    build: BuildTag
    tags: frozenset[Tag]
    #: None: not a variant wheel; "null": the null variant.
    label: str | None

    @property
    def is_variant(self) -> bool:
        return self.label is not None

    @property
    def is_null(self) -> bool:
        return self.label == NULL_LABEL

    def non_variant_filename(self) -> str:
        """The name stock installers accept: the same file without its label."""
        if self.label is None:
            return self.filename
        return self.filename[: -len(f"-{self.label}.whl")] + ".whl"


def parse_wheel_name(filename: str) -> WheelName:
    """Parse a wheel filename; the error names the file and what is wrong with it."""
    if "/" in filename or "\\" in filename or filename in ("", ".", "..") or "\x00" in filename:
        raise InvalidWheelName(
            f"invalid wheel filename {filename!r}: it contains a path separator",
            hint="the index is serving a bad link; report it to the index maintainer",
        )
    if not filename.endswith(".whl"):
        raise InvalidWheelName(f"invalid wheel filename {filename!r}: it does not end in .whl")
    parts = filename[:-4].split("-")
    label: str | None = None
    # 5 parts: plain; 6: build tag (starts with a digit) or label; 7: build tag and label.
    # PEP 825 forbids Python tags starting with a digit, which keeps 6 parts unambiguous.
    if len(parts) == 7 or (len(parts) == 6 and not parts[2][:1].isdigit()):
        label = parts[-1]
        if not LABEL_RE.match(label):
            raise InvalidWheelName(
                f"invalid wheel filename {filename!r}: variant label {label!r} must match "
                f"{LABEL_RE.pattern}"
            )
        plain = "-".join(parts[:-1]) + ".whl"
    elif len(parts) in (5, 6):
        plain = filename
    else:
        raise InvalidWheelName(
            f"invalid wheel filename {filename!r}: expected 5 to 7 dash-separated parts, "
            f"found {len(parts)}"
        )
    stem = plain[:-4].split("-")
    try:
        name, version, build = _head("-".join(stem[:-3]))
    except (InvalidWheelFilename, ValueError) as err:
        raise InvalidWheelName(
            f"invalid wheel filename {filename!r}: {str(err).replace(_PLACEHOLDER_TAGS, '')}"
        ) from None
    return WheelName(filename, name, version, build, _tags("-".join(stem[-3:])), label)


_PLACEHOLDER_TAGS = "-py3-none-any.whl"


@lru_cache(maxsize=4096)
def _head(prefix: str) -> tuple[NormalizedName, Version, BuildTag]:
    """Name, version and build tag, validated by `packaging` (a release has many files)."""
    name, version, build, _ = parse_wheel_filename(prefix + _PLACEHOLDER_TAGS)
    return name, version, build


@lru_cache(maxsize=1024)
def _tags(text: str) -> frozenset[Tag]:
    """Expanded compressed tag sets; the same few repeat across an index's files."""
    return parse_tag(text)
