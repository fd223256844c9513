"""Policy configuration for the import hook: what to do when the installed torch does not fit.

One setting, ``on_mismatch``, read from two places:

* the environment variable ``WHEELMAGIC_ON_MISMATCH`` (``auto``, ``fix``, ``warn``, ``off``);
* IPython/traitlets config: ``c.Wheelmagic.on_mismatch = "warn"`` (``ipython_config.py`` or
  ``ipython_kernel_config.py``).

**The environment variable wins over the config file.** The variable is set for one process
or one kernelspec (``kernel.json``'s ``env``), a container or a CI job, so it is the more
specific choice; config files are per profile and shared by every kernel. It also gives an
administrator or a test a way to force a policy without editing anyone's profile. An unknown
value in the variable is never read as permission to install: it falls back to ``warn`` (or to
``off`` when the config says so), with a warning that names the value -- a typo for ``off``
must not change the environment.

Policies:

* ``auto`` (default): fix a ``broken`` build, warn about a ``suboptimal`` one;
* ``fix``: fix both;
* ``warn``: only explain, never install;
* ``off``: do nothing at all.

The index options (``c.Wheelmagic.index_url`` / ``extra_index_urls``) default to the same
resolution the CLI uses (``WHEELMAGIC_INDEX_URL`` and friends, through
``wheelmagic.index.resolve_indexes``): config values are passed as if given on the command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from traitlets import Bool, Enum, Float, List, Unicode
from traitlets.config import Configurable

from wheelmagic.options import ENV_PREFER, PREFERS, Prefer

POLICIES: tuple[str, ...] = ("auto", "fix", "warn", "off")
DEFAULT_POLICY = "auto"
#: what an unknown WHEELMAGIC_ON_MISMATCH value means: explain, never install
UNKNOWN_POLICY = "warn"
#: the total time the hook's network work (index pages, variants.json) may take before the
#: import goes on with the installed build; an index that never answers cost 91 s before
DEFAULT_NETWORK_TIMEOUT = 10.0
ENV_NETWORK_TIMEOUT = "WHEELMAGIC_HOOK_TIMEOUT"
#: how long an import waits for another process's install into the same environment
DEFAULT_LOCK_WAIT = 300.0
ENV_LOCK_WAIT = "WHEELMAGIC_HOOK_LOCK_WAIT"
ENV_POLICY = "WHEELMAGIC_ON_MISMATCH"


class Wheelmagic(Configurable):  # type: ignore[misc]
    """wheelmagic's settings in IPython config (``c.Wheelmagic.<name> = ...``)."""

    on_mismatch = Enum(
        list(POLICIES),
        default_value=DEFAULT_POLICY,
        help="What the import hook does when the installed torch does not fit this machine: "
        "'auto' fixes a broken build and warns about a suboptimal one, 'fix' fixes both, "
        "'warn' only explains, 'off' does nothing. The environment variable "
        "WHEELMAGIC_ON_MISMATCH, when set, wins over this setting.",
    ).tag(config=True)

    index_url = Unicode(
        None,
        allow_none=True,
        help="Index to install fixes from (as --index-url); default: the CLI's resolution.",
    ).tag(config=True)

    extra_index_urls = List(
        Unicode(),
        default_value=[],
        help="Extra indexes to install fixes from (as --extra-index-url).",
    ).tag(config=True)

    network_timeout = Float(
        DEFAULT_NETWORK_TIMEOUT,
        help="Seconds the import hook's index queries may take in total before `import torch` "
        "goes on with the installed build (WHEELMAGIC_HOOK_TIMEOUT wins over this).",
    ).tag(config=True)

    lock_wait = Float(
        DEFAULT_LOCK_WAIT,
        help="Seconds an import waits for another process's install into this environment "
        "before stopping with an explanation (WHEELMAGIC_HOOK_LOCK_WAIT wins over this).",
    ).tag(config=True)

    prefer = Enum(
        ["fit", "newest"],
        default_value=None,
        allow_none=True,
        help="How builds are chosen: 'fit' (default) takes the best fit for this machine, then "
        "the newest release at that fit; 'newest' takes the newest release first. "
        "WHEELMAGIC_PREFER and --prefer win over this.",
    ).tag(config=True)

    raise_on_error = Bool(
        True,
        help="A failed %variant_install ends its cell with an error, so Run All, nbconvert "
        "and papermill stop there; False prints the error and goes on, as %pip does.",
    ).tag(config=True)


