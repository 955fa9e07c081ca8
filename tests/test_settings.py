"""Settings: flags > env > files > defaults, and the default provider's precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimo2codex.errors import ConfigError
from mimo2codex.options import OPTIONS
from mimo2codex.secret import Secret
from mimo2codex.settings import Settings, load_settings, settings_table

KEYS = {"MIMO_API_KEY": "sk-m", "DS_API_KEY": "sk-d"}


def test_defaults() -> None:
    settings = load_settings({"MIMO_API_KEY": "k"})
    assert (settings.host, settings.port, settings.default_provider) == ("127.0.0.1", 8788, "mimo")
    assert settings.data_dir == Path("~/.mimo2codex").expanduser()
    assert settings.expose_reasoning
    assert settings.thinking
    assert settings.admin
    assert not (settings.verbose)
    assert not (settings.web_search)
    assert not (settings.insecure_no_auth)
    assert settings.listen_url == "http://127.0.0.1:8788"


def test_flags_beat_env() -> None:
    env = {**KEYS, "MIMO2CODEX_PORT": "9000", "MIMO2CODEX_HOST": "localhost", "MIMO2CODEX_VERBOSE": "0"}
    settings = load_settings(env, {"port": 9100, "verbose": True})
    assert (settings.port, settings.host, settings.verbose) == (9100, "localhost", True)


@pytest.mark.parametrize(
    ("env", "flags", "expected"),
    [
        ({}, {}, "mimo"),
        ({"MIMO2CODEX_DEFAULT_PROVIDER": "deepseek"}, {}, "deepseek"),
        ({"MIMO2CODEX_DEFAULT_PROVIDER": "DS"}, {}, "deepseek"),  # shortcuts, any case
        ({"MIMO2CODEX_DEFAULT_PROVIDER": "ds"}, {"default_provider": "mimo"}, "mimo"),  # --model wins
    ],
)
def test_default_provider_precedence(env: dict[str, str], flags: dict[str, str], expected: str) -> None:
    assert load_settings({**KEYS, **env}, flags).default_provider == expected


def test_the_only_keyed_provider_becomes_the_default_when_none_was_chosen() -> None:
    settings = load_settings({"DS_API_KEY": "k"})
    assert settings.default_provider == "deepseek"
    assert settings.warnings == (
        "no default provider was chosen and MiMo has no API key: using 'ds', the only provider with a key "
        "(set MIMO2CODEX_DEFAULT_PROVIDER or pass --model to choose)",
    )


def test_print_commands_load_without_any_key() -> None:
    settings = load_settings({}, serving=False)
    assert settings.default_provider == "mimo"
    assert settings.keyed_providers == ()


@pytest.mark.parametrize(
    ("name", "value", "field", "expected"),
    [
        ("MIMO2CODEX_NO_REASONING", "1", "expose_reasoning", False),
        ("MIMO2CODEX_NO_REASONING", "0", "expose_reasoning", True),
        ("MIMO2CODEX_DISABLE_THINKING", "true", "thinking", False),
        ("MIMO2CODEX_NO_ADMIN", "yes", "admin", False),
        ("MIMO2CODEX_WEB_SEARCH", "on", "web_search", True),
        ("MIMO2CODEX_VERBOSE", "1", "verbose", True),
        ("MIMO2CODEX_MAX_BODY", "1K", "max_body_bytes", 1024),
        ("MIMO2CODEX_DATA_DIR", "~/d", "data_dir", Path("~/d")),  # expanded at run time (HOME is isolated)
    ],
)
def test_env_values(name: str, value: str, field: str, expected: object) -> None:
    if isinstance(expected, Path):
        expected = expected.expanduser()
    assert getattr(load_settings({**KEYS, name: value}), field) == expected


def test_reasoning_flags_beat_env_both_ways() -> None:
    assert load_settings({**KEYS, "MIMO2CODEX_NO_REASONING": "1"}, {"expose_reasoning": True}).expose_reasoning
    assert not load_settings(KEYS, {"expose_reasoning": False}).expose_reasoning


def test_auth_tokens() -> None:
    settings = load_settings({**KEYS, "MIMO2CODEX_AUTH_TOKENS": " t1 , ,t2 "})
    assert settings.auth_tokens == (Secret("t1"), Secret("t2"))


def test_unknown_setting_name() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(KEYS, {"colour": "blue"})


def test_providers_file_from_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "providers.json").write_text('{"providers": []}')
    assert load_settings({**KEYS, "MIMO2CODEX_DATA_DIR": str(tmp_path)}).providers_file == tmp_path / "providers.json"
    other = tmp_path / "other.json"
    other.write_text('{"providers": []}')
    flags = {"providers_file": other}
    assert load_settings({**KEYS, "MIMO2CODEX_DATA_DIR": str(tmp_path)}, flags).providers_file == other


def test_every_option_is_a_setting_or_a_loader_input() -> None:
    names = set(Settings.__dataclass_fields__)
    for option in OPTIONS:
        assert option.field in names | {"api_key", "base_url", "providers_file"}, option
        assert option.flag.startswith("--")
        assert option.help
    flags = [o.flag for o in OPTIONS] + [o.flag_off for o in OPTIONS if o.flag_off]
    envs = [o.env for o in OPTIONS if o.env]
    assert len(flags) == len(set(flags))
    assert len(envs) == len(set(envs))


def test_settings_table_lists_every_option() -> None:
    table = settings_table()
    for option in OPTIONS:
        assert f"`{option.flag}" in table or f", {option.flag}" in table
        assert option.env is None or f"`{option.env}`" in table


def test_a_postgresql_url_without_the_driver_is_a_clear_startup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a))
    env = {
        "DS_API_KEY": "sk-1",
        "MIMO2CODEX_DEFAULT_PROVIDER": "ds",
        "MIMO2CODEX_DATABASE_URL": "postgresql://u:pw@h/db",
    }
    with pytest.raises(ConfigError, match=r"MIMO2CODEX_DATABASE_URL is a PostgreSQL URL.*mimo2codex\[postgres\]"):
        load_settings(env)
