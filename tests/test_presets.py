"""Vendor presets as data: ``"preset"`` in providers.json (or a known base URL) fills the entry, and
whatever the entry sets wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.errors import ConfigError
from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers.base import ModelInfo, Provider
from mimo2codex.providers.presets import PRESETS, preset_for_url
from mimo2codex.providers.thinking import ThinkingQuirks
from mimo2codex.settings import Settings, load_settings


def load(tmp_path: Path, *entries: dict[str, Any], **env: str) -> Settings:
    (tmp_path / "providers.json").write_text(json.dumps({"providers": list(entries)}), encoding="utf-8")
    return load_settings({"MIMO2CODEX_DATA_DIR": str(tmp_path), "MIMO_API_KEY": "sk-m", **env})


def provider(settings: Settings, provider_id: str) -> Provider:
    return next(p for p in settings.providers if p.id == provider_id)


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_name_alone_is_a_complete_provider(tmp_path: Path, name: str) -> None:
    preset = PRESETS[name]
    settings = load(tmp_path, {"id": "v", "preset": name}, **{preset.env_key: "sk-v"})
    p = provider(settings, "v")
    assert (p.base_url, p.env_key, p.default_model) == (
        preset.base_url.rstrip("/"),
        preset.env_key,
        preset.default_model,
    )
    assert p.api_key is not None
    assert p.api_key.reveal() == "sk-v"
    assert p.display_name == preset.display_name
    assert p.models == preset.models
    assert p.quirks.error_hints == preset.error_hints
    assert p.quirks.think_tags is preset.think_tags
    assert p.quirks.max_tokens_field == preset.max_tokens_field
    assert settings.warnings == ()
    # every catalog model gets a profile the translator can use, with its vision flag
    for info in preset.models:
        assert p.profile(info.id).supports_images is info.supports_images


def test_kimi_preset_profiles(tmp_path: Path) -> None:
    kimi = provider(load(tmp_path, {"id": "k", "preset": "kimi"}, MOONSHOT_API_KEY="sk"), "k")
    assert isinstance(kimi.quirks, ThinkingQuirks)
    k2 = kimi.profile("kimi-k2.6")
    assert (k2.extra_body, k2.reasoning_replay, k2.supports_images) == (
        {"thinking": {"type": "enabled"}},
        ReasoningReplay.REQUIRED,
        True,
    )
    v1 = kimi.profile("moonshot-v1-32k")  # no thinking: no switch, no backfill, no images
    assert (v1.extra_body, v1.reasoning_replay, v1.supports_images) == ({}, ReasoningReplay.KEEP, False)


def test_disable_thinking_turns_the_switch_off(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {"id": "q", "preset": "qwen"},
        {"id": "k", "preset": "kimi"},
        DASHSCOPE_API_KEY="a",
        MOONSHOT_API_KEY="b",
        MIMO2CODEX_DISABLE_THINKING="1",
    )
    assert provider(settings, "q").profile("qwen-plus").extra_body == {"enable_thinking": False}
    kimi = provider(settings, "k").profile("kimi-k2.6")
    assert (kimi.extra_body, kimi.reasoning_replay) == ({"thinking": {"type": "disabled"}}, ReasoningReplay.KEEP)


def test_everything_the_entry_sets_wins(tmp_path: Path) -> None:
    entry = {
        "id": "moon",
        "preset": "KIMI",
        "displayName": "My Kimi",
        "baseUrl": "https://proxy.example/v1",
        "envKey": "MY_KIMI_KEY",
        "defaultModel": "kimi-k2.5",
        "docsUrl": "https://example/keys",
        "models": [{"id": "kimi-k2.6", "contextWindow": 100000}, {"id": "kimi-private", "supportsReasoning": True}],
        "features": {
            "extraBody": {"thinking": {"type": "disabled"}},
            "reasoningReplay": "keep",
            "maxTokensField": "max_completion_tokens",
            "extractThinkTags": True,
        },
    }
    p = provider(load(tmp_path, entry, MY_KIMI_KEY="sk"), "moon")
    assert (p.display_name, p.base_url, p.env_key, p.default_model, p.docs_url) == (
        "My Kimi",
        "https://proxy.example/v1",
        "MY_KIMI_KEY",
        "kimi-k2.5",
        "https://example/keys",
    )
    ids = [m.id for m in p.models]
    assert ids[:2] == ["kimi-k2.6", "kimi-private"]  # the entry's models first...
    assert "kimi-k2.5" in ids
    assert ids.count("kimi-k2.6") == 1
    assert p.model_info("kimi-k2.6") == ModelInfo("kimi-k2.6", context_window=100000)
    profile = p.profile("kimi-private")
    assert profile.extra_body == {"thinking": {"type": "disabled"}}  # the entry's extraBody beats the switch
    assert profile.reasoning_replay is ReasoningReplay.KEEP  # and its reasoningReplay the preset's REQUIRED
    assert profile.max_tokens_field == "max_completion_tokens"
    assert profile.think_tags is True


def test_a_known_base_url_picks_the_preset(tmp_path: Path) -> None:
    entry = {"id": "zhipu", "baseUrl": "https://open.bigmodel.cn/api/paas/v4", "envKey": "Z_KEY"}
    p = provider(load(tmp_path, {**entry, "defaultModel": "glm-4.5"}, Z_KEY="k"), "zhipu")
    assert p.display_name == "zhipu"  # a detected preset fills the quirks and catalog, not the name
    assert [m.id for m in p.models] == [m.id for m in PRESETS["glm"].models]
    assert p.profile("glm-4.6").extra_body == {"thinking": {"type": "enabled"}}
    assert preset_for_url("https://api.moonshot.cn/v1/") is PRESETS["kimi"]
    assert preset_for_url("http://127.0.0.1:1234/v1") is PRESETS["lmstudio"]
    assert preset_for_url("http://127.0.0.1:9999/v1") is None
    assert preset_for_url("https://relay.example/v1") is None


def test_the_generic_env_provider_also_picks_a_preset() -> None:
    settings = load_settings(
        {
            "GENERIC_BASE_URL": "https://api.minimax.io/v1",
            "GENERIC_API_KEY": "k",
            "GENERIC_DEFAULT_MODEL": "MiniMax-M2.7",
            "MIMO2CODEX_DEFAULT_PROVIDER": "generic",
        }
    )
    profile = settings.default.profile("MiniMax-M2.7")
    assert (profile.reasoning_replay, profile.think_tags, profile.max_tokens_field) == (
        ReasoningReplay.INLINE,
        True,
        "max_completion_tokens",
    )


def test_an_unknown_preset_names_file_provider_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, {"id": "x", "preset": "moonshot"})
    file = tmp_path / "providers.json"
    assert str(caught.value) == (
        f"{file}: provider 'x', field preset: no vendor preset is called \"moonshot\"; the presets are: "
        + ", ".join(PRESETS)
    )


def test_without_a_preset_the_fields_stay_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="field baseUrl: is required"):
        load(tmp_path, {"id": "x", "envKey": "K", "defaultModel": "m"})
    with pytest.raises(ConfigError, match="field envKey: is required"):
        load(tmp_path, {"id": "x", "baseUrl": "https://relay.example/v1", "defaultModel": "m"})


def test_every_preset_cites_its_sources_and_is_documented() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs"
    for path in (docs / "vendors.md", docs / "vendors.zh.md"):
        page = path.read_text(encoding="utf-8")
        for preset in PRESETS.values():
            assert f"`{preset.name}`" in page, f"{path.name} lacks {preset.name}"
            for source in preset.sources:
                assert source.split(" ")[0] in page, f"{path.name} does not cite {source}"


def test_local_servers_need_no_key_variable(tmp_path: Path) -> None:
    """Ollama, LM Studio and vLLM answer without a key: their providers work with none set, and a
    key that is set (vLLM started with --api-key) is sent instead of the placeholder."""
    entries = [
        {"id": "local", "preset": "ollama"},
        {"id": "studio", "baseUrl": "http://localhost:1234/v1", "envKey": "STUDIO_KEY", "defaultModel": "m"},
        {"id": "served", "preset": "vllm"},
    ]
    path = tmp_path / "providers.json"
    path.write_text(json.dumps({"providers": entries}), encoding="utf-8")
    settings = load_settings(
        {"MIMO2CODEX_PROVIDERS_FILE": str(path), "VLLM_API_KEY": "real-vllm-key"},
        {"default_provider": "local"},
    )
    by_id = {p.id: p for p in settings.providers}
    assert by_id["local"].api_key is not None
    assert by_id["local"].api_key.reveal() == "ollama"
    assert by_id["local"].key_source == "none needed (local server)"
    assert by_id["studio"].api_key is not None
    assert by_id["studio"].api_key.reveal() == "lmstudio"
    assert by_id["served"].api_key is not None
    assert by_id["served"].api_key.reveal() == "real-vllm-key"
    assert by_id["mimo"].api_key is None  # vendors in the cloud still need their key
