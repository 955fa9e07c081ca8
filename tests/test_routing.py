"""Acceptance 1: the routing rules, pure and with live fake upstreams receiving the traffic."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from mimo2codex.errors import NotFound
from mimo2codex.providers import deepseek
from mimo2codex.providers.base import ModelInfo, Provider
from mimo2codex.routing import Router
from mimo2codex.secret import Secret
from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, VendorRules
from tests.responses_client import ask

KEY = Secret("key")


def provider(provider_id: str, *models: str, key: bool = True, **fields: Any) -> Provider:
    catalog = tuple(ModelInfo(m.split("=")[0], aliases=tuple(m.split("=")[1:])) for m in models)
    return Provider(
        provider_id,
        provider_id,
        f"https://{provider_id}.example/v1",
        KEY if key else None,
        catalog[0].id if catalog else fields.pop("default_model", ""),
        models=catalog,
        **fields,
    )


MIMO = provider("mimo", "mimo-v2.5-pro", "mimo-v2.5", builtin=True)
DS = provider("deepseek", "deepseek-v4-pro", "deepseek-v4-flash", builtin=True)
QWEN = provider("qwen", "qwen3-coder-plus=qwen-coder", "mimo-v2.5")
OLLAMA = provider("ollama", default_model="llama3")


def route(providers: tuple[Provider, ...], default: Provider, model: str) -> tuple[str, str, str | None]:
    result = Router.build(providers, default).route(model)
    return result.provider.id, result.upstream_model, result.reason


def test_a_catalog_match_goes_to_its_provider() -> None:
    assert route((MIMO, DS), MIMO, "deepseek-v4-flash") == ("deepseek", "deepseek-v4-flash", None)
    assert route((MIMO, DS), MIMO, "mimo-v2.5") == ("mimo", "mimo-v2.5", None)


def test_an_alias_becomes_the_catalog_id_without_a_rewrite_warning() -> None:
    result = Router.build((MIMO, QWEN), MIMO).route("qwen-coder")
    assert (result.provider.id, result.upstream_model, result.rewritten) == ("qwen", "qwen3-coder-plus", False)


def test_generic_providers_claim_a_model_before_the_builtins() -> None:
    assert route((MIMO, DS, QWEN), DS, "mimo-v2.5") == ("qwen", "mimo-v2.5", None)


def test_a_match_whose_provider_has_no_key_falls_back_to_the_default() -> None:
    keyless = provider("deepseek", "deepseek-v4-pro", key=False, builtin=True, endpoint=deepseek.ENDPOINT)
    assert route((MIMO, keyless), MIMO, "deepseek-v4-pro") == (
        "mimo",
        "mimo-v2.5-pro",
        "'deepseek-v4-pro' belongs to provider 'deepseek', which has no API key (set DS_API_KEY); "
        "using mimo/mimo-v2.5-pro",
    )


def test_no_match_falls_back_to_the_default_model() -> None:
    assert route((MIMO, DS), DS, "gpt-5.5") == (
        "deepseek",
        "deepseek-v4-pro",
        "no provider with a key lists 'gpt-5.5'; using deepseek/deepseek-v4-pro",
    )


def test_the_default_keeps_a_model_its_catalog_lists() -> None:
    assert route((MIMO,), MIMO, "mimo-v2.5") == ("mimo", "mimo-v2.5", None)


def test_open_catalogs_never_claim_but_forward_anything_as_the_default() -> None:
    assert route((MIMO, OLLAMA), MIMO, "llama3") == (
        "mimo",
        "mimo-v2.5-pro",
        "no provider with a key lists 'llama3'; using mimo/mimo-v2.5-pro",
    )
    assert route((MIMO, OLLAMA), OLLAMA, "qwen2.5-coder:7b") == ("ollama", "qwen2.5-coder:7b", None)
    assert route((MIMO, OLLAMA), OLLAMA, "mimo-v2.5") == ("mimo", "mimo-v2.5", None)  # a keyed catalog wins


def test_force_default_model_rewrites_everything_on_an_open_catalog() -> None:
    forced = provider("minimax", default_model="MiniMax-M2", force_default_model=True)
    assert route((forced,), forced, "gpt-5.5") == (
        "minimax",
        "MiniMax-M2",
        "provider 'minimax' forces its default model (forceDefaultModel); using minimax/MiniMax-M2",
    )


def test_no_model_uses_the_default_model_silently() -> None:
    assert route((MIMO,), MIMO, "") == ("mimo", "mimo-v2.5-pro", None)
    nameless = provider("open")
    with pytest.raises(NotFound):
        Router.build((nameless,), nameless).route("")


def test_keyless_providers_are_not_routable_but_known() -> None:
    keyless = provider("deepseek", "deepseek-v4-pro", key=False, builtin=True)
    router = Router.build((MIMO, keyless), MIMO)
    assert [p.id for p in router.providers] == ["mimo"]
    assert [p.id for p in router.keyless] == ["deepseek"]


# -- live: three fakes behind one gateway --------------------------------------------------------


def test_traffic_reaches_the_right_upstream(
    tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway, caplog: pytest.LogCaptureFixture
) -> None:
    answer = lambda name: lambda body, n: Reply.text(f"{name}:{body['model']}")  # noqa: E731
    mimo = start_upstream(answer("mimo"), rules=VendorRules.mimo())
    ds = start_upstream(answer("ds"), rules=VendorRules.deepseek_v4())
    qwen = start_upstream(answer("qwen"))
    (tmp_path / "providers.json").write_text(
        json.dumps(
            {
                "providers": [
                    {
                        "id": "qwen",
                        "baseUrl": qwen.url,
                        "envKey": "QWEN_API_KEY",
                        "defaultModel": "qwen3-coder-plus",
                        "models": [{"id": "qwen3-coder-plus", "aliases": ["qwen-coder"]}],
                    },
                    {"id": "kimi", "baseUrl": "http://127.0.0.1:9/v1", "envKey": "KIMI_API_KEY",
                     "defaultModel": "kimi-k2", "models": [{"id": "kimi-k2"}]},
                ]
            }
        )
    )  # fmt: skip
    env = {
        "MIMO2CODEX_DATA_DIR": str(tmp_path),
        "MIMO_API_KEY": mimo.api_key,
        "MIMO_BASE_URL": mimo.url,
        "DS_API_KEY": ds.api_key,
        "DEEPSEEK_BASE_URL": ds.url,
        "QWEN_API_KEY": qwen.api_key,
        "MIMO2CODEX_MAX_RETRIES": "0",
    }
    live = start_gateway(load_settings(env))
    cases = [
        ("deepseek-v4-flash", "ds:deepseek-v4-flash", "deepseek", None),
        ("qwen-coder", "qwen:qwen3-coder-plus", "qwen", None),
        ("mimo-v2.5", "mimo:mimo-v2.5", "mimo", None),
        ("gpt-5.5", "mimo:mimo-v2.5-pro", "mimo", "gpt-5.5 -> mimo-v2.5-pro"),
        ("gpt-5.5", "mimo:mimo-v2.5-pro", "mimo", "gpt-5.5 -> mimo-v2.5-pro"),
        ("kimi-k2", "mimo:mimo-v2.5-pro", "mimo", "kimi-k2 -> mimo-v2.5-pro"),  # kimi has no key
    ]
    with caplog.at_level(logging.WARNING, logger="mimo2codex"):
        for model, expected, provider_id, rewrite in cases:
            response = ask(live.url, model)
            assert response.status_code == 200, response.text
            assert response.json()["output"][-1]["content"][0]["text"] == expected
            assert response.headers["x-mimo2codex-provider"] == provider_id
            assert response.headers.get("x-mimo2codex-model-rewrite") == rewrite
    assert (len(mimo.chat_requests), len(ds.chat_requests), len(qwen.chat_requests)) == (4, 1, 1)
    assert mimo.violations == ds.violations == qwen.violations == []
    rewrites = [r.getMessage() for r in caplog.records if "gpt-5.5" in r.getMessage() or "kimi-k2" in r.getMessage()]
    assert len(rewrites) == 2  # once per (from, to) pair, never silent
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.getMessage() in rewrites)


def test_open_catalog_default_and_generic_claims_live(
    tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    answer = lambda name: lambda body, n: Reply.text(f"{name}:{body['model']}")  # noqa: E731
    ds = start_upstream(answer("ds"), rules=VendorRules.deepseek_v4())
    proxy = start_upstream(answer("proxy"))  # an in-house proxy serving a built-in's model id
    local = start_upstream(answer("local"))  # an open catalog (Ollama-like), the default
    providers = [
        {"id": "proxy", "baseUrl": proxy.url, "envKey": "PROXY_KEY", "defaultModel": "mimo-v2.5-pro",
         "models": [{"id": "mimo-v2.5-pro"}]},
        {"id": "local", "baseUrl": local.url, "envKey": "LOCAL_KEY", "defaultModel": "llama3"},
    ]  # fmt: skip
    (tmp_path / "providers.json").write_text(json.dumps({"providers": providers}))
    env = {
        "MIMO2CODEX_DATA_DIR": str(tmp_path),
        "MIMO_API_KEY": "sk-unused",  # MiMo has a key, but the proxy claims its model id first
        "DS_API_KEY": ds.api_key,
        "DEEPSEEK_BASE_URL": ds.url,
        "PROXY_KEY": proxy.api_key,
        "LOCAL_KEY": local.api_key,
        "MIMO2CODEX_DEFAULT_PROVIDER": "local",
        "MIMO2CODEX_MAX_RETRIES": "0",
    }
    live = start_gateway(load_settings(env))
    for model, expected in [
        ("qwen2.5-coder:7b", "local:qwen2.5-coder:7b"),  # forwarded unchanged by the open default
        ("gpt-5.5", "local:gpt-5.5"),
        ("mimo-v2.5-pro", "proxy:mimo-v2.5-pro"),  # generics before built-ins
        ("deepseek-v4-pro", "ds:deepseek-v4-pro"),
    ]:
        response = ask(live.url, model)
        assert response.status_code == 200, response.text
        assert response.json()["output"][-1]["content"][0]["text"] == expected
        assert "x-mimo2codex-model-rewrite" not in response.headers
    assert (len(local.chat_requests), len(proxy.chat_requests), len(ds.chat_requests)) == (2, 1, 1)
    assert local.violations == proxy.violations == ds.violations == []
