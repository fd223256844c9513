"""The index client: every configured index's files for a project, with their variant metadata.

`IndexClient(config, cache_dir).project("torch")` queries all indexes (pip semantics: the union
of their files), the `--find-links` locations, and for PyTorch-family packages PyTorch's variant
index and per-backend indexes (see `sources`); fetches each release's `*-variants.json`
(hash-checked, size- and depth-capped) and merges them by PEP 825's rules; and turns files from
per-backend indexes into virtual variants (`legacy_torch`). Failures of one index become
`errors`/`notes` so the others still count; only when every index fails is it an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import httpx
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from wheelmagic.errors import IndexError_, InvalidWheelName, VariantMetadataError
from wheelmagic.index import legacy_torch
from wheelmagic.index.constraints import Constraint, apply_constraints, read_constraints
from wheelmagic.index.http import Credentials, Http, PageCache, make_client
from wheelmagic.index.pages import (
    ACCEPT,
    IndexFile,
    PageError,
    json_depth_ok,
    parse_project_page,
    variants_json_version,
)
from wheelmagic.index.sources import IndexConfig
from wheelmagic.index.urls import ensure_slash, redact
from wheelmagic.providers import PROVIDER_NAMESPACES
from wheelmagic.pytorch import facts as torch_builds
from wheelmagic.variants.filename import parse_wheel_name
from wheelmagic.variants.metadata import VariantsMetadata, merge_metadata, parse_variants_json
from wheelmagic.variants.ordering import SupportedProperties, without_static_claims
from wheelmagic.variants.selection import Candidate

MAX_PAGE_BYTES = 64 * 1024 * 1024
MAX_VARIANTS_JSON_BYTES = 5 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_METADATA_BYTES = 4 * 1024 * 1024


@dataclass
class ProjectFiles:
    """What the indexes offer for one project."""

    name: NormalizedName
    candidates: list[Candidate] = field(default_factory=list)
    #: release -> merged variant metadata (real `*-variants.json`, plus virtual labels)
    variants: dict[Version, VariantsMetadata] = field(default_factory=dict)
    #: everything worth telling the user, failures included
    notes: list[str] = field(default_factory=list)
    #: the failures only (an index unreachable, a malformed variants.json, ...)
    errors: list[str] = field(default_factory=list)
    #: versions on the indexes that a constraint file excludes (not among `candidates`)
    excluded: dict[Version, Constraint] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    url: str  # page URL (or find-links location)
    index_url: str  # what candidates report as their index
    backend: str | None  # PyTorch per-backend index name
    flat: bool = False  # find-links: a flat listing of files for many projects


class IndexClient:
    """Simple-API client. Thread-safe; reuse one per session. Close it (or use `with`)."""

    def __init__(
        self,
        config: IndexConfig,
        cache_dir: Path | str | None = None,
        progress: Callable[[Any], None] | None = None,
        *,
        supported: SupportedProperties | None = None,
        client: httpx.Client | None = None,
        max_workers: int = 8,
        provided: frozenset[str] = PROVIDER_NAMESPACES,
    ) -> None:
        self.config = config
        self.progress = progress
        self.supported = supported
        #: namespaces only our providers answer: an index's static claim on one is dropped
        self.provided = provided
        self._own_client = client is None
        self.client = client or make_client(config.cert)
        cache = PageCache(Path(cache_dir) / "http") if cache_dir is not None else PageCache(None)
        self.http = Http(
            self.client,
            trusted_hosts=config.trusted_hosts,
            credentials=Credentials([*config.index_urls, *config.find_links]),
            cache=cache,
        )
        self.max_workers = max_workers
        #: pip's/uv's constraint files: a version they exclude is not a candidate
        self.constraints, self._constraint_notes = read_constraints(config.constraints)
        #: PEP 658 metadata URL -> Requires-Dist, read once per session
        self._requires: dict[str, tuple[str, ...]] = {}
        #: PEP 658 metadata URL -> the sha256 its page gives (checked on every read)
        self._metadata_sha256: dict[str, str] = {}

    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    # -- which pages ------------------------------------------------------------------------

    def torch_backends(self) -> list[str]:
        backend = self.config.torch_backend
        if backend == "none":
            return []
        if backend == "auto":
            return legacy_torch.backends_for(self.supported)
        return [backend]

    def sources(self, name: str) -> list[_Source]:
        project = canonicalize_name(name)
        out = [
            _Source(ensure_slash(url) + project + "/", url, legacy_torch.backend_of_index(url))
            for url in self.config.index_urls
        ]
        out += [_Source(loc, loc, None, flat=True) for loc in self.config.find_links]
        if self.config.pytorch_defaults and project in torch_builds.PYTORCH_PACKAGES:
            vi = self.config.pytorch_variant_index
            out.append(_Source(ensure_slash(vi) + project + "/", vi, None))
            for backend in self.torch_backends():
                url = self.config.backend_index(backend)
                out.append(_Source(url + project + "/", url, backend))
        seen: set[str] = set()
        return [s for s in out if not (s.url in seen or seen.add(s.url))]  # type: ignore[func-returns-value]

    # -- the query --------------------------------------------------------------------------

    def project(self, name: str) -> ProjectFiles:
        project = canonicalize_name(name)
        result = ProjectFiles(project)
        sources = self.sources(project)
        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(sources) or 1)) as pool:
            pages = list(pool.map(lambda s: self._page(s, project), sources))
        variant_links: list[tuple[Version, IndexFile, _Source]] = []
        ok = 0
        sdists = 0
        for source, (files, notes, error) in zip(sources, pages, strict=True):
            result.notes.extend(notes)
            if error:
                result.errors.append(error)
                result.notes.append(error)
                continue
            ok += 1
            for f in files:
                v = variants_json_version(f.filename, project)
                if v is not None:
                    variant_links.append((v, f, source))
                elif f.filename.endswith(".whl"):
                    if source.flat and not _belongs(f.filename, project):
                        continue
                    result.candidates.append(self._candidate(f, source))
                elif not f.filename.endswith(".metadata"):
                    sdists += 1
        if sources and not ok:
            raise IndexError_(
                f"no index could be read for {project}: " + "; ".join(result.errors),
                hint="check the index URLs (--index-url/--extra-index-url), the network and "
                "credentials, then retry",
            )
        if sdists:
            result.notes.append(
                f"{project}: {sdists} non-wheel files ignored (wheelmagic installs wheels only)"
            )
        result.candidates, excluded, result.excluded = apply_constraints(
            project, result.candidates, lambda c: c.wheel.version, self.constraints
        )
        result.notes.extend([*self._constraint_notes, *excluded])
        self._load_variants(result, variant_links)
        self._virtual_variants(result)
        return result

    def _page(self, source: _Source, project: str) -> tuple[list[IndexFile], list[str], str | None]:
        where = redact(source.index_url)
        try:
            fetched = self.http.get(source.url, accept=ACCEPT, max_bytes=MAX_PAGE_BYTES)
        except IndexError_ as err:
            hint = f" ({err.hint})" if err.hint else ""
            return [], [], f"{project}: index {where}: {err.message}{hint}"
        if fetched.status == 404:
            return [], [f"{project}: not on index {where}"], None
        if fetched.status in (401, 403):
            return (
                [],
                [],
                (
                    f"{project}: index {where} refused access (HTTP {fetched.status}); "
                    "put credentials in the index URL or ~/.netrc"
                ),
            )
        if fetched.status != 200:
            return [], [], f"{project}: index {where} answered HTTP {fetched.status}"
        try:
            page = parse_project_page(fetched.body, fetched.content_type, fetched.url)
        except PageError as err:
            return [], [], f"{project}: index {where} sent an unreadable page: {err}"
        return page.files, [f"{project}: {n} (index {where})" for n in page.notes], None

    def _candidate(self, f: IndexFile, source: _Source) -> Candidate:
        if f.metadata_url and f.metadata_sha256:
            self._metadata_sha256[f.metadata_url] = f.metadata_sha256
        return Candidate(
            filename=f.filename,
            url=f.url,
            index_url=source.index_url,
            sha256=f.sha256,
            requires_python=f.requires_python,
            yanked=f.yanked,
            size=f.size,
            metadata_url=f.metadata_url,
        )

    # -- dependencies (PEP 658 metadata) ---------------------------------------------------

    def requires_dist(self, cand: Candidate) -> tuple[str, ...] | None:
        """A candidate's `Requires-Dist`, from the index's PEP 658 metadata; None if not offered.

        Used by the resolver (`wheelmagic.install.resolve`) to follow variant-enabled
        dependencies. Raises IndexError_ naming the file when the metadata cannot be read.
        """
        if cand.requires_dist is not None:
            return cand.requires_dist
        if cand.metadata_url is None:
            return None
        known = self._requires.get(cand.metadata_url)
        if known is not None:
            return known
        fetched = self.http.get(
            cand.metadata_url, accept="*/*", max_bytes=MAX_METADATA_BYTES, what="metadata"
        )
        if fetched.status != 200:
            raise IndexError_(
                f"the metadata of {cand.filename} ({redact(cand.metadata_url)}) answered "
                f"HTTP {fetched.status}",
                hint="the index links PEP 658 metadata it does not serve; report it to the index",
            )
        want = self._metadata_sha256.get(cand.metadata_url)
        if want and hashlib.sha256(fetched.body).hexdigest() != want:
            raise IndexError_(
                f"the metadata of {cand.filename} ({redact(cand.metadata_url)}) does not match "
                f"the sha256 the index gives ({want})",
                hint="the index or a proxy serves a different file; report it to the index",
            )
        headers = HeaderParser().parsestr(
            fetched.body.decode("utf-8", errors="replace"), headersonly=True
        )
        lines = tuple(str(v).strip() for v in headers.get_all("Requires-Dist") or ())
        self._requires[cand.metadata_url] = lines
        return lines

    # -- variants.json ----------------------------------------------------------------------

    def fetch_variants_json(self, f: IndexFile) -> VariantsMetadata:
        """Download, check (hash, size, depth) and parse one `*-variants.json`."""
        fetched = self.http.get(
            f.url,
            accept="application/json",
            max_bytes=MAX_VARIANTS_JSON_BYTES,
            what="variants.json",
        )
        if fetched.status != 200:
            raise IndexError_(
                f"{redact(f.url)} answered HTTP {fetched.status}",
                hint="the index links a variants.json it does not serve",
            )
        if f.sha256 and hashlib.sha256(fetched.body).hexdigest() != f.sha256:
            raise VariantMetadataError(
                f"{redact(f.url)} does not match the sha256 the index gives ({f.sha256})",
                hint="the index or a proxy serves a different file; report it to the index",
            )
        try:
            data = json.loads(fetched.body)
        except (ValueError, RecursionError) as err:
            raise VariantMetadataError(
                f"{redact(f.url)} is not valid JSON: {err}",
                hint="report the broken file to the index",
            ) from None
        if not json_depth_ok(data, MAX_JSON_DEPTH):
            raise VariantMetadataError(
                f"{redact(f.url)} nests deeper than {MAX_JSON_DEPTH}",
                hint="report the broken file to the index",
            )
        return parse_variants_json(data, redact(f.url))

    def _load_variants(
        self, result: ProjectFiles, links: list[tuple[Version, IndexFile, _Source]]
    ) -> None:
        if not links:
            return

        def load(item: tuple[Version, IndexFile, _Source]) -> VariantsMetadata | str:
            _v, f, _s = item
            try:
                return self.fetch_variants_json(f)
            except (IndexError_, VariantMetadataError) as err:
                return f"{result.name}: {err.message} ({err.hint or 'ignored'})"

        with ThreadPoolExecutor(max_workers=min(self.max_workers, len(links))) as pool:
            loaded = list(pool.map(load, links))
        by_version: dict[Version, list[VariantsMetadata]] = {}
        for (version, _f, _s), meta in zip(links, loaded, strict=True):
            if isinstance(meta, str):
                result.errors.append(meta)
                result.notes.append(meta)
            else:
                meta, claims = without_static_claims(meta, self.provided)
                for line in claims:
                    result.errors.append(f"{result.name}: {line}")
                    result.notes.append(f"{result.name}: {line}")
                by_version.setdefault(version, []).append(meta)
        for version, metas in by_version.items():
            try:
                result.variants[version] = (
                    merge_metadata(metas, f"{result.name}-{version}-variants.json")
                    if len(metas) > 1
                    else metas[0]
                )
            except VariantMetadataError as err:
                msg = (
                    f"{result.name} {version}: the indexes' variants.json files disagree "
                    f"({err.message}); using {metas[0].source} only"
                )
                result.errors.append(msg)
                result.notes.append(msg)
                result.variants[version] = metas[0]
        for meta in result.variants.values():
            result.notes.extend(f"{result.name}: {n}" for n in meta.notes)
        sources = {v: m.source for v, m in result.variants.items()}
        for i, c in enumerate(result.candidates):
            v = _version(c)
            if v is not None and v in sources:
                result.candidates[i] = replace(c, variants_source=sources[v])

    def _virtual_variants(self, result: ProjectFiles) -> None:
        """Give files from per-backend PyTorch indexes (or `+cu128` names), and PyPI's plain
        torch/torchvision/torchaudio files (known builds), a virtual label."""
        index_backends = {s.index_url: s.backend for s in self.sources(result.name)}
        groups: dict[Version, dict[str, list[str]]] = {}
        picked: list[tuple[int, Version, str, str]] = []
        for i, cand in enumerate(result.candidates):
            try:
                wheel = parse_wheel_name(cand.filename)
            except InvalidWheelName:
                continue
            if wheel.is_variant:
                continue
            backend = legacy_torch.backend_of_filename(cand.filename) or index_backends.get(
                cand.index_url
            )
            known = f"PyTorch's per-backend index {backend}"
            if backend is None:
                plain = legacy_torch.plain_build(result.name, cand.filename)
                if plain is None:
                    continue
                backend, known = plain
            inferred = legacy_torch.inferred_note(
                result.name, wheel.version, backend, cand.filename
            )
            known += f"; {inferred}" if inferred else ""
            groups.setdefault(wheel.version, {}).setdefault(backend, []).append(cand.filename)
            picked.append((i, wheel.version, backend, known))
        labels_by_version: dict[Version, dict[str, str]] = {}
        for version, backends in groups.items():
            meta, labels = legacy_torch.synthesize(
                result.name, version, backends, result.variants.get(version)
            )
            result.variants[version] = meta
            labels_by_version[version] = labels
        for i, version, backend, known in picked:
            label = labels_by_version[version].get(backend)
            if label is not None:
                result.candidates[i] = replace(
                    result.candidates[i],
                    virtual_label=label,
                    variants_source=result.variants[version].source,
                    known_build=known,
                )


def _version(c: Candidate) -> Version | None:
    try:
        return parse_wheel_name(c.filename).version
    except InvalidWheelName:
        return None


def _belongs(filename: str, project: str) -> bool:
    try:
        return parse_wheel_name(filename).name == project
    except InvalidWheelName:
        return False
