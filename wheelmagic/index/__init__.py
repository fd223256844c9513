"""The index layer: simple-API client, variants.json, legacy PyTorch indexes, `index build`.

`resolve_indexes` (no httpx) is imported eagerly; `IndexClient`/`ProjectFiles` load httpx on
first use, so front ends that only resolve settings stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wheelmagic.index.sources import IndexConfig, resolve_indexes

if TYPE_CHECKING:
    from wheelmagic.index.client import IndexClient, ProjectFiles

__all__ = ["IndexClient", "IndexConfig", "ProjectFiles", "resolve_indexes"]


def __getattr__(name: str) -> Any:
    if name in ("IndexClient", "ProjectFiles"):
        from wheelmagic.index import client

        return getattr(client, name)
    raise AttributeError(name)
