"""Ring 2: the app in process (Starlette TestClient) with a scripted upstream behind the transport seam."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from mimo2codex.request_log import RequestRecord
from mimo2codex.server import create_app
from mimo2codex.settings import Settings, load_settings
from tests.fakes.transport import FakeReply, ScriptedTransport
from tests.sdk_invariants import check_event_sequence

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "codex-cli-0.169.0"
ENV = {
    "GENERIC_BASE_URL": "http://upstream.invalid/v1",
    "GENERIC_API_KEY": "sk-test-secret-123456",
    "GENERIC_DEFAULT_MODEL": "m1",
    "MIMO2CODEX_MAX_RETRIES": "0",
}


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m1",
        "choices": choices,
        **extra,
    }


USAGE = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16}


class Harness:
    def __init__(self, settings: Settings) -> None:
        self.transport = ScriptedTransport()
        self.records: list[RequestRecord] = []
        self.app = create_app(settings, transport=self.transport, record_hooks=[self.records.append])
        self.client = TestClient(self.app, base_url="http://127.0.0.1:8788", raise_server_exceptions=False)

    def sse(self, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]], dict[str, str]]:
        response = self.client.post("/v1/responses", json=body)
        events = [orjson.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
        return response.status_code, events, dict(response.headers)


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness(load_settings(ENV))
    with h.client:
        yield h


def simple_request(stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {"model": "m1", "stream": stream, "input": "hello", **extra}


def test_non_stream_text(harness: Harness) -> None:
    harness.transport.replies.append(
        FakeReply.json(
            {
                "id": "c1",
                "object": "chat.completion",
                "model": "m1",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
                "usage": USAGE,
            }
        )
    )
    response = harness.client.post("/v1/responses", json=simple_request(stream=False))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "response"
    assert body["status"] == "completed"
    assert body["output"][-1]["content"][0]["text"] == "Hi!"
    assert body["usage"]["total_tokens"] == 16
    sent = harness.transport.requests[0]
    assert sent["path"] == "/chat/completions"
    assert sent["body"]["messages"] == [{"role": "user", "content": "hello"}]
    assert sent["body"]["stream"] is False
    assert harness.records[0].usage is not None
    assert harness.records[0].outcome == "completed"


def test_stream_text_satisfies_the_sdk_accumulator(harness: Harness) -> None:
    harness.transport.replies.append(
        FakeReply.sse(
            [chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo"}, "stop"), chunk(usage=USAGE)]
        )
    )
    status, events, headers = harness.sse(simple_request())
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["x-mimo2codex-provider"] == "generic"
    check_event_sequence(events)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["usage"]["input_tokens"] == 11
    sent = harness.transport.requests[0]["body"]
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert harness.transport.responses[0].closed


def test_real_codex_fixture_translates_and_streams(harness: Harness) -> None:
    body = orjson.loads((FIXTURES / "turn2-after-exec_command.request.json").read_bytes())
    harness.transport.replies.append(FakeReply.sse([chunk({"content": "done"}, "stop"), chunk(usage=USAGE)]))
    status, events, _ = harness.sse(body)
    assert status == 200
    check_event_sequence(events)
    sent = harness.transport.requests[0]["body"]
    roles = [m["role"] for m in sent["messages"]]
    assert roles[:2] == ["system", "user"]  # leading developer messages merge into one system message
    assert roles[-2:] == ["assistant", "tool"]
    assert sent["messages"][-2]["tool_calls"][0]["id"] == "call_abc"
    names = [t["function"]["name"] for t in sent["tools"]]
    assert len(names) == len(set(names))
    assert "multi_agent_v1__spawn_agent" in names


@pytest.mark.parametrize("stream", [True, False])
def test_upstream_429_becomes_http_429_with_retry_after(harness: Harness, stream: bool) -> None:
    harness.transport.replies.append(
        FakeReply.json(
            {"error": {"message": "Rate limit reached", "type": "rate_limit"}}, status=429, headers={"Retry-After": "7"}
        )
    )
    response = harness.client.post("/v1/responses", json=simple_request(stream=stream))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert harness.records[0].status == 429


def test_context_overflow_becomes_context_length_exceeded(harness: Harness) -> None:
    message = "This model's maximum context length is 131072 tokens. However, you requested 200000 tokens."
    harness.transport.replies.append(
        FakeReply.json({"error": {"message": message, "type": "invalid_request_error"}}, status=400)
    )
    response = harness.client.post("/v1/responses", json=simple_request())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_stream_cut_before_finish_fails_with_a_code(harness: Harness) -> None:
    harness.transport.replies.append(FakeReply.sse([chunk({"content": "partial"})], done=False))
    status, events, _ = harness.sse(simple_request())
    assert status == 200
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"]
    assert not any(e["type"] == "error" for e in events)
    check_event_sequence(events)


def test_error_chunk_mid_stream_fails_the_response(harness: Harness) -> None:
    reply = FakeReply.sse([chunk({"content": "a"})], done=False)
    reply.chunks.append(b'data: {"error": {"message": "backend exploded", "type": "server_error"}}\n\n')
    harness.transport.replies.append(reply)
    _, events, _ = harness.sse(simple_request())
    assert events[-1]["type"] == "response.failed"
    assert "backend exploded" in events[-1]["response"]["error"]["message"]


def test_probe_short_circuits_without_upstream(harness: Harness) -> None:
    response = harness.client.post("/v1/responses", json={"model": "m1", "input": []})
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    status, events, _ = harness.sse({"model": "m1", "stream": True})
    assert status == 200
    check_event_sequence(events)
    chat = harness.client.post("/v1/chat/completions", json={"model": "m1", "messages": []})
    assert chat.json()["choices"][0]["message"]["role"] == "assistant"
    assert harness.transport.requests == []


def test_chat_passthrough_rewrites_nothing_but_observes_usage(harness: Harness) -> None:
    completion = {
        "id": "c",
        "object": "chat.completion",
        "model": "m1",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": USAGE,
    }
    harness.transport.replies.append(FakeReply.json(completion))
    response = harness.client.post(
        "/v1/chat/completions", json={"model": "m1", "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.json() == completion
    record = harness.records[-1]
    assert record.tool_calls == ["f"]
    assert record.usage is not None
    assert record.usage["total_tokens"] == 16


def test_chat_passthrough_stream(harness: Harness) -> None:
    harness.transport.replies.append(FakeReply.sse([chunk({"content": "x"}, "stop"), chunk(usage=USAGE)]))
    response = harness.client.post(
        "/v1/chat/completions", json={"model": "m1", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code == 200
    assert response.text.endswith("data: [DONE]\n\n")
    assert harness.records[-1].usage == {"input_tokens": 11, "output_tokens": 5, "total_tokens": 16}


def test_models_health_and_status(harness: Harness) -> None:
    models = harness.client.get("/v1/models").json()
    assert models == {"object": "list", "data": [{"id": "m1", "object": "model", "created": 0, "owned_by": "generic"}]}
    assert harness.client.get("/healthz").json() == {"status": "ok"}
    status = harness.client.get("/").json()
    assert status["providers"][0]["has_key"] is True
    assert "sk-test-secret" not in harness.client.get("/").text


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/nothing", 404, "not_found"),
        ("GET", "/v1/responses", 405, "method_not_allowed"),
        ("DELETE", "/v1/models", 405, "method_not_allowed"),
    ],
)
def test_unknown_routes_and_methods_get_openai_errors(
    harness: Harness, method: str, path: str, status: int, code: str
) -> None:
    response = harness.client.request(method, path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object"), (b"", "empty")],
)
def test_bad_bodies_get_400(harness: Harness, content: bytes, fragment: str) -> None:
    response = harness.client.post("/v1/responses", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_wrong_field_type_names_the_field(harness: Harness) -> None:
    response = harness.client.post("/v1/responses", json={"model": "m1", "input": 42})
    assert response.status_code == 400
    assert "input" in response.json()["error"]["message"]
    response = harness.client.post("/v1/responses", json={"model": 3, "input": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


def test_body_limit_gives_413() -> None:
    h = Harness(load_settings({**ENV, "MIMO2CODEX_MAX_BODY": "1K"}))
    with h.client:
        response = h.client.post("/v1/responses", json={"model": "m1", "input": "x" * 4096})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_upstream_key_never_reaches_the_client(harness: Harness) -> None:
    harness.transport.replies.append(FakeReply(status=401, body=b'{"error": {"message": "bad key"}}'))
    response = harness.client.post("/v1/responses", json=simple_request())
    assert "sk-test-secret-123456" not in response.text


def responses_harness(**env: str) -> Harness:
    return Harness(load_settings({**ENV, "GENERIC_WIRE_API": "responses", "GENERIC_DEFAULT_MODEL": "native-1", **env}))


def test_native_responses_upstream_gets_the_body_with_only_the_model_rewritten() -> None:
    h = responses_harness()
    body = orjson.loads((FIXTURES / "turn2-after-exec_command.request.json").read_bytes())
    body["stream"] = False
    upstream_answer = {"id": "resp_up", "object": "response", "status": "completed", "output": [], "usage": None}
    h.transport.replies.append(FakeReply.json(upstream_answer))
    with h.client:
        response = h.client.post("/v1/responses", json=body)
    assert response.status_code == 200
    assert response.json() == upstream_answer
    sent = h.transport.requests[0]
    assert sent["path"] == "/responses"
    assert sent["body"] == body  # the open catalog forwards the client's model as is
    assert h.records[0].outcome == "completed"


def test_native_responses_stream_is_relayed_byte_for_byte() -> None:
    h = responses_harness()
    pieces = [
        b'event: response.created\ndata: {"type":"response.created","response":{"id":"r1"}}\n\n',
        b'data: {"type":"response.output_text.delta","delta":"h\xc3',  # split mid-event and mid-UTF-8
        b'\xa9"}\n\n',
        b'data: {"type":"response.completed","response":{"id":"r1","usage":{"input_tokens":3,'
        b'"output_tokens":1,"total_tokens":4}}}\n\n',
    ]
    h.transport.replies.append(FakeReply(chunks=pieces, headers={"content-type": "text/event-stream"}))
    with h.client:
        response = h.client.post("/v1/responses", json={"model": "native-1", "stream": True, "input": "hi"})
    assert response.status_code == 200
    assert response.content == b"".join(pieces)
    assert h.transport.requests[0]["body"] == {"model": "native-1", "stream": True, "input": "hi"}
    record = h.records[0]
    assert record.outcome == "completed"
    assert record.usage == {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
