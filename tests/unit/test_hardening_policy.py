"""Issue 11, item 14: an unknown WHEELMAGIC_ON_MISMATCH never means "install"."""

from __future__ import annotations

from traitlets.config import Config

from wheelmagic.config import load_settings


class FakeShell:
    def __init__(self, config: Config) -> None:
        self.config = config


def test_unknown_env_value_falls_back_to_warn_and_names_the_value() -> None:
    s = load_settings(None, environ={"WHEELMAGIC_ON_MISMATCH": "of"})
    assert s.on_mismatch == "warn"
    assert not s.fixes_broken and not s.fixes_suboptimal
    assert len(s.warnings) == 1 and "'of'" in s.warnings[0]
    assert "WHEELMAGIC_ON_MISMATCH" in s.source


def test_unknown_env_value_does_not_upgrade_a_configured_fix_either() -> None:
    c = Config()
    c.Wheelmagic.on_mismatch = "fix"
    s = load_settings(FakeShell(c), environ={"WHEELMAGIC_ON_MISMATCH": "sometimes"})
    assert s.on_mismatch == "warn"


def test_unknown_env_value_keeps_a_configured_off() -> None:
    c = Config()
    c.Wheelmagic.on_mismatch = "off"
    s = load_settings(FakeShell(c), environ={"WHEELMAGIC_ON_MISMATCH": "sometimes"})
    assert s.on_mismatch == "off"
    assert s.warnings and "sometimes" in s.warnings[0]


def test_the_hooks_cheap_install_check_names_the_locks_owner_file() -> None:
    """The hook stats `{prefix}/<owner file>` before importing `install.lock`: same name."""
    from wheelmagic.hook.policy import INSTALL_OWNER
    from wheelmagic.install.lock import LOCK_NAME

    assert INSTALL_OWNER == LOCK_NAME + ".owner"


def test_hook_deadline_and_lock_wait_from_config_and_environment() -> None:
    """Item 13's deadline and item 11's bound: defaults, `c.Wheelmagic.*`, then the env."""
    s = load_settings(None, environ={})
    assert (s.network_timeout, s.lock_wait) == (10.0, 300.0)
    c = Config()
    c.Wheelmagic.network_timeout = 3.0
    c.Wheelmagic.lock_wait = 20.0
    s = load_settings(FakeShell(c), environ={})
    assert (s.network_timeout, s.lock_wait) == (3.0, 20.0)
    env = {"WHEELMAGIC_HOOK_TIMEOUT": "2.5", "WHEELMAGIC_HOOK_LOCK_WAIT": "never"}
    s = load_settings(FakeShell(c), environ=env)
    assert (s.network_timeout, s.lock_wait) == (2.5, 20.0)
    assert any("WHEELMAGIC_HOOK_LOCK_WAIT='never'" in w for w in s.warnings)
