"""providers.json edited through the admin: validated as at startup, backed up, written atomically,
applied without a restart; refused when invalid (the working file stays); hand edits picked up."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mimo2codex.admin.runtime import PinnedRouter
from mimo2codex.settings import load_settings
from tests.admin.conftest import ACME, ACME_KEY, MIMO_KEY, Admin, chat_reply
from tests.conftest import StartGateway
from tests.fakes.transport import FakeReply, ScriptedTransport

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
    assert body["applied"] is True
    assert body["restartRequired"] is False
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
    assert listed["exists"] is True
    assert listed["specs"] == second["providers"]
    assert json.loads(listed["raw"]) == second
    assert listed["reload"]["ok"] is True
    assert listed["reload"]["cause"] == "admin"
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
    assert (
        admin.api("PUT", "generic-providers", content=b"[1]", headers={"Content-Type": "application/json"}).status_code
        == 400
    )
    assert (
        admin.api("PUT", "generic-providers", content=b"{", headers={"Content-Type": "application/json"}).status_code
        == 400
    )


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
    assert reload["ok"] is False
    assert "providers.json" in reload["error"]
    assert _routes_to(admin, "acme-large") == "acme"  # the working configuration stays
    assert isinstance(admin.gateway.router, PinnedRouter)


@pytest.mark.live
def test_a_stream_in_flight_finishes_on_the_registry_it_started_with(
    start_gateway: StartGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "MIMO_API_KEY": MIMO_KEY,
        "ACME_API_KEY": ACME_KEY,
        "MIMO2CODEX_DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)  # a live reload reads the process environment, as in production
    words = [
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}],
        }
        for i in range(8)
    ]
    slow = FakeReply.sse(
        [
            *words,
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "model": "m",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            },
        ],
        pace=0.1,
    )
    transport = ScriptedTransport([slow, chat_reply("from acme")])
    gateway = start_gateway(load_settings(), transport=transport)
    root = gateway.url.removesuffix("/v1")
    result: dict[str, Any] = {}

    def stream() -> None:
        body = {"model": "acme-large", "input": "hi", "stream": True}
        with httpx.Client(timeout=20) as client:
            response = client.post(f"{root}/v1/responses", json=body)
            result.update(
                status=response.status_code, provider=response.headers["x-mimo2codex-provider"], text=response.text
            )

    worker = threading.Thread(target=stream)
    worker.start()
    deadline = time.monotonic() + 5
    while not transport.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    with httpx.Client(base_url=root, timeout=20) as client:
        assert client.put("/admin/api/generic-providers", json=ACME_JSON).status_code == 200  # mid-stream
        worker.join(10)
        assert result["status"] == 200
        assert result["provider"] == "mimo"  # routed before the change...
        assert "w7" in result["text"]
        assert "response.completed" in result["text"]  # ...and finished there
        after = client.post("/v1/responses", json={"model": "acme-large", "input": "hi"})
        assert after.headers["x-mimo2codex-provider"] == "acme"