@dataclass(frozen=True)
class Settings:
    """The resolved settings the hook acts on, with where the policy came from (for messages)."""

    on_mismatch: str = DEFAULT_POLICY
    source: str = "default"
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: seconds for all of a fix's index queries (planning), then the import goes on
    network_timeout: float = DEFAULT_NETWORK_TIMEOUT
    #: seconds to wait for another process's install into this environment
    lock_wait: float = DEFAULT_LOCK_WAIT
    #: c.Wheelmagic.prefer, unless WHEELMAGIC_PREFER is set (then None: the Session reads it)
    prefer: Prefer | None = None

    @property
    def fixes_broken(self) -> bool:
        return self.on_mismatch in ("auto", "fix")

    @property
    def fixes_suboptimal(self) -> bool:
        return self.on_mismatch == "fix"


def _config_of(ip: Any) -> Any:
    """The traitlets config of a running IPython, without importing IPython when absent."""
    if ip is None and "IPython" in sys.modules:
        try:
            ip = sys.modules["IPython"].get_ipython()
        except Exception:
            ip = None
    return getattr(ip, "config", None)


def load_settings(ip: Any = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve the policy: env var, then ``c.Wheelmagic.*`` config, then the default.

    `ip` is the running InteractiveShell (or None: the current one if IPython is already
    imported; plain Python has no config and uses the environment and the defaults).
    """
    env = os.environ if environ is None else environ
    cfg = _config_of(ip)
    configurable = Wheelmagic(config=cfg) if cfg is not None else Wheelmagic()
    policy, source = configurable.on_mismatch, "default"
    if cfg is not None and "Wheelmagic" in cfg and "on_mismatch" in cfg["Wheelmagic"]:
        source = "config c.Wheelmagic.on_mismatch"
    warnings: list[str] = []
    raw = env.get(ENV_POLICY)
    if raw is not None and raw.strip():
        value = raw.strip().lower()
        if value in POLICIES:
            policy, source = value, f"environment {ENV_POLICY}"
        else:
            # never install on a value we do not understand; keep the config's "off" if set
            if policy != "off":
                policy, source = UNKNOWN_POLICY, f"unknown {ENV_POLICY}={raw.strip()!r}"
            warnings.append(
                f"wheelmagic: ignoring {ENV_POLICY}={raw!r} (expected one of "
                f"{', '.join(POLICIES)}); using {policy!r}: nothing is installed automatically"
            )
    network_timeout = _seconds(env, ENV_NETWORK_TIMEOUT, configurable.network_timeout, warnings)
    lock_wait = _seconds(env, ENV_LOCK_WAIT, configurable.lock_wait, warnings)
    return Settings(
        on_mismatch=policy,
        source=source,
        index_url=configurable.index_url,
        extra_index_urls=tuple(configurable.extra_index_urls),
        warnings=tuple(warnings),
        network_timeout=network_timeout,
        lock_wait=lock_wait,
        prefer=None if env.get(ENV_PREFER, "").strip() else _prefer(configurable.prefer),
    )


def _prefer(value: str | None) -> Prefer | None:
    """The config's `prefer` as its type (traitlets' Enum already refused anything else)."""
    return next((p for p in PREFERS if p == value), None)


def _seconds(env: Mapping[str, str], name: str, default: float, warnings: list[str]) -> float:
    """A positive number of seconds from `env[name]`, else `default` (a bad value: a warning)."""
    raw = env.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value > 0:
        return value
    warnings.append(
        f"wheelmagic: ignoring {name}={raw!r} (expected seconds > 0); using {default:g}"
    )
    return float(default)
