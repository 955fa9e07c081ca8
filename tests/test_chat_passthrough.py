"""/v1/chat/completions in process: the routed model's quirks applied, keys scrubbed from streamed errors."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from mimo2codex.request_log import RequestRecord
from mimo2codex.server import create_app
from mimo2codex.settings import load_settings
from tests.fakes.transport import FakeReply, ScriptedTransport

#: a key with no recognisable shape: only the verbatim redaction of the provider's own key catches it
KEY = "plainmimokey0123456789abcdefXYZ"


class Harness:
    def __init__(self) -> None:
        self.transport = ScriptedTransport()
        self.records: list[RequestRecord] = []
        settings = load_settings({"MIMO_API_KEY": KEY, "MIMO2CODEX_MAX_RETRIES": "0"})
        app = create_app(settings, transport=self.transport, record_hooks=[self.records.append])
        # the browser guard refuses a foreign Host: the client says it is the loopback gateway
        self.client = TestClient(app, base_url="http://127.0.0.1:8788", raise_server_exceptions=False)


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    with h.client:
        yield h


def test_mimo_quirks_reach_the_upstream(harness: Harness) -> None:
    harness.transport.replies.append(FakeReply.json({"choices": [], "usage": None}))
    body = {
        "model": "mimo-v2.5-pro",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 100,
        "temperature": 0.5,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}, "strict": None}}],
    }
    assert harness.client.post("/v1/chat/completions", json=body).status_code == 200
    sent = harness.transport.requests[-1]["body"]
    assert sent["thinking"] == {"type": "enabled"}
    assert sent["max_completion_tokens"] == 100
    assert "max_tokens" not in sent
    assert "temperature" not in sent
    assert "strict" not in sent["tools"][0]["function"]
    assert sent["parallel_tool_calls"] is True


def test_a_streamed_error_event_loses_a_key_split_across_reads(harness: Harness) -> None:
    first = b'data: {"choices":[{"index":0,"delta":{"content":"par"}}]}\n\n'
    error = b'data: {"error":{"message":"key ' + KEY.encode() + b' was revoked","type":"auth_error"}}\n\n'
    cut = len(first) + error.index(KEY.encode()) + 7
    stream = first + error + b"data: [DONE]\n\n"
    harness.transport.replies.append(
        FakeReply(chunks=[stream[:cut], stream[cut:]], headers={"content-type": "text/event-stream"})
    )
    response = harness.client.post(
        "/v1/chat/completions",
        json={"model": "mimo-v2.5-pro", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 200
    assert KEY not in response.text
    assert response.content.startswith(first)  # other events go through byte for byte
    assert response.content.endswith(b"data: [DONE]\n\n")
    data = [line[6:] for line in response.text.splitlines() if line.startswith("data: {")]
    assert orjson.loads(data[1])["error"]["message"] == "key [REDACTED] was revoked"
