"""Policy resolution: environment variable over IPython config over the default."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from wheelmagic.config import POLICIES, Wheelmagic, load_settings


class FakeShell:
    def __init__(self, config: Config) -> None:
        self.config = config


def test_default_is_auto() -> None:
    s = load_settings(None, environ={})
    assert (s.on_mismatch, s.source) == ("auto", "default")
    assert s.fixes_broken and not s.fixes_suboptimal


def test_config_option_is_read_from_ipython_config() -> None:
    c = Config()
    c.Wheelmagic.on_mismatch = "warn"
    c.Wheelmagic.index_url = "http://127.0.0.1:1/simple"
    c.Wheelmagic.extra_index_urls = ["http://127.0.0.1:2/simple"]
    s = load_settings(FakeShell(c), environ={})
    assert s.on_mismatch == "warn"
    assert s.source == "config c.Wheelmagic.on_mismatch"
    assert s.index_url == "http://127.0.0.1:1/simple"
    assert s.extra_index_urls == ("http://127.0.0.1:2/simple",)
    assert not s.fixes_broken


def test_env_wins_over_config() -> None:
    c = Config()
    c.Wheelmagic.on_mismatch = "warn"
    s = load_settings(FakeShell(c), environ={"WHEELMAGIC_ON_MISMATCH": " FIX "})
    assert s.on_mismatch == "fix"
    assert s.source == "environment WHEELMAGIC_ON_MISMATCH"
    assert s.fixes_broken and s.fixes_suboptimal


def test_invalid_env_value_warns_and_falls_back() -> None:
    c = Config()
    c.Wheelmagic.on_mismatch = "off"
    s = load_settings(FakeShell(c), environ={"WHEELMAGIC_ON_MISMATCH": "sometimes"})
    assert s.on_mismatch == "off"
    assert s.warnings and "sometimes" in s.warnings[0]


def test_invalid_config_value_is_rejected_by_traitlets() -> None:
    from traitlets import TraitError

    with pytest.raises(TraitError):
        Wheelmagic(on_mismatch="sometimes")


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_from_env(policy: str) -> None:
    assert load_settings(None, environ={"WHEELMAGIC_ON_MISMATCH": policy}).on_mismatch == policy


def test_real_ipython_config_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`c.Wheelmagic.on_mismatch` in a profile's ipython_config.py reaches the settings."""
    from traitlets.config.loader import PyFileConfigLoader

    (tmp_path / "ipython_config.py").write_text('c.Wheelmagic.on_mismatch = "off"\n')
    cfg = PyFileConfigLoader("ipython_config.py", path=str(tmp_path)).load_config()
    assert load_settings(FakeShell(cfg), environ={}).on_mismatch == "off"


def test_prefer_comes_from_config_unless_the_environment_says() -> None:
    """`c.Wheelmagic.prefer` (issue 15: --prefer in config and env too); the variable wins."""
    from traitlets.config import Config

    from wheelmagic.app import Session
    from wheelmagic.options import Options

    cfg = Config()
    cfg.Wheelmagic.prefer = "newest"
    ip = type("Ip", (), {"config": cfg})()
    settings = load_settings(ip, environ={})
    assert settings.prefer == "newest"
    assert Session(Options(prefer=settings.prefer), environ={}).prefer == "newest"
    over = load_settings(ip, environ={"WHEELMAGIC_PREFER": "fit"})
    assert over.prefer is None
    env = {"WHEELMAGIC_PREFER": "fit"}
    assert Session(Options(prefer=over.prefer), environ=env).prefer == "fit"
    assert load_settings(None, environ={}).prefer is None
