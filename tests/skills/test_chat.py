"""``mimo2codex chat`` through the live gateway and ``--direct``; web search only when asked."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import pytest

from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.image_services import FakePollinations, image_bytes
from tests.fakes.strict_upstream import Reply, StrictUpstream, VendorRules
from tests.skills.conftest import Cli

pytestmark = pytest.mark.live


def _gateway_for(upstream: StrictUpstream, start_gateway: StartGateway) -> str:
    settings = load_settings(
        {"MIMO_API_KEY": upstream.api_key, "MIMO_BASE_URL": upstream.url, "MIMO2CODEX_MAX_RETRIES": "0"}
    )
    return start_gateway(settings).url


def test_plain_question_uses_the_default_model_and_no_tools(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    upstream = start_upstream([Reply.text("42")], rules=VendorRules.mimo())
    gateway = _gateway_for(upstream, start_gateway)
    result = cli("chat", "--gateway", gateway, "--system", "be brief", "what is six times seven?")
    assert result.code == 0, result.explain()
    assert result.out == "42\n"
    body = upstream.bodies[0]
    assert body["model"] == "mimo-v2.5-pro"
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["messages"][1]["content"] == "what is six times seven?"
    assert "tools" not in body  # web search is never forced
    assert upstream.violations == []


def test_images_go_as_data_urls_to_a_vision_model(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway, tmp_path: Path
) -> None:
    upstream = start_upstream([Reply.text("a cat")], rules=VendorRules.mimo_vision())
    gateway = _gateway_for(upstream, start_gateway)
    local = tmp_path / "cat.webp"
    local.write_bytes(image_bytes("WEBP"))
    with FakePollinations().running() as web:  # any image server: it answers a JPEG
        remote = f"{web.url}/prompt/cat"
        result = cli("chat", "--gateway", gateway, "--json", "--image", str(local), "--image", remote, "what is it?")
    assert result.code == 0, result.explain()
    assert result.json == {
        "ok": True,
        "command": "chat",
        "model": "mimo-v2.5",
        "via": "gateway",
        "web_search": False,
        "images": [str(local), remote],
        "text": "a cat",
    }
    parts = upstream.bodies[0]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "what is it?"}
    first = parts[1]["image_url"]["url"]
    assert first == "data:image/webp;base64," + base64.b64encode(local.read_bytes()).decode()
    assert parts[2]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert upstream.violations == []


def test_web_search_is_opt_in_and_its_refusal_is_explained(
    cli: Cli, start_upstream: StartUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin_off = start_upstream([Reply.text("unused")], rules=VendorRules.mimo())
    monkeypatch.setenv("MIMO_API_KEY", plugin_off.api_key)
    monkeypatch.setenv("MIMO_BASE_URL", plugin_off.url)
    refused = cli("chat", "--direct", "--web-search", "news today?")
    assert refused.code == 1
    assert "webSearchEnabled is false" in refused.err
    assert "web-search plugin is not active for this account" in refused.err  # MiMo's hint, direct too
    assert plugin_off.bodies[0]["tools"] == [{"type": "web_search"}]

    plugin_on = start_upstream([Reply.text("the news")], rules=VendorRules.mimo(web_search_enabled=True))
    monkeypatch.setenv("MIMO_BASE_URL", plugin_on.url)
    monkeypatch.setenv("MIMO_API_KEY", plugin_on.api_key)
    result = cli("chat", "--direct", "--web-search", "--stream", "news today?")
    assert result.code == 0, result.explain()
    assert result.out == "the news\n"
    assert plugin_on.bodies[0]["tools"] == [{"type": "web_search"}]


def test_web_search_on_a_provider_without_it(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DS_API_KEY", "sk-ds")
    result = cli("chat", "--direct", "--model", "ds", "--web-search", "hi")
    assert result.code == 2
    assert "has no web-search tool" in result.err


def test_prompt_from_stdin_and_empty_prompt(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = start_upstream([Reply.text("ok")], rules=VendorRules.mimo())
    gateway = _gateway_for(upstream, start_gateway)
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\n"))
    assert cli("chat", "--gateway", gateway, "-").code == 0
    assert upstream.bodies[0]["messages"][0]["content"] == "from stdin\n"
    empty = cli("chat", "--gateway", gateway, "  ")
    assert empty.code == 2
    assert "the prompt is empty" in empty.err


def test_gateway_from_the_environment(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = start_upstream([Reply.text("via env")], rules=VendorRules.mimo())
    monkeypatch.setenv("MIMO2CODEX_URL", _gateway_for(upstream, start_gateway).removesuffix("/v1"))
    result = cli("chat", "hello")
    assert result.code == 0, result.explain()
    assert result.out == "via env\n"


def test_gateway_auth_token_is_sent(
    cli: Cli, start_upstream: StartUpstream, start_gateway: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = start_upstream([Reply.text("guarded")], rules=VendorRules.mimo())
    settings = load_settings(
        {
            "MIMO_API_KEY": upstream.api_key,
            "MIMO_BASE_URL": upstream.url,
            "MIMO2CODEX_MAX_RETRIES": "0",
            "MIMO2CODEX_AUTH_TOKENS": "team-token",
        }
    )
    gateway = start_gateway(settings).url
    refused = cli("chat", "--gateway", gateway, "hi")
    assert refused.code == 1
    assert "answered HTTP 401" in refused.err
    monkeypatch.setenv("MIMO2CODEX_AUTH_TOKENS", "team-token")
    result = cli("chat", "--gateway", gateway, "hi")
    assert result.code == 0, result.explain()
    assert result.out == "guarded\n"
