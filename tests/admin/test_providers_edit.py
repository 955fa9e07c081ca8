"""providers.json edited through the admin: validated as at startup, backed up, written atomically,
applied without a restart; refused when invalid (the working file stays); hand edits picked up."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mimo2codex.admin.runtime import PinnedRouter
from tests.admin.conftest import ACME, Admin, chat_reply

ACME_JSON = {"providers": [ACME]}


def _routes_to(admin: Admin, model: str) -> str:
    admin.transport.replies.append(chat_reply())
    response = admin.ask(model)
    assert response.status_code == 200, response.text
    return response.headers["x-mimo2codex-provider"]


def test_put_writes_backs_up_and_routes_at_once(admin: Admin) -> None:
    assert _routes_to(admin, "acme-large") == "mimo"  # unknown model: the default provider
    router_before = admin.gateway.router
    response = admin.api("PUT", "generic-providers", json=ACME_JSON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["applied"] is True and body["restartRequired"] is False
    assert body["backup"] is None  # there was no file yet
    assert "acme" in body["providers"]
    assert json.loads(admin.providers_file.read_text()) == ACME_JSON
    assert _routes_to(admin, "acme-large") == "acme"  # the next request, no restart
    assert admin.gateway.router is not router_before  # swapped, the old one untouched
    assert router_before.route("acme-large").provider.id == "mimo"
    assert [p["id"] for p in admin.api("GET", "providers").json()["providers"]][-1] == "acme"

    second = {"providers": [{**ACME, "displayName": "Acme Cloud"}]}
    again = admin.api("PUT", "generic-providers", json=second).json()
    backup = Path(again["backup"])
    assert json.loads(backup.read_text()) == ACME_JSON  # the previous file, timestamped
    assert backup.parent.name == "providers-backups"
    listed = admin.api("GET", "generic-providers").json()
    assert listed["exists"] is True and listed["specs"] == second["providers"]
    assert json.loads(listed["raw"]) == second
    assert listed["reload"]["ok"] is True and listed["reload"]["cause"] == "admin"
    assert not list(admin.data_dir.glob(".providers.json.*"))  # no temporary file left behind


def test_invalid_file_is_refused_with_the_field_and_changes_nothing(admin: Admin) -> None:
    assert admin.api("PUT", "generic-providers", json=ACME_JSON).status_code == 200
    installed = admin.providers_file.read_bytes()
    bad_cases = [
        ({"providers": [{**ACME, "baseUrl": "ftp://nope"}]}, "baseUrl"),
        ({"providers": [{**ACME, "models": [{"id": "a", "contextWindow": -5}]}]}, "models[0].contextWindow"),
        ({"providers": [{key: value for key, value in ACME.items() if key != "envKey"}]}, "envKey"),
        ({"providers": [ACME, ACME]}, "id"),
        ({"providers": "acme"}, "providers"),
    ]
    for document, field in bad_cases:
        response = admin.api("PUT", "generic-providers", json=document)
        assert response.status_code == 400, document
        message = response.json()["error"]["message"]
        assert field in message, (field, message)
        if field != "providers":
            assert str(admin.providers_file) in message  # the real file is named, never the temp file
    raw = admin.api("PUT", "generic-providers", json={"raw": '{"providers": [\n  {"id": "x",}\n]}'})
    assert raw.status_code == 400
    assert "line 2" in raw.json()["error"]["message"]
    duplicate = admin.api("PUT", "generic-providers", json={"raw": '{"providers": [], "providers": []}'})
    assert "providers" in duplicate.json()["error"]["message"]
    assert admin.providers_file.read_bytes() == installed
    assert _routes_to(admin, "acme-large") == "acme"
    assert admin.api("GET", "health").json()["reload"]["ok"] is False
    assert not list(admin.data_dir.glob(".providers.json.*"))


def test_bad_bodies(admin: Admin) -> None:
    assert admin.api("PUT", "generic-providers", json={"nothing": 1}).json()["error"]["code"] == "invalid_body"
    assert admin.api("PUT", "generic-providers", json={"raw": 5}).json()["error"]["param"] == "raw"
    assert admin.api("PUT", "generic-providers", content=b"[1]", headers={"Content-Type": "application/json"}).status_code == 400
    assert admin.api("PUT", "generic-providers", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400


def test_a_hand_edit_is_picked_up_and_a_broken_one_ignored(admin: Admin) -> None:
    admin.providers_file.write_text(json.dumps(ACME_JSON))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "acme" not in [p.id for p in admin.gateway.router.providers]:
        time.sleep(0.05)
    assert _routes_to(admin, "acme-large") == "acme"
    assert admin.api("GET", "health").json()["reload"]["cause"] == "file"

    admin.providers_file.write_text('{"providers": [{"id": "acme"')  # a save half-way through typing
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and admin.api("GET", "health").json()["reload"]["ok"]:
        time.sleep(0.05)
    reload = admin.api("GET", "health").json()["reload"]
    assert reload["ok"] is False and "providers.json" in reload["error"]
    assert _routes_to(admin, "acme-large") == "acme"  # the working configuration stays
    assert isinstance(admin.gateway.router, PinnedRouter)
