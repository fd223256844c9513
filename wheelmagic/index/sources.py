"""Which indexes to use: one resolution that the CLI, the magics and the import hook share.

Order, like pip (the first place that sets an option wins; options are not added across places):

1. command options (`--index-url`, `--extra-index-url`, `--trusted-host`, `--find-links`);
2. `WHEELMAGIC_INDEX_URL` / `WHEELMAGIC_EXTRA_INDEX_URL` (whitespace-separated);
3. pip's configuration: `PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`, `PIP_TRUSTED_HOST`,
   `PIP_FIND_LINKS`, `PIP_CERT`, then the pip config files read with configparser (global,
   user, the target interpreter's site `pip.conf`, `PIP_CONFIG_FILE`; `[install]` over
   `[global]`), which is what `pip config list` would report without running the target;
4. the public default, https://pypi.org/simple/.

PyTorch-family packages (`torch_builds.PYTORCH_PACKAGES`) are, unless an index was given
explicitly (1 or 2) or `torch_backend="none"`, also looked up in PyTorch's variant index and
its per-backend indexes (`WHEELMAGIC_PYTORCH_VARIANT_INDEX`, `WHEELMAGIC_PYTORCH_INDEX_BASE`).
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wheelmagic.index.constraints import ConstraintFile, constraint_files
from wheelmagic.index.urls import check_transport
from wheelmagic.pytorch import facts as torch_builds

DEFAULT_INDEX = "https://pypi.org/simple/"
ENV_INDEX_URL = "WHEELMAGIC_INDEX_URL"
ENV_EXTRA_INDEX_URL = "WHEELMAGIC_EXTRA_INDEX_URL"
ENV_TORCH_BACKEND = "WHEELMAGIC_TORCH_BACKEND"
TORCH_BACKEND_CHOICES = ("auto", "none", *torch_builds.BACKENDS)


@dataclass(frozen=True)
class IndexConfig:
    """Resolved index settings. `index_urls[0]` is the main index, the rest are extras."""

    index_urls: tuple[str, ...] = (DEFAULT_INDEX,)
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    #: CA bundle (path) for https, when one was configured; else httpx's defaults/SSL_CERT_FILE
    cert: str | None = None
    #: `auto`, `none`, or one backend (`cu128`, `cpu`, `rocm6.4`, `xpu`)
    torch_backend: str = "auto"
    #: look PyTorch packages up in PyTorch's own indexes too (off when an index was explicit)
    pytorch_defaults: bool = True
    pytorch_variant_index: str = torch_builds.DEFAULT_PYTORCH_VARIANT_INDEX
    pytorch_index_base: str = torch_builds.DEFAULT_PYTORCH_INDEX_BASE
    #: where each setting came from, for `--explain` and error messages (no credentials)
    origin: tuple[str, ...] = ()
    #: pip's (and, with uv, uv's) constraint files, applied when planning (index.constraints)
    constraints: tuple[ConstraintFile, ...] = ()

    def backend_index(self, backend: str) -> str:
        return f"{self.pytorch_index_base.rstrip('/')}/{backend}/"


def _split(value: str | None) -> list[str]:
    return value.split() if value else []


def pip_config_files(env: Mapping[str, str], target_python: str | None = None) -> list[Path]:
    """pip's config files, lowest priority first (pip's `OVERRIDE_ORDER`)."""
    env_file = env.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files: list[Path] = []
    xdg_dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files += [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d]
    files.append(Path("/etc/pip.conf"))
    if not (env_file and Path(env_file).exists()):
        home = Path(env.get("HOME", str(Path.home())))
        files.append(home / ".pip" / "pip.conf")
        xdg_home = env.get("XDG_CONFIG_HOME") or str(home / ".config")
        files.append(Path(xdg_home) / "pip" / "pip.conf")
    prefix = Path(target_python).resolve().parent.parent if target_python else Path(sys.prefix)
    files.append(prefix / "pip.conf")
    if env_file:
        files.append(Path(env_file))
    return files


def read_pip_config(files: Sequence[Path]) -> dict[str, str]:
    """Options from pip config files: later files win, `[install]` over `[global]`."""
    result: dict[str, str] = {}
    for path in files:
        parser = configparser.RawConfigParser()
        try:
            if not parser.read(path, encoding="utf-8"):
                continue
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                for key, value in parser.items(section):
                    result[key.replace("_", "-")] = value
    return result


def _as_url(value: str) -> str:
    """pip accepts plain paths for indexes and find-links: make them file:// URLs."""
    if "://" in value:
        return value
    return Path(value).expanduser().resolve().as_uri()


