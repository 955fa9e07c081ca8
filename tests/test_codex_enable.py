"""``mimo2codex codex enable|status|restore``: Codex's files merged, backed up and restored exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomlkit

from mimo2codex.cli import main
from mimo2codex.codex_setup import BACKUP_DIR, enable, restore, setup_state
from mimo2codex.errors import ConfigError
from mimo2codex.settings import Settings, load_settings

USER_CONFIG = """\
# my Codex settings — keep this comment
model = "gpt-5.1"   # the usual one
model_context_window = 400000
approval_policy = "on-request"

[projects."/home/me/src/app"]
trust_level = "trusted"

[mcp_servers.docs]
command = "npx"
args = ["-y", "docs-mcp"]   # pinned

[model_providers.other]
name = "Other"
base_url = "https://other.example/v1"
"""
CHATGPT_AUTH = '{\n  "tokens": {"id_token": "eyJ...", "refresh_token": "rt-1"},\n  "last_refresh": "2026-11-01"\n}\n'


def _settings(tmp_path: Path, **env: str) -> Settings:
    values = {"DS_API_KEY": "sk-test", "MIMO2CODEX_DATA_DIR": str(tmp_path / "data"), **env}
    return load_settings(values, {"default_provider": "ds"}, serving=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "codex"
    home.mkdir()
    (home / "config.toml").write_text(USER_CONFIG, encoding="utf-8")
    (home / "auth.json").write_text(CHATGPT_AUTH, encoding="utf-8")
    return home


def test_enable_merges_and_keeps_every_other_section(tmp_path: Path, home: Path) -> None:
    state = enable(_settings(tmp_path), home)
    text = (home / "config.toml").read_text(encoding="utf-8")
    config = tomlkit.parse(text)
    assert config["model"] == "deepseek-v4-pro"
    assert config["model_provider"] == "mimo2codex"
    assert config["model_context_window"] == 1_000_000
    assert config["approval_policy"] == "on-request"
    assert config["model_providers"]["other"]["base_url"] == "https://other.example/v1"
    ours = config["model_providers"]["mimo2codex"]
    assert ours["base_url"] == "http://127.0.0.1:8788/v1"
    assert ours["requires_openai_auth"] is True
    for kept in ("# my Codex settings — keep this comment", '[projects."/home/me/src/app"]', "# pinned"):
        assert kept in text
    assert json.loads((home / "auth.json").read_text()) == {"OPENAI_API_KEY": "mimo2codex-local"}
    assert (home / "auth.json").stat().st_mode & 0o777 == 0o600
    assert "sk-test" not in text
    assert state.enabled
    assert state.edited_since == []


def test_restore_is_byte_identical_even_after_two_enables(tmp_path: Path, home: Path) -> None:
    enable(_settings(tmp_path), home)
    enable(_settings(tmp_path, MIMO_API_KEY="sk-m"), home)  # again, then switched provider by --model
    state = restore(home)
    assert (home / "config.toml").read_text(encoding="utf-8") == USER_CONFIG
    assert (home / "auth.json").read_text(encoding="utf-8") == CHATGPT_AUTH
    assert not state.enabled
    with pytest.raises(ConfigError, match="nothing to restore"):
        restore(home)


def test_restore_removes_files_that_did_not_exist(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    enable(_settings(tmp_path), home)
    assert (home / "config.toml").exists()
    assert (home / "auth.json").exists()
    restore(home)
    assert not (home / "config.toml").exists()
    assert not (home / "auth.json").exists()


def test_keep_login_leaves_auth_json_alone(tmp_path: Path, home: Path) -> None:
    enable(_settings(tmp_path), home, keep_login=True)
    assert (home / "auth.json").read_text(encoding="utf-8") == CHATGPT_AUTH
    table = tomlkit.parse((home / "config.toml").read_text())["model_providers"]["mimo2codex"]
    assert table["experimental_bearer_token"] == "mimo2codex-local"
    assert "requires_openai_auth" not in table
    assert "env_key" not in table


def test_keep_login_with_inbound_tokens_never_writes_the_token(tmp_path: Path, home: Path) -> None:
    state = enable(_settings(tmp_path, MIMO2CODEX_AUTH_TOKENS="inbound-secret-1"), home, keep_login=True)
    text = (home / "config.toml").read_text(encoding="utf-8")
    assert "inbound-secret-1" not in text
    assert tomlkit.parse(text)["model_providers"]["mimo2codex"]["env_key"] == "MIMO2CODEX_KEY"
    assert state.key_env == "MIMO2CODEX_KEY"
    assert not any("inbound-secret-1" in p.read_text() for p in (home / BACKUP_DIR).iterdir())


def test_invalid_toml_is_refused_and_nothing_changes(tmp_path: Path, home: Path) -> None:
    (home / "config.toml").write_text("model = [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config\.toml: cannot be read as TOML"):
        enable(_settings(tmp_path), home)
    assert (home / "config.toml").read_text() == "model = [unclosed\n"
    assert not (home / BACKUP_DIR).exists()


def test_status_reports_hand_edits(tmp_path: Path, home: Path) -> None:
    enable(_settings(tmp_path), home)
    with (home / "config.toml").open("a", encoding="utf-8") as handle:
        handle.write('\nmodel_verbosity = "low"\n')
    state = setup_state(home)
    assert state.enabled
    assert state.edited_since == ["config.toml"]
    assert state.active_provider == "mimo2codex"
    restore(home)  # the hand-edited file is backed up before the original returns
    assert (home / "config.toml").read_text(encoding="utf-8") == USER_CONFIG
    assert any(
        p.name.startswith("config.toml.") and p.name.endswith(".before-restore") for p in (home / BACKUP_DIR).iterdir()
    )


def test_the_command_line(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CODEX_HOME", str(home))
    monkeypatch.setenv("DS_API_KEY", "sk-test")
    monkeypatch.setenv("MIMO2CODEX_DATA_DIR", str(tmp_path / "data"))
    assert main(["codex", "enable", "--model", "ds"]) == 0
    assert "model 'deepseek-v4-pro' via [model_providers.mimo2codex]" in capsys.readouterr().out
    assert main(["codex", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["enabled"] is True
    assert main(["codex", "restore"]) == 0
    assert "Restored" in capsys.readouterr().out
    assert main(["codex", "restore"]) == 2
    assert "nothing to restore" in capsys.readouterr().err
    assert (home / "config.toml").read_text(encoding="utf-8") == USER_CONFIG
