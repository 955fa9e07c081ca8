"""MiMo: catalog, key-prefix host inference, thinking mode, web search opt-in, vision rules."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pytest

from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers import REGISTRY, ProviderSource, mimo
from mimo2codex.providers.endpoint import Endpoint, resolve_endpoint
from mimo2codex.secret import Secret
from mimo2codex.settings import Settings, load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, VendorRules
from tests.responses_client import EXEC_COMMAND, ask, image, text, tool_turn_history, user_message

TP = mimo.TOKEN_PLAN_BASE_URL
PAYG = mimo.PAYG_BASE_URL


def settings(**env: str) -> Settings:
    return load_settings({"MIMO_API_KEY": "sk-mimo", **env})


def test_catalog() -> None:
    models = {m.id: m for m in mimo.MODELS}
    assert list(models)[:6] == [
        "mimo-v2.5-pro",
        "mimo-v2.5-pro[1m]",
        "mimo-v2.5",
        "mimo-v2.5[1m]",
        "mimo-v2-omni",
        "mimo-v2-flash",
    ]
    assert {m.id for m in mimo.MODELS if m.supports_images} == {"mimo-v2.5", "mimo-v2.5[1m]", "mimo-v2-omni"}
    assert models["mimo-v2.5-pro[1m]"].context_window == 1_000_000
    assert models["mimo-v2.5-pro"].context_window == 131_072
    assert all(m.context_window and m.max_output_tokens for m in mimo.MODELS)
    provider = settings().default
    assert (provider.id, provider.shortcut, provider.default_model, provider.env_key) == (
        "mimo",
        "mimo",
        "mimo-v2.5-pro",
        "MIMO_API_KEY",
    )


@pytest.mark.parametrize(
    ("env", "url", "source"),
    [
        ({"MIMO_API_KEY": "tp-abc"}, TP, "key prefix 'tp-'"),
        ({"MIMO_API_KEY": "sk-abc"}, PAYG, "key prefix 'sk-'"),
        ({"MIMO_API_KEY": "abc"}, PAYG, "default"),
        ({"MIMO_API_KEY": "tp-abc", "MIMO_BASE_URL": "https://proxy.example/v1/"}, "https://proxy.example/v1", "MIMO_BASE_URL"),
        ({"MIMO_API_KEY": "tp-abc", "MIMO_BASE_URL": "  "}, TP, "key prefix 'tp-'"),  # blank = unset
    ],
)  # fmt: skip
def test_base_url_precedence(env: dict[str, str], url: str, source: str) -> None:
    provider = load_settings(env).default
    assert (provider.base_url, provider.base_url_source) == (url, source)
    assert load_settings(env).warnings == ()


def test_flags_beat_the_environment_for_the_default_provider_only() -> None:
    env = {"MIMO_API_KEY": "sk-env", "MIMO_BASE_URL": "https://env.example/v1", "DS_API_KEY": "sk-ds"}
    flags = {"api_key": Secret("tp-flag"), "base_url": "https://flag.example/v1"}
    result = load_settings(env, flags)
    provider = result.default
    assert (provider.api_key.reveal(), provider.key_source) == ("tp-flag", "--api-key")
    assert (provider.base_url, provider.base_url_source) == ("https://flag.example/v1", "--base-url")
    deepseek = next(p for p in result.providers if p.id == "deepseek")
    assert deepseek.api_key.reveal() == "sk-ds"
    assert deepseek.base_url == "https://api.deepseek.com/v1"
    # --api-key alone: the host follows the flag's key prefix
    assert load_settings({"MIMO_API_KEY": "sk-env"}, {"api_key": Secret("tp-flag")}).default.base_url == TP


@pytest.mark.parametrize(
    ("key", "url", "prefix", "other", "expected_host"),
    [("tp-abc", PAYG, "tp-", "sk-", TP), ("sk-abc", TP, "sk-", "tp-", PAYG)],
)
def test_prefix_and_host_mismatch_warns(key: str, url: str, prefix: str, other: str, expected_host: str) -> None:
    result = load_settings({"MIMO_API_KEY": key, "MIMO_BASE_URL": url})
    assert result.warnings == (
        f"MiMo: the API key from MIMO_API_KEY starts with '{prefix}', whose host is {expected_host}, but "
        f"MIMO_BASE_URL points to {url} (the host for '{other}' keys): the vendor will answer 401. Remove "
        "MIMO_BASE_URL to let mimo2codex choose the host from the key.",
    )
    assert result.default.base_url == url  # the user's choice stands; the warning explains the 401


def test_thinking_profile() -> None:
    provider = settings().default
    pro = provider.profile("mimo-v2.5-pro")
    assert pro.extra_body == {"thinking": {"type": "enabled"}}
    assert pro.reasoning_replay is ReasoningReplay.REQUIRED
    assert pro.max_tokens_field == "max_completion_tokens"
    assert pro.force_parallel_tool_calls
    assert "temperature" in pro.drop_fields
    assert not pro.supports_images
    assert pro.web_search_tool is None
    flash = provider.profile("mimo-v2-flash")  # thinks only when asked: no field at all
    assert flash.extra_body == {}
    assert flash.reasoning_replay is ReasoningReplay.KEEP
    off = settings(MIMO2CODEX_DISABLE_THINKING="1").default.profile("mimo-v2.5-pro")
    assert off.extra_body == {"thinking": {"type": "disabled"}}
    assert off.reasoning_replay is ReasoningReplay.KEEP
    assert "temperature" not in off.drop_fields
    assert provider.profile("mimo-v2.5").supports_images


def test_web_search_is_opt_in_and_never_for_token_plan_keys() -> None:
    assert settings().default.profile("mimo-v2.5-pro").web_search_tool is None
    on = settings(MIMO2CODEX_WEB_SEARCH="1")
    assert on.default.profile("mimo-v2.5-pro").web_search_tool == {"type": "web_search"}
    assert on.default.profile("mimo-v2-flash").web_search_tool is None  # that model has no web search
    assert on.warnings == ()
    token_plan = load_settings({"MIMO_API_KEY": "tp-abc", "MIMO2CODEX_WEB_SEARCH": "1"})
    assert token_plan.default.profile("mimo-v2.5-pro").web_search_tool is None
    assert token_plan.warnings == (
        "MiMo: web search is not available with token-plan (tp-) keys, so --web-search is ignored for MiMo",
    )


def test_web_search_plugin_error_hint() -> None:
    provider = settings().default
    hint = provider.error_hint("HTTP 400: webSearchEnabled is false")
    assert hint is not None
    assert mimo.PLUGIN_URL in hint
    assert "--web-search" in hint
    assert provider.error_hint("some other 400") is None


def test_resolve_endpoint_without_any_key() -> None:
    resolved = resolve_endpoint(mimo.ENDPOINT, {}, label="MiMo")
    assert resolved.api_key is None
    assert resolved.base_url == PAYG
    assert resolved.key_source == ""


# -- live: fake hosts that answer like MiMo's two hosts --------------------------------------------


def registry_with_hosts(token_plan_url: str, payg_url: str) -> Mapping[str, ProviderSource]:
    endpoint = Endpoint(
        key_envs=("MIMO_API_KEY",),
        base_url_env="MIMO_BASE_URL",
        default_base_url=payg_url,
        key_hosts=(("tp-", token_plan_url), ("sk-", payg_url)),
    )
    return {**REGISTRY, "mimo": mimo.source(endpoint)}


def test_key_prefix_picks_the_host_that_accepts_the_key(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    token_plan = start_upstream([Reply.text("from token plan")], rules=VendorRules.mimo(), api_key="tp-fake-key")
    payg = start_upstream([Reply.text("from payg")], rules=VendorRules.mimo(), api_key="sk-fake-key")
    registry = registry_with_hosts(token_plan.url, payg.url)
    for key, host, text_ in (("tp-fake-key", token_plan, "from token plan"), ("sk-fake-key", payg, "from payg")):
        live = start_gateway(load_settings({"MIMO_API_KEY": key, "MIMO2CODEX_MAX_RETRIES": "0"}, registry=registry))
        response = ask(live.url, "mimo-v2.5-pro")
        assert response.status_code == 200, response.text
        assert response.json()["output"][-1]["content"][0]["text"] == text_
        assert len(host.chat_requests) == 1
        body = host.bodies[0]
        assert body["thinking"] == {"type": "enabled"}
        assert "max_tokens" not in body
    assert token_plan.violations == payg.violations == []


def test_mismatched_host_warns_at_startup_and_the_401_names_the_key(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    token_plan = start_upstream([], rules=VendorRules.mimo(), api_key="tp-fake-key")
    payg = start_upstream([], rules=VendorRules.mimo(), api_key="sk-fake-key")
    registry = registry_with_hosts(token_plan.url, payg.url)
    env = {"MIMO_API_KEY": "tp-fake-key", "MIMO_BASE_URL": payg.url, "MIMO2CODEX_MAX_RETRIES": "0"}
    result = load_settings(env, registry=registry)
    assert len(result.warnings) == 1
    assert "the vendor will answer 401" in result.warnings[0]
    live = start_gateway(result)
    response = ask(live.url, "mimo-v2.5-pro")
    assert response.status_code == 400  # fatal in Codex, not retried
    assert "refused the API key" in response.json()["error"]["message"]
    assert [x.status for x in payg.chat_requests] == [401]
    assert token_plan.requests == []


def test_thinking_turns_replay_reasoning_and_backfill(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream([Reply.text("done"), Reply.text("done")], rules=VendorRules.mimo())
    live = start_gateway(settings(MIMO_BASE_URL=upstream.url, MIMO_API_KEY=upstream.api_key))
    for reasoning in ("I will list the files.", None):
        response = ask(live.url, "mimo-v2.5-pro", *tool_turn_history(reasoning), tools=[EXEC_COMMAND])
        assert response.status_code == 200, response.text
    first, second = (b["messages"][1] for b in upstream.bodies)
    assert first["reasoning_content"] == "I will list the files."
    assert second["reasoning_content"]  # a placeholder: MiMo rejects a tool turn without one
    assert all(b["parallel_tool_calls"] is True for b in upstream.bodies)
    assert upstream.violations == []


def test_vision_rules(
    start_upstream: StartUpstream, start_gateway: StartGateway, caplog: pytest.LogCaptureFixture
) -> None:
    text_only = start_upstream([Reply.text("no eyes")], rules=VendorRules.mimo())
    vision = start_upstream([Reply.text("a pixel")], rules=VendorRules.mimo_vision())
    for upstream, model in ((text_only, "mimo-v2.5-pro"), (vision, "mimo-v2.5")):
        # The bridge off: this is about what reaches each model (tests/vision covers the reading).
        env = {"MIMO_BASE_URL": upstream.url, "MIMO_API_KEY": upstream.api_key, "MIMO2CODEX_VISION_MODEL": "off"}
        live = start_gateway(settings(**env))
        with caplog.at_level(logging.INFO, logger="mimo2codex"):
            response = ask(live.url, model, user_message(text("what is this?"), image()))
        assert response.status_code == 200, response.text
    assert text_only.violations == vision.violations == []
    (placeholder_request,) = text_only.bodies
    assert "not shown: the vision bridge is off (--vision-model off)" in str(placeholder_request["messages"])
    assert "image_url" not in str(placeholder_request["messages"])
    content = vision.bodies[0]["messages"][-1]["content"]
    assert {part["type"] for part in content} == {"text", "image_url"}


def test_web_search_plugin_off_fails_once_with_a_400(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream([], rules=VendorRules.mimo(web_search_enabled=False))
    env = {"MIMO_BASE_URL": upstream.url, "MIMO_API_KEY": upstream.api_key, "MIMO2CODEX_WEB_SEARCH": "1"}
    live = start_gateway(settings(**env, MIMO2CODEX_MAX_RETRIES="2"))
    response = ask(live.url, "mimo-v2.5-pro", tools=[{"type": "web_search"}])
    assert response.status_code == 400
    assert "webSearchEnabled is false" in response.json()["error"]["message"]
    assert len(upstream.chat_requests) == 1  # a 400 is never retried
    assert upstream.bodies[0]["tools"] == [{"type": "web_search"}]
