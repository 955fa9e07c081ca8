"""``health``, ``providers``, ``setup-snippets``, the OpenAPI document, and the events feed's limit."""

from __future__ import annotations

from mimo2codex.admin.events import EventHub
from mimo2codex.snippets import render_snippets
from tests.admin.conftest import Admin


def test_health_and_providers(admin: Admin) -> None:
    health = admin.api("GET", "health").json()
    assert health["ok"] is True
    assert health["dataDir"] == str(admin.data_dir)
    assert health["store"]["backend"] == "sqlite"
    assert health["default_provider"] == "mimo"
    providers = {p["id"]: p for p in admin.api("GET", "providers").json()["providers"]}
    assert providers["mimo"]["default"] is True
    assert providers["deepseek"]["api_key_present"] is True
    assert providers["deepseek"]["api_key_env"] == ["DS_API_KEY", "DEEPSEEK_API_KEY"]
    assert providers["deepseek"]["key_source"] == "DS_API_KEY"


def test_setup_snippets_come_from_the_cli_renderer(admin: Admin) -> None:
    default = admin.api("GET", "setup-snippets").json()
    expected = render_snippets(admin.gateway.settings)
    assert default["bundle"]["configToml"] == expected.config_toml
    assert default["bundle"]["printConfig"] == expected.print_config()
    assert default["defaultProviderId"] == "mimo"
    ds = admin.api("GET", "setup-snippets", params={"provider": "ds"}).json()["bundle"]
    assert ds["target"]["providerKey"] == "mimo2codex"
    assert ds["configTomlEnvKey"] == render_snippets(admin.gateway.settings, "ds").config_toml_env_key
    unknown = admin.api("GET", "setup-snippets", params={"provider": "nobody"})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_provider"
    assert "deepseek" in unknown.json()["error"]["message"]  # the known ones are listed


def test_openapi_document_and_unknown_routes(admin: Admin) -> None:
    doc = admin.api("GET", "openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/admin/api/dashboard" in doc["paths"]
    missing = admin.api("GET", "nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = admin.api("POST", "health", json={})
    assert wrong.status_code == 405
    assert admin.api("GET", "mappings", params={"range": "forever"}).status_code == 400


def test_the_events_feed_has_a_subscriber_limit() -> None:
    hub = EventHub(max_subscribers=1)
    assert not hub.full()
    with hub.subscribe():
        assert hub.full()
    assert not hub.full()
