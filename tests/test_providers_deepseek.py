"""DeepSeek: catalog, keys, and the reasoning rules (V4 requires reasoning_content, R1 rejects it)."""

from __future__ import annotations

import pytest

from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers import deepseek
from mimo2codex.settings import Settings, load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, VendorRules
from tests.responses_client import EXEC_COMMAND, ask, image, text, tool_turn_history, user_message


def settings(**env: str) -> Settings:
    return load_settings({"DS_API_KEY": "sk-ds", "MIMO2CODEX_DEFAULT_PROVIDER": "ds", **env})


def test_catalog_and_identity() -> None:
    provider = settings().default
    assert (provider.id, provider.shortcut, provider.default_model) == ("deepseek", "ds", "deepseek-v4-pro")
    assert [m.id for m in provider.models] == [
        "deepseek-v4-pro",
        "deepseek-v4-flash",
        "deepseek-chat",
        "deepseek-reasoner",
    ]
    assert {(m.context_window, m.max_output_tokens) for m in provider.models} == {(1_000_000, 393_216)}
    assert not any(m.supports_images or m.supports_web_search for m in provider.models)
    assert provider.base_url == "https://api.deepseek.com/v1"


@pytest.mark.parametrize(
    ("env", "key", "source"),
    [
        ({"DS_API_KEY": "a", "DEEPSEEK_API_KEY": "b"}, "a", "DS_API_KEY"),
        ({"DEEPSEEK_API_KEY": "b"}, "b", "DEEPSEEK_API_KEY"),
    ],
)
def test_key_variables(env: dict[str, str], key: str, source: str) -> None:
    provider = load_settings({**env, "MIMO2CODEX_DEFAULT_PROVIDER": "deepseek"}).default
    assert (provider.api_key.reveal(), provider.key_source) == (key, source)


def test_reasoning_rules_per_model() -> None:
    provider = settings(MIMO2CODEX_WEB_SEARCH="1").default
    replay = {m.id: provider.profile(m.id).reasoning_replay for m in provider.models}
    assert replay == {
        "deepseek-v4-pro": ReasoningReplay.REQUIRED,
        "deepseek-v4-flash": ReasoningReplay.REQUIRED,
        "deepseek-chat": ReasoningReplay.KEEP,
        "deepseek-reasoner": ReasoningReplay.STRIP,
    }
    profile = provider.profile("deepseek-v4-pro")
    assert profile.extra_body == {}
    assert profile.web_search_tool is None
    assert profile.max_tokens_field == "max_tokens"
    assert not profile.supports_images


def test_v4_keeps_reasoning_and_r1_strips_it(start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    v4 = start_upstream([Reply.text("ok")] * 2, rules=VendorRules.deepseek_v4())
    r1 = start_upstream([Reply.text("ok")], rules=VendorRules.deepseek_r1())
    for upstream, model, reasonings in (
        (v4, "deepseek-v4-pro", ("Look first.", None)),
        (r1, "deepseek-reasoner", ("Look first.",)),
    ):
        live = start_gateway(settings(DEEPSEEK_BASE_URL=upstream.url, DS_API_KEY=upstream.api_key))
        for reasoning in reasonings:
            response = ask(live.url, model, *tool_turn_history(reasoning), tools=[EXEC_COMMAND])
            assert response.status_code == 200, response.text
    assert v4.violations == r1.violations == []
    assert next(b["messages"][1].get("reasoning_content") for b in v4.bodies) == "Look first."
    assert v4.bodies[1]["messages"][1]["reasoning_content"]  # backfilled: V4 rejects a tool turn without it
    assert "reasoning_content" not in str(r1.bodies[0]["messages"])
    assert r1.bodies[0]["model"] == "deepseek-reasoner"  # forwarded under DeepSeek's own legacy name


def test_images_become_a_placeholder(start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    """DeepSeek has no vision model: with none configured the image is saved and the placeholder
    says where, and which command reads it (the vision bridge's no-backend path)."""
    upstream = start_upstream([Reply.text("ok")], rules=VendorRules.deepseek_v4())
    live = start_gateway(settings(DEEPSEEK_BASE_URL=upstream.url, DS_API_KEY=upstream.api_key))
    response = ask(live.url, "deepseek-v4-flash", user_message(text("look"), image()))
    assert response.status_code == 200, response.text
    assert upstream.violations == []
    content = upstream.bodies[0]["messages"][-1]["content"]
    assert "not shown: DeepSeek has no vision model" in content
    assert "mimo2codex ocr " in content
    assert "image_url" not in str(upstream.bodies[0]["messages"])


def test_module_constants() -> None:
    assert deepseek.ENDPOINT.key_envs == ("DS_API_KEY", "DEEPSEEK_API_KEY")
    assert deepseek.ENDPOINT.base_url_env == "DEEPSEEK_BASE_URL"
