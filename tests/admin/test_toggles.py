"""Runtime toggles, the storage policy and the settings table: applied to the next request, shared
through the store, locked by flags and env vars."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from mimo2codex.server import create_app
from tests.admin.conftest import ORIGIN, Admin, chat_reply


def _thinking_sent(admin: Admin) -> object:
    admin.transport.replies.append(chat_reply())
    assert admin.ask("mimo-v2.5-pro").status_code == 200
    return admin.transport.requests[-1]["body"].get("thinking")


def test_thinking_toggle_applies_to_the_next_request_and_is_stored(admin: Admin) -> None:
    assert _thinking_sent(admin) == {"type": "enabled"}
    response = admin.api("PUT", "toggles/thinking", json={"value": False})
    assert response.status_code == 200
    toggle = response.json()["toggle"]
    assert toggle["value"] is False
    assert toggle["source"] == "admin"
    assert toggle["locked_by"] is None
    assert _thinking_sent(admin) == {"type": "disabled"}
    assert admin.api("GET", "settings").json()["settings"]["thinking"] is False
    back = admin.api("DELETE", "toggles/thinking").json()["toggle"]
    assert back["value"] is True
    assert back["source"] == "default"
    assert _thinking_sent(admin) == {"type": "enabled"}
    assert "thinking" not in admin.api("GET", "settings").json()["settings"]


def test_reasoning_default_provider_and_settings_routes(admin: Admin) -> None:
    assert admin.api("PUT", "settings/expose_reasoning", json={"value": False}).json() == {
        "key": "expose_reasoning",
        "value": False,
    }
    assert admin.gateway.settings.expose_reasoning is False
    assert admin.api("PUT", "toggles/default_provider", json={"value": "ds"}).json()["toggle"]["value"] == "deepseek"
    admin.transport.replies.append(chat_reply())
    assert admin.ask("some-unknown-model").headers["x-mimo2codex-provider"] == "deepseek"
    toggles = {t["name"]: t for t in admin.api("GET", "toggles").json()["toggles"]}
    assert toggles["default_provider"]["choices"] == ["mimo", "deepseek"]
    assert admin.api("DELETE", "settings/default_provider").json() == {"deleted": True}
    assert admin.gateway.router.default.id == "mimo"
    assert admin.api("DELETE", "settings/ui_theme").status_code == 404
    assert admin.api("PUT", "settings/ui_theme", json={"value": "dark"}).json()["value"] == "dark"
    assert admin.api("GET", "settings").json()["settings"]["ui_theme"] == "dark"


def test_toggle_errors(admin: Admin) -> None:
    bad = admin.api("PUT", "toggles/default_provider", json={"value": "nobody"})
    assert bad.status_code == 400
    assert "nobody" in bad.json()["error"]["message"]
    assert admin.api("PUT", "toggles/thinking", json={"value": "yes"}).status_code == 400
    assert admin.api("PUT", "toggles/thinking", json={}).status_code == 400
    assert admin.api("PUT", "toggles/nope", json={"value": True}).status_code == 404
    assert admin.api("PUT", "toggles/vision_model", json={"value": "no-slash"}).status_code == 400
    assert admin.api("PUT", "settings/unknown_thing", json={"value": 1}).status_code == 400
    assert admin.api("PUT", "settings/log_retention_days", json={"value": -1}).status_code == 400
    assert admin.gateway.router.default.id == "mimo"


def test_a_flag_or_env_var_locks_its_toggle(tmp_path: Path) -> None:
    harness = Admin(tmp_path, {"MIMO2CODEX_DISABLE_THINKING": "1"})
    with harness.client:
        toggle = {t["name"]: t for t in harness.api("GET", "toggles").json()["toggles"]}["thinking"]
        assert toggle["locked_by"] == "MIMO2CODEX_DISABLE_THINKING"
        assert toggle["source"] == "env"
        refused = harness.api("PUT", "toggles/thinking", json={"value": True})
        assert refused.status_code == 409
        assert "MIMO2CODEX_DISABLE_THINKING" in refused.json()["error"]["message"]
        assert _thinking_sent(harness) == {"type": "disabled"}


def test_storage_policy_is_applied_to_the_running_store(admin: Admin) -> None:
    policy = admin.api("GET", "storage").json()
    assert policy["policy"]["log_bodies"] == "errors-only"
    changed = admin.api("PUT", "storage", json={"log_bodies": "full", "log_retention_days": 7, "log_max_mb": 100})
    assert changed.status_code == 200, changed.text
    assert changed.json()["policy"] | {"log_body_max": 0} == {
        "log_bodies": "full",
        "log_body_max": 0,
        "log_retention_days": 7,
        "log_max_mb": 100,
    }
    store = admin.gateway.store
    assert (store.policy.mode, store.retention_days, store.max_mb) == ("full", 7, 100)
    admin.transport.replies.append(chat_reply("stored answer"))
    admin.ask("mimo-v2.5-pro", "remember me")
    admin.flush()
    row = admin.api("GET", "logs").json()["logs"][0]
    assert "stored answer" in admin.api("GET", f"logs/{row['id']}").json()["log"]["response_body"]
    assert admin.api("PUT", "storage", json={"log_bodies": "sometimes"}).status_code == 400
    assert admin.api("PUT", "storage", json={"colour": 1}).status_code == 400


def test_a_second_instance_follows_the_shared_settings(admin: Admin) -> None:
    assert admin.api("PUT", "toggles/thinking", json={"value": False}).status_code == 200
    alias = {"alias": "fast", "provider_id": "deepseek", "upstream_id": "deepseek-v4-flash"}
    assert admin.api("POST", "aliases", json=alias).status_code == 201
    # another instance on the same database starts with what the first one stored...
    app = create_app(admin.settings, transport=admin.transport, env=admin.env, record_hooks=[])
    with TestClient(app, base_url=ORIGIN) as client:
        other = app.state.gateway
        assert other.settings.thinking is False
        assert other.router.route("fast").provider.id == "deepseek"
        toggle = {t["name"]: t for t in client.get("/admin/api/toggles").json()["toggles"]}["thinking"]
        assert toggle["source"] == "admin"
        # ...and follows what is changed after it started
        assert admin.api("DELETE", "toggles/thinking").status_code == 200
        assert admin.api("DELETE", "aliases/fast").status_code == 200
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and (other.settings.thinking is False or "fast" in other.router.pinned):
            time.sleep(0.05)
        assert other.settings.thinking is True
        assert other.router.route("fast").provider.id == "mimo"
