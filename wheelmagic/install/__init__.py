"""Downloads (hash, resume, retry), the content-addressed cache, and progress events.

Front ends and `wheelmagic.install.execute` use `planned_downloader(...)` (a `PlannedFile -> Path`
function) or a `Fetcher` directly; `WheelCache` backs `wheelmagic cache`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelmagic.install.cache import WheelCache, default_cache_dir, parse_size
from wheelmagic.install.progress import NullProgress, ProgressEvent, TerminalProgress, Throttle

if TYPE_CHECKING:
    from wheelmagic.install.download import Fetcher, FetchResult

__all__ = [
    "Fetcher",
    "FetchResult",
    "NullProgress",
    "ProgressEvent",
    "TerminalProgress",
    "Throttle",
    "WheelCache",
    "default_cache_dir",
    "parse_size",
    "planned_downloader",
]


def __getattr__(name: str) -> Any:
    if name in ("Fetcher", "FetchResult"):
        from wheelmagic.install import download

        return getattr(download, name)
    raise AttributeError(name)


def planned_downloader(
    cache_dir: Path | str | None = None,
    indexes: Any = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    **fetcher_options: Any,
) -> Callable[[Any], Path]:
    """A downloader for `wheelmagic.install.execute`: `PlannedFile -> verified path in the cache`.

    `indexes` (an `IndexConfig`, optional) gives trusted hosts, the CA bundle and the
    credentials of the index URLs (applied to files on the same hosts).
    """
    from wheelmagic.index.http import Credentials, make_client
    from wheelmagic.install.download import Fetcher

    urls = [*getattr(indexes, "index_urls", ()), *getattr(indexes, "find_links", ())]
    fetcher = Fetcher(
        WheelCache(cache_dir),
        client=make_client(getattr(indexes, "cert", None), timeout=60.0),
        trusted_hosts=getattr(indexes, "trusted_hosts", ()),
        credentials=Credentials(urls),
        progress=progress,
        **fetcher_options,
    )

    def download(planned: Any) -> Path:
        return fetcher.fetch(
            planned.url,
            filename=planned.filename,
            sha256=planned.sha256,
            size=planned.size,
            package=f"{planned.name} {planned.version}",
            index_url=planned.index_url,
        ).path

    return download
