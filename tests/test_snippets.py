"""The Codex configuration snippets (one renderer for print-config, print-cc-switch, admin and README).

Whether Codex 0.169.0 accepts them with --strict-config is checked against the real binary in
tests/e2e/test_codex_setup.py; here: content, names and safety.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.errors import ConfigError
from mimo2codex.settings import Settings, load_settings
from mimo2codex.snippets import Snippets, render_snippets

SECRET = "sk-super-secret-upstream-key-123456"
QWEN = {
    "id": "qwen",
    "baseUrl": "https://dashscope.example/v1",
    "envKey": "QWEN_API_KEY",
    "defaultModel": "qwen3-coder-plus",
    "models": [{"id": "qwen3-coder-plus", "contextWindow": 262144}, {"id": "qwen3-vl", "supportsImages": True}],
}
OLLAMA = {"id": "ollama", "baseUrl": "http://127.0.0.1:11434/v1", "envKey": "OLLAMA_API_KEY", "defaultModel": "llama3"}


def settings(tmp_path: Path, **env: str) -> Settings:
    (tmp_path / "providers.json").write_text(json.dumps({"providers": [QWEN, OLLAMA]}))
    values = {"MIMO2CODEX_DATA_DIR": str(tmp_path), "MIMO_API_KEY": SECRET, "DS_API_KEY": SECRET, **env}
    return load_settings(values, serving=False)


def every_text(snippets: Snippets) -> list[str]:
    return [
        snippets.auth_json,
        snippets.config_toml,
        snippets.config_toml_env_key,
        snippets.cc_switch_config_toml,
        snippets.print_config(),
        snippets.print_config(env_key=True),
        snippets.print_cc_switch(),
    ]


@pytest.mark.parametrize(
    ("provider", "key", "model", "window"),
    [
        ("mimo", "mimo", "mimo-v2.5-pro", 131072),
        ("ds", "mimo2codex", "deepseek-v4-pro", 1_000_000),
        ("deepseek", "mimo2codex", "deepseek-v4-pro", 1_000_000),
        ("qwen", "mimo2codex-qwen", "qwen3-coder-plus", 262144),
    ],
)
def test_tables_keep_the_node_tools_names(tmp_path: Path, provider: str, key: str, model: str, window: int) -> None:
    snippets = render_snippets(settings(tmp_path), provider)
    for text in (snippets.config_toml, snippets.config_toml_env_key, snippets.cc_switch_config_toml):
        config = tomllib.loads(text)
        assert config["model"] == model
        assert config["model_provider"] == key
        assert config["model_context_window"] == window
        assert config["model_auto_compact_token_limit"] == int(window * 0.9)
        assert config["web_search"] == "disabled"
        table = config["model_providers"][key]
        assert table["base_url"] == "http://127.0.0.1:8788/v1"
        assert table["wire_api"] == "responses"
        assert table["model_catalog_url"] == "http://127.0.0.1:8788/v1/codex/models"
        assert table["name"].endswith("(via mimo2codex)")
        assert table["name"] != "OpenAI"
        assert "model_max_output_tokens" not in text  # rejected by --strict-config (CONTRACT §5)
    assert tomllib.loads(snippets.config_toml)["model_providers"][key]["requires_openai_auth"] is True
    env_table = tomllib.loads(snippets.config_toml_env_key)["model_providers"][key]
    assert env_table["env_key"] == "MIMO2CODEX_KEY"
    assert "requires_openai_auth" not in env_table
    assert snippets.cc_switch_config_toml.startswith("model_provider = ")
    assert json.loads(snippets.auth_json) == {"OPENAI_API_KEY": "mimo2codex-local"}


def test_model_list_comments(tmp_path: Path) -> None:
    text = render_snippets(settings(tmp_path), "mimo").config_toml
    assert '#   model = "mimo-v2.5-pro"  model_context_window = 131072' in text
    assert "(current)" in text
    assert (
        '#   model = "mimo-v2.5[1m]"  model_context_window = 1000000  model_auto_compact_token_limit = 900000  (vision)'
        in text
    )
    assert text.index("mimo-v2-flash") < text.index('mimo-v2-pro"')  # legacy last


def test_open_catalog_has_no_window_lines(tmp_path: Path) -> None:
    config = tomllib.loads(render_snippets(settings(tmp_path), "ollama").config_toml)
    assert config["model"] == "llama3"
    assert "model_context_window" not in config
    assert "open catalog" in render_snippets(settings(tmp_path), "ollama").config_toml


def test_no_upstream_key_anywhere(tmp_path: Path) -> None:
    for provider in ("mimo", "ds", "qwen", "ollama"):
        for text in every_text(render_snippets(settings(tmp_path, QWEN_API_KEY=SECRET), provider)):
            assert SECRET not in text
            assert SECRET[-8:] not in text


def test_host_and_port_are_honoured(tmp_path: Path) -> None:
    def url(**env: str) -> str:
        table = tomllib.loads(render_snippets(settings(tmp_path, **env)).config_toml)["model_providers"]["mimo"]
        assert table["model_catalog_url"] == table["base_url"].removesuffix("/v1") + "/v1/codex/models"
        return str(table["base_url"])

    assert url(MIMO2CODEX_PORT="9000") == "http://127.0.0.1:9000/v1"
    assert url(MIMO2CODEX_HOST="localhost") == "http://localhost:8788/v1"
    assert url(MIMO2CODEX_HOST="::1") == "http://[::1]:8788/v1"
    assert url(MIMO2CODEX_HOST="0.0.0.0", MIMO2CODEX_AUTH_TOKENS="tok-1") == "http://127.0.0.1:8788/v1"


def test_inbound_tokens_are_never_printed(tmp_path: Path) -> None:
    snippets = render_snippets(settings(tmp_path, MIMO2CODEX_AUTH_TOKENS="tok-very-secret"))
    assert all("tok-very-secret" not in text for text in every_text(snippets))
    assert "MIMO2CODEX_AUTH_TOKENS" in json.loads(snippets.auth_json)["OPENAI_API_KEY"]


def test_catalog_file_variant(tmp_path: Path) -> None:
    snippets = render_snippets(settings(tmp_path), "ds", catalog_file=True)
    config = tomllib.loads(snippets.config_toml)
    assert config["model_catalog_json"] == str(tmp_path / "codex-models.json")
    assert "model_catalog_url" not in config["model_providers"]["mimo2codex"]
    assert snippets.catalog == str(tmp_path / "codex-models.json")


def test_web_search_follows_the_provider(tmp_path: Path) -> None:
    def mode(**env: str) -> Any:
        return tomllib.loads(render_snippets(settings(tmp_path, **env)).config_toml)["web_search"]

    assert mode() == "disabled"
    assert mode(MIMO2CODEX_WEB_SEARCH="1") == "live"
    assert mode(MIMO2CODEX_WEB_SEARCH="1", MIMO_API_KEY="tp-token-plan") == "disabled"


def test_printed_texts_contain_the_files(tmp_path: Path) -> None:
    snippets = render_snippets(settings(tmp_path), "qwen")
    assert snippets.auth_json in snippets.print_config()
    assert snippets.config_toml in snippets.print_config()
    assert snippets.config_toml_env_key in snippets.print_config(env_key=True)
    tomllib.loads(snippets.print_config(env_key=True))  # the whole env-key output is one valid file
    cc = snippets.print_cc_switch()
    assert snippets.auth_json in cc
    assert snippets.cc_switch_config_toml in cc


def test_unknown_provider(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--model=nope: no provider has that id or shortcut"):
        render_snippets(settings(tmp_path), "nope")
