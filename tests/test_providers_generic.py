"""Generic providers: every field of providers.json (the Node tool's format) and the GENERIC_* variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers.base import ModelInfo, WireApi
from mimo2codex.settings import Settings, load_settings

FULL: dict[str, Any] = {
    "providers": [
        {
            "id": "qwen",
            "shortcut": "qw",
            "displayName": "Qwen (DashScope)",
            "baseUrl": "https://dashscope.example/compatible-mode/v1/",
            "envKey": "QWEN_API_KEY",
            "defaultModel": "qwen3-coder-plus",
            "wireApi": "chat",
            "docsUrl": "https://dashscope.example/keys",
            "models": [
                {
                    "id": "qwen3-coder-plus",
                    "aliases": ["qwen-coder", "qcp"],
                    "displayName": "Qwen3 Coder Plus",
                    "contextWindow": 1000000,
                    "maxOutputTokens": 65536,
                    "supportsImages": False,
                    "supportsReasoning": False,
                    "supportsWebSearch": True,
                },
                {"id": "qwen3-vl-plus", "supportsImages": True, "supportsReasoning": True, "contextWindow": 262144},
                {"id": "qwq-old", "deprecatedAfter": "2026-01-01", "reasoningReplay": "strip"},
            ],
            "features": {
                "forceParallelToolCalls": True,
                "webSearch": True,
                "extractThinkTags": True,
                "dropFields": ["stop"],
                "dropStreamOptions": True,
                "dropNullStrict": True,
                "maxTokensField": "max_completion_tokens",
                "reasoningReplay": "required",
                "supportsReasoningEffort": True,
                "extraBody": {"enable_thinking": False},
            },
            "selectedModels": ["qwen3-coder-plus"],
        },
        {
            "id": "ollama",
            "baseUrl": "http://127.0.0.1:11434/v1",
            "envKey": "OLLAMA_API_KEY",
            "defaultModel": "qwen2.5-coder:32b",
        },
        {
            "id": "relay",
            "baseUrl": "https://relay.example/v1",
            "envKey": "RELAY_KEY",
            "defaultModel": "gpt-5.5",
            "wireApi": "responses",
            "forceDefaultModel": True,
        },
    ]
}
KEYS = {"QWEN_API_KEY": "sk-qwen", "OLLAMA_API_KEY": "ollama", "RELAY_KEY": "rk", "MIMO_API_KEY": "sk-m"}


def load(tmp_path: Path, document: Any = FULL, **env: str) -> Settings:
    (tmp_path / "providers.json").write_text(json.dumps(document), encoding="utf-8")
    return load_settings({"MIMO2CODEX_DATA_DIR": str(tmp_path), **KEYS, **env})


def by_id(settings: Settings, provider_id: str) -> Any:
    return next(p for p in settings.providers if p.id == provider_id)


def test_every_field_of_the_file_format(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert [p.id for p in settings.providers] == ["mimo", "deepseek", "qwen", "ollama", "relay"]
    assert settings.providers_file == tmp_path / "providers.json"
    qwen = by_id(settings, "qwen")
    assert (qwen.shortcut, qwen.display_name, qwen.docs_url) == (
        "qw",
        "Qwen (DashScope)",
        "https://dashscope.example/keys",
    )
    assert qwen.base_url == "https://dashscope.example/compatible-mode/v1"
    assert qwen.api_key.reveal() == "sk-qwen"
    assert (qwen.key_source, qwen.env_key, qwen.default_model) == ("QWEN_API_KEY", "QWEN_API_KEY", "qwen3-coder-plus")
    assert qwen.wire_api is WireApi.CHAT
    assert qwen.source == str(tmp_path / "providers.json")
    assert qwen.models[0] == ModelInfo(
        "qwen3-coder-plus",
        aliases=("qwen-coder", "qcp"),
        display_name="Qwen3 Coder Plus",
        context_window=1_000_000,
        max_output_tokens=65536,
        supports_web_search=True,
    )
    assert qwen.models[1].supports_images
    assert qwen.models[1].supports_reasoning
    assert qwen.models[2].legacy
    assert qwen.models[2].reasoning_replay is ReasoningReplay.STRIP
    quirks = qwen.quirks
    assert quirks.force_parallel_tool_calls
    assert quirks.think_tags
    assert quirks.supports_reasoning_effort
    assert quirks.drop_fields == {"stop", "stream_options"}
    assert quirks.max_tokens_field == "max_completion_tokens"
    assert quirks.reasoning_replay is ReasoningReplay.REQUIRED
    assert quirks.extra_body == {"enable_thinking": False}
    assert quirks.web_search_tool == {"type": "web_search"}
    assert settings.warnings == ()


def test_defaults_of_a_minimal_entry(tmp_path: Path) -> None:
    ollama = by_id(load(tmp_path), "ollama")
    assert (ollama.shortcut, ollama.display_name, ollama.wire_api, ollama.models) == (
        "ollama",
        "ollama",
        WireApi.CHAT,
        (),
    )
    assert ollama.quirks.drop_fields == frozenset()
    assert ollama.quirks.web_search_tool is None
    relay = by_id(load(tmp_path), "relay")
    assert relay.wire_api is WireApi.RESPONSES
    assert relay.force_default_model


def test_profiles_follow_the_model_flags(tmp_path: Path) -> None:
    qwen = by_id(load(tmp_path), "qwen")
    coder = qwen.profile("qwen-coder")  # an alias
    assert coder.model == "qwen3-coder-plus"
    assert not coder.supports_images  # images become a placeholder for this model
    assert coder.web_search_tool == {"type": "web_search"}
    assert coder.think_tags
    assert coder.force_parallel_tool_calls
    assert coder.extra_body == {"enable_thinking": False}
    assert coder.max_tokens_field == "max_completion_tokens"
    vision = qwen.profile("qwen3-vl-plus")
    assert vision.supports_images
    assert vision.web_search_tool is None
    assert qwen.profile("qwq-old").reasoning_replay is ReasoningReplay.STRIP
    # An open catalog knows nothing about a model: images pass, the upstream decides.
    assert by_id(load(tmp_path), "ollama").profile("llava").supports_images


def test_base_url_variable_derived_from_the_env_key(tmp_path: Path) -> None:
    settings = load(tmp_path, QWEN_BASE_URL="http://127.0.0.1:9999/v1", RELAY_BASE_URL="http://127.0.0.1:1/v1")
    assert by_id(settings, "qwen").base_url == "http://127.0.0.1:9999/v1"
    assert by_id(settings, "qwen").base_url_source == "QWEN_BASE_URL"
    assert by_id(settings, "relay").base_url == "https://relay.example/v1"  # RELAY_KEY -> RELAY_KEY_BASE_URL


def test_node_tool_fields_load_with_warnings_for_what_is_ignored(tmp_path: Path) -> None:
    document = {
        "providers": [
            {
                "id": "minimax",
                "baseUrl": "https://minimax.example/v1",
                "envKey": "MINIMAX_API_KEY",
                "defaultModel": "MiniMax-M2",
                "features": {"minimaxCompat": True, "dropToolChoiceAuto": True, "colour": "blue"},
                "models": [{"id": "MiniMax-M2", "price": 1}],
                "note": "mine",
            }
        ]
    }
    settings = load(tmp_path, document, MINIMAX_API_KEY="mm")
    file = tmp_path / "providers.json"
    assert settings.warnings == (
        f"{file}: provider 'minimax', field note: unknown field, ignored",
        f"{file}: provider 'minimax', field models[0].price: unknown field, ignored",
        f"{file}: provider 'minimax', field features.minimaxCompat: not supported by this version of mimo2codex, ignored",
        f"{file}: provider 'minimax', field features.colour: unknown field, ignored",
    )
    assert by_id(settings, "minimax").quirks.drop_fields == {"tool_choice"}


def test_default_model_outside_the_catalog_is_a_warning(tmp_path: Path) -> None:
    document = {"providers": [{**FULL["providers"][0], "defaultModel": "qwen-max"}]}
    settings = load(tmp_path, document)
    assert settings.warnings == (
        f"{tmp_path / 'providers.json'}: provider 'qwen', field defaultModel: \"qwen-max\" is not one of its "
        "models[] (ids or aliases); requests rewritten to it get no capability flags",
    )


def test_generic_env_provider() -> None:
    settings = load_settings(
        {
            "GENERIC_BASE_URL": "http://127.0.0.1:8000/v1/",
            "GENERIC_API_KEY": "gk",
            "GENERIC_DEFAULT_MODEL": "llama3",
            "GENERIC_SHORTCUT": "local",
            "GENERIC_DISPLAY_NAME": "vLLM box",
            "GENERIC_WIRE_API": "Responses",
            "MIMO2CODEX_DEFAULT_PROVIDER": "local",
        }
    )
    generic = settings.default
    assert (generic.id, generic.shortcut, generic.display_name) == ("generic", "local", "vLLM box")
    assert (generic.base_url, generic.default_model, generic.wire_api) == (
        "http://127.0.0.1:8000/v1",
        "llama3",
        WireApi.RESPONSES,
    )
    assert generic.api_key.reveal() == "gk"
    assert generic.models == ()
    assert generic.source == "GENERIC_* environment variables"


def test_generic_env_is_ignored_when_a_file_defines_the_providers(tmp_path: Path) -> None:
    settings = load(tmp_path, GENERIC_BASE_URL="http://127.0.0.1:8000/v1", GENERIC_DEFAULT_MODEL="m")
    assert "generic" not in [p.id for p in settings.providers]
    assert settings.warnings == (
        f"GENERIC_BASE_URL is set, but {tmp_path / 'providers.json'} defines the providers: the GENERIC_* "
        "variables are ignored (declare that provider in the file instead)",
    )


def test_no_file_in_the_data_dir_is_fine(tmp_path: Path) -> None:
    settings = load_settings({"MIMO2CODEX_DATA_DIR": str(tmp_path), "MIMO_API_KEY": "k"})
    assert settings.providers_file is None
    assert [p.id for p in settings.providers] == ["mimo", "deepseek"]


@pytest.mark.parametrize("bom", [False, True])
def test_windows_editors_bom_is_accepted(tmp_path: Path, bom: bool) -> None:
    text = json.dumps(FULL)
    (tmp_path / "providers.json").write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    assert by_id(load_settings({"MIMO2CODEX_DATA_DIR": str(tmp_path), **KEYS}), "qwen").shortcut == "qw"