def resolve_indexes(
    index_url: str | None = None,
    extra_index_urls: Sequence[str] = (),
    *,
    trusted_hosts: Sequence[str] = (),
    find_links: Sequence[str] = (),
    torch_backend: str | None = None,
    env: Mapping[str, str] | None = None,
    target_python: str | None = None,
    read_pip_files: bool = True,
    uv: bool = False,
) -> IndexConfig:
    """Resolve the index settings (see the module docstring for the order); `uv`: uv will
    install, so `UV_CONSTRAINT` applies too."""
    env = os.environ if env is None else env
    pipconf = read_pip_config(pip_config_files(env, target_python)) if read_pip_files else {}
    origin: list[str] = []

    def pick(
        option: Sequence[str], wm_env: str | None, pip_env: str, pip_key: str, what: str
    ) -> tuple[list[str], str | None]:
        for values, where in (
            (list(option), "command options"),
            (_split(env.get(wm_env)) if wm_env else [], wm_env),
            (_split(env.get(pip_env)), pip_env),
            (_split(pipconf.get(pip_key)), f"pip config {pip_key}"),
        ):
            if values:
                origin.append(f"{what} from {where}")
                return values, where
        return [], None

    main, main_from = pick(
        [index_url] if index_url else [], ENV_INDEX_URL, "PIP_INDEX_URL", "index-url", "index-url"
    )
    extras, extras_from = pick(
        extra_index_urls,
        ENV_EXTRA_INDEX_URL,
        "PIP_EXTRA_INDEX_URL",
        "extra-index-url",
        "extra-index-url",
    )
    trusted, _ = pick(trusted_hosts, None, "PIP_TRUSTED_HOST", "trusted-host", "trusted-host")
    links, _ = pick(find_links, None, "PIP_FIND_LINKS", "find-links", "find-links")
    if not main:
        main = [DEFAULT_INDEX]
    main = [_as_url(u) for u in main]
    extras = [_as_url(u) for u in extras]
    links = [_as_url(u) for u in links]
    urls: list[str] = []
    for url in [main[0], *extras]:
        if url not in urls:
            urls.append(url)
    # an index the user named on purpose fails loudly; one from pip's config is skipped with a
    # note by the client, as pip does
    for url, where in [(main[0], main_from), *((u, extras_from) for u in extras)]:
        if where in ("command options", ENV_INDEX_URL, ENV_EXTRA_INDEX_URL):
            check_transport(url, trusted, what=f"index (from {where})")
    cert = None
    for key in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE", "PIP_CERT"):
        if env.get(key):
            cert = env[key]
            break
    else:
        cert = pipconf.get("cert") or None
    explicit = main_from in ("command options", ENV_INDEX_URL) or extras_from in (
        "command options",
        ENV_EXTRA_INDEX_URL,
    )
    backend = torch_backend or env.get(ENV_TORCH_BACKEND) or "auto"
    if backend not in TORCH_BACKEND_CHOICES:
        from wheelmagic.errors import IndexError_

        raise IndexError_(
            f"unknown torch backend {backend!r}",
            hint="use auto, none, cpu, xpu, a CUDA index like cu128 or a ROCm one like rocm6.4",
        )
    return IndexConfig(
        index_urls=tuple(urls),
        find_links=tuple(links),
        trusted_hosts=tuple(trusted),
        cert=cert,
        torch_backend=backend,
        pytorch_defaults=backend != "none"
        and (not explicit or bool(torch_backend or env.get(ENV_TORCH_BACKEND))),
        pytorch_variant_index=env.get(torch_builds.ENV_PYTORCH_VARIANT_INDEX)
        or torch_builds.DEFAULT_PYTORCH_VARIANT_INDEX,
        pytorch_index_base=env.get(torch_builds.ENV_PYTORCH_INDEX_BASE)
        or torch_builds.DEFAULT_PYTORCH_INDEX_BASE,
        origin=tuple(origin),
        constraints=constraint_files(env, pipconf, uv=uv),
    )
