"""The errors a user can see. Each one says what failed, where, and what to do next."""

from __future__ import annotations


class WheelmagicError(Exception):
    """Base class: `str(err)` is the full user-facing message, `hint` the next step."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message}\n  -> {hint}")


class InvalidWheelName(WheelmagicError):
    """A wheel filename that is not valid (PEP 427 + PEP 825 label)."""


class VariantMetadataError(WheelmagicError):
    """A variant.json / *-variants.json that cannot be read or is inconsistent."""


class PlatformError(WheelmagicError):
    """A platform snapshot that cannot be read."""


class IndexError_(WheelmagicError):
    """An index that cannot be reached, parsed or trusted."""


class DownloadError(WheelmagicError):
    """A file that could not be downloaded or failed verification."""


class SelectionError(WheelmagicError):
    """No candidate fits: the message lists why each was rejected."""

    #: the search that failed, in words, for `--explain` (set by `install.resolve`)
    explanation: tuple[str, ...] = ()


class InstallError(WheelmagicError):
    """The installer failed; the previous environment was left as it was."""
