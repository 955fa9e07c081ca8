"""The first providers.json the admin writes keeps the provider of the GENERIC_* variables.

With a providers file present the loader ignores GENERIC_*, so without the carry-over a user who set
the gateway up with those variables loses that provider the moment they add their first one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.admin.conftest import ACME, ACME_KEY, Admin, chat_reply

GENERIC_KEY = "gen-secret-credential-77"
GENERIC_ENV = {
    "GENERIC_BASE_URL": "http://127.0.0.1:9/v1",
    "GENERIC_API_KEY": GENERIC_KEY,
    "GENERIC_DEFAULT_MODEL": "house-model",
    "GENERIC_WIRE_API": "chat",
    "GENERIC_DISPLAY_NAME": "In-house gateway",
    "GENERIC_SHORTCUT": "house",
}
CARRIED = {
    "id": "generic",
    "displayName": "In-house gateway",
    "shortcut": "house",
    "baseUrl": "http://127.0.0.1:9/v1",
    "envKey": "GENERIC_API_KEY",
    "defaultModel": "house-model",
    "wireApi": "chat",
}


def _provider(admin: Admin, provider_id: str) -> dict[str, Any]:
    listed = admin.api("GET", "providers").json()["providers"]
    found = [p for p in listed if p["id"] == provider_id]
    assert found, [p["id"] for p in listed]
    return {key: value for key, value in found[0].items() if key != "source"}


def _ask(admin: Admin, model: str) -> tuple[str, Any]:
    admin.transport.replies.append(chat_reply())
    response = admin.ask(model)
    assert response.status_code == 200, response.text
    return response.headers["x-mimo2codex-provider"], admin.transport.requests[-1]["body"]


def test_first_save_carries_the_generic_env_provider_and_routing_stays(tmp_path: Path) -> None:
    # no MiMo key: the GENERIC_* provider is the only keyed one, hence the default
    admin = Admin(tmp_path, {**GENERIC_ENV, "MIMO_API_KEY": "", "DS_API_KEY": ""})
    with admin.client:
        before = _provider(admin, "generic")
        assert before["default"] is True
        assert _ask(admin, "whatever-model")[0] == "generic"

        saved = admin.api("PUT", "generic-providers", json={"providers": [ACME]})
        assert saved.status_code == 200, saved.text
        body = saved.json()
        assert body["carried"] == [{"id": "generic", "from": "GENERIC_* environment variables", "keptDefault": True}]
        assert "'generic'" in body["message"]
        assert "after a restart too" in body["message"]  # the toggle is stored: nothing for the user to set
        assert "MIMO2CODEX_DEFAULT_PROVIDER" not in body["message"]
        assert admin.gateway.store.settings()["default_provider"] == "generic"  # other instances follow
        assert not [w for w in body["warnings"] if "GENERIC_BASE_URL" in w]  # "declare it in the file": done
        text = admin.providers_file.read_text()
        assert GENERIC_KEY not in text  # the variable is named, never the key itself
        assert json.loads(text)["providers"] == [CARRIED, ACME]

        assert _provider(admin, "generic") == before  # same URL, key variable, model, wire API, default
        assert _ask(admin, "whatever-model")[0] == "generic"  # still the default
        route = admin.gateway.router.route("whatever-model")  # same upstream, same key
        assert route.provider.base_url == "http://127.0.0.1:9/v1"
        assert route.provider.api_key.reveal() == GENERIC_KEY
        assert _ask(admin, "acme-large")[0] == "acme"

        # the next save (the file now exists) carries nothing and still loads
        again = admin.api("PUT", "generic-providers", json=json.loads(text))
        assert again.status_code == 200, again.text
        assert again.json()["carried"] == []
        assert _ask(admin, "whatever-model")[0] == "generic"


def test_raw_first_save_is_carried_too_and_an_own_generic_entry_wins(tmp_path: Path) -> None:
    admin = Admin(tmp_path, GENERIC_ENV)
    with admin.client:
        raw = json.dumps({"providers": [ACME]})
        body = admin.api("PUT", "generic-providers", json={"raw": raw}).json()
        assert body["carried"] == [{"id": "generic", "from": "GENERIC_* environment variables", "keptDefault": False}]
        assert "GENERIC_API_KEY" in body["message"]
        assert _provider(admin, "mimo")["default"] is True
        assert [p["id"] for p in json.loads(admin.providers_file.read_text())["providers"]] == ["generic", "acme"]

    other = tmp_path / "other"
    other.mkdir()
    admin = Admin(other, GENERIC_ENV)
    with admin.client:
        own = {**CARRIED, "displayName": "Mine", "defaultModel": "my-model"}
        body = admin.api("PUT", "generic-providers", json={"providers": [own]}).json()
        assert body["carried"] == []
        assert json.loads(admin.providers_file.read_text())["providers"] == [own]


def test_nothing_is_carried_without_generic_env(admin: Admin) -> None:
    body = admin.api("PUT", "generic-providers", json={"providers": [ACME]}).json()
    assert body["carried"] == []
    assert json.loads(admin.providers_file.read_text()) == {"providers": [ACME]}
    assert ACME_KEY not in admin.providers_file.read_text()
