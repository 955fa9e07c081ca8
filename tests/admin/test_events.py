"""``GET events`` on a real socket: a request that finishes shows up in the live feed at once."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from mimo2codex.admin.events import EventHub
from mimo2codex.request_log import RequestRecord
from mimo2codex.settings import load_settings
from tests.admin.conftest import MIMO_KEY, chat_reply
from tests.conftest import StartGateway
from tests.fakes.transport import ScriptedTransport


@pytest.mark.live
def test_a_finished_request_reaches_the_live_feed(start_gateway: StartGateway, tmp_path: Path) -> None:
    transport = ScriptedTransport([chat_reply("hello")])
    settings = load_settings({"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path)})
    gateway = start_gateway(settings, transport=transport)
    root = gateway.url.removesuffix("/v1")
    with httpx.Client(base_url=root, timeout=10) as client, client.stream("GET", "/admin/api/events") as feed:
        assert feed.headers["content-type"].startswith("text/event-stream")
        lines = feed.iter_lines()
        assert next(lines).startswith("retry:")
        with httpx.Client(base_url=root, timeout=10) as other:
            assert other.post("/v1/responses", json={"model": "mimo-v2.5", "input": "hi"}).status_code == 200
        event = data = None
        for line in lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = orjson.loads(line[6:])
                break
    assert event == "request"
    assert data is not None
    assert data["client_model"] == "mimo-v2.5"
    assert data["provider_id"] == "mimo"
    assert data["status_code"] == 200
    assert "request_body" not in data


def test_a_slow_subscriber_loses_events_never_blocks() -> None:
    hub = EventHub(queue_size=2)
    with hub.subscribe() as subscriber:
        for index in range(5):
            hub.publish(RequestRecord(f"req_{index}", "/v1/responses", 0.0, False))
        assert subscriber.queue.qsize() == 2
        assert subscriber.dropped == 3
    assert hub.subscribers == 0
    hub.publish(RequestRecord("req_x", "/v1/responses", 0.0, False))  # nobody listening: nothing happens


@pytest.mark.live
def test_with_several_workers_the_feed_follows_the_shared_log(start_gateway: StartGateway, tmp_path: Path) -> None:
    transport = ScriptedTransport([chat_reply("hello")])
    values = {"MIMO_API_KEY": MIMO_KEY, "MIMO2CODEX_DATA_DIR": str(tmp_path), "MIMO2CODEX_WORKERS": "2"}
    gateway = start_gateway(load_settings(values), transport=transport)
    root = gateway.url.removesuffix("/v1")
    with httpx.Client(base_url=root, timeout=10) as client, client.stream("GET", "/admin/api/events") as feed:
        lines = feed.iter_lines()
        assert next(lines).startswith("retry:")
        with httpx.Client(base_url=root, timeout=10) as other:
            assert other.post("/v1/responses", json={"model": "mimo-v2.5", "input": "hi"}).status_code == 200
        data = next(orjson.loads(line[6:]) for line in lines if line.startswith("data: "))
    assert data["client_model"] == "mimo-v2.5"
    assert data["id"] >= 1  # a row of the shared log
