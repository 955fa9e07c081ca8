"""Acceptance 1: every column of the request log is right, scenario by scenario, on every backend.

The real gateway serves each request on a loopback socket (tests/live.py) in front of the strict
fake vendor; its store is the parametrized backend of tests/store/conftest.py. A native Responses
provider (passthrough) runs in process behind the transport seam (the strict fake speaks Chat only).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.testclient import TestClient

from mimo2codex.server import create_app
from mimo2codex.settings import Settings, load_settings
from mimo2codex.store.base import LogQuery, Store
from mimo2codex.store.capture import CapturePolicy
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream, ToolCall
from tests.fakes.transport import FakeReply, ScriptedTransport
from tests.store.conftest import MakeStore

pytestmark = pytest.mark.live

TOKENS = ("first-inbound-token-0001", "second-inbound-token-0002")
UA = "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm-256color (codex-exec; 0.169.0)"
USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 64},
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def gateway_settings(tmp_path: Path, upstream: StrictUpstream, **env: str) -> Settings:
    providers = {
        "providers": [
            {
                "id": "fake",
                "baseUrl": upstream.url,
                "envKey": "FAKE_KEY",
                "defaultModel": "fake-model",
                "models": [{"id": "fake-model"}],
            }
        ]
    }
    (tmp_path / "providers.json").write_text(json.dumps(providers), encoding="utf-8")
    values = {
        "MIMO2CODEX_DATA_DIR": str(tmp_path),
        "FAKE_KEY": upstream.api_key,
        "MIMO2CODEX_DEFAULT_PROVIDER": "fake",
        "MIMO2CODEX_MAX_RETRIES": "0",
        "MIMO2CODEX_AUTH_TOKENS": ",".join(TOKENS),
        **env,
    }
    return load_settings(values)


def policy(settings: Settings, mode: str = "errors-only") -> CapturePolicy:
    secrets = [p.api_key.reveal() for p in settings.providers if p.api_key] + list(TOKENS)
    return CapturePolicy.build(mode, settings.log_body_max, secrets)  # type: ignore[arg-type]


def responses_body(*, stream: bool, model: str = "fake-model", text: str = "Say hi") -> dict[str, Any]:
    return {
        "model": model,
        "stream": stream,
        "instructions": "You are terse.",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}],
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "description": "run",
                "parameters": {"type": "object", "properties": {}},
            },
            {
                "type": "function",
                "name": "apply_patch",
                "description": "patch",
                "parameters": {"type": "object", "properties": {}},
            },
        ],
    }


HEADERS = {"authorization": f"Bearer {TOKENS[1]}", "user-agent": UA}


class Setup:
    def __init__(self, store: Store, live: Any, upstream: StrictUpstream) -> None:
        self.store, self.live, self.upstream = store, live, upstream

    def post(self, path: str, body: dict[str, Any]) -> tuple[httpx.Response, bytes]:
        content = orjson.dumps(body)
        response = httpx.post(
            f"{self.live.url}{path}",
            content=content,
            headers={**HEADERS, "content-type": "application/json"},
            timeout=10,
        )
        return response, content

    def last_row(self, count: int) -> dict[str, Any]:
        self.live.wait_for_records(count)
        assert self.store.flush(5)
        rows = self.store.logs(LogQuery(limit=1)).rows
        assert rows, "no row written"
        detail = self.store.log(rows[0]["id"])
        assert detail is not None
        return detail


@pytest.fixture
def setup_for(make_store: MakeStore, start_upstream: StartUpstream, start_gateway: StartGateway, tmp_path: Path) -> Any:
    def make(script: Any, *, mode: str = "errors-only", **env: str) -> Setup:
        upstream = start_upstream(script)
        settings = gateway_settings(tmp_path, upstream, **env)
        store = make_store(policy=policy(settings, mode))
        live = start_gateway(settings, store=store)
        return Setup(store, live, upstream)

    return make


def common(row: dict[str, Any], *, stream: bool, endpoint: str = "/v1/responses") -> None:
    assert row["provider_id"] == "fake"
    assert row["upstream_model"] == "fake-model"
    assert row["endpoint"] == endpoint
    assert row["stream"] is stream
    assert row["request_id"].startswith("req_")
    assert row["user_agent"] == UA
    assert row["codex_version"] == "0.169.0"
    assert row["client_token"] == "token#2"
    assert row["instance"]
    assert abs(row["ts"] - time.time() * 1000) < 60_000
    assert row["duration_ms"] >= 0


def test_text_answer_not_streamed(setup_for: Any) -> None:
    s = setup_for(
        [Reply.http_error(503, "busy"), Reply.text("Hi!", usage=USAGE, headers={"x-request-id": "up-text-1"})],
        MIMO2CODEX_MAX_RETRIES="1",
    )
    response, sent = s.post("/responses", responses_body(stream=False))
    assert response.status_code == 200
    row = s.last_row(1)
    common(row, stream=False)
    assert (row["status_code"], row["outcome"], row["error_code"], row["error_snippet"]) == (
        200,
        "completed",
        None,
        None,
    )
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (120, 30, 150)
    assert (row["cached_tokens"], row["reasoning_tokens"]) == (64, 12)
    assert (row["upstream_status"], row["upstream_request_id"], row["retries"]) == (200, "up-text-1", 1)
    assert row["finish_reason"] == "stop"
    assert row["tool_call_count"] == 0
    assert row["ttft_ms"] is None
    assert (row["bytes_in"], row["bytes_out"]) == (len(sent), len(response.content))
    assert row["rewritten_from"] is None
    assert row["rewrite_reason"] is None
    assert row["request_body"] is None
    assert row["response_body"] is None


def test_tool_call_stream_full_bodies(setup_for: Any) -> None:
    reply = Reply.tools(ToolCall("shell", {"cmd": "ls"}), ToolCall("apply_patch", {"p": "x"}), usage=USAGE)
    s = setup_for([reply], mode="full")
    response, sent = s.post("/responses", responses_body(stream=True))
    assert response.status_code == 200
    assert "response.completed" in response.text
    row = s.last_row(1)
    common(row, stream=True)
    assert (row["status_code"], row["outcome"], row["error_code"]) == (200, "completed", None)
    assert row["tool_call_count"] == 2
    assert row["finish_reason"] == "tool_calls"
    assert row["ttft_ms"] is not None
    assert 0 <= row["ttft_ms"] <= row["duration_ms"]
    assert (row["upstream_status"], row["upstream_request_id"]) == (200, None)
    assert (row["bytes_in"], row["bytes_out"]) == (len(sent), len(response.content))
    assert json.loads(row["request_body"]) == json.loads(sent)
    assert row["response_body"] == response.text


def test_reasoning_stream(setup_for: Any) -> None:
    s = setup_for([Reply.text("The answer is 4.", reasoning="2 plus 2 is 4", usage=USAGE)])
    response, _ = s.post("/responses", responses_body(stream=True))
    assert "response.reasoning" in response.text
    row = s.last_row(1)
    common(row, stream=True)
    assert (row["outcome"], row["finish_reason"], row["reasoning_tokens"], row["cached_tokens"]) == (
        "completed",
        "stop",
        12,
        64,
    )
    assert row["ttft_ms"] is not None


def test_upstream_429_is_the_real_status_with_its_body(setup_for: Any) -> None:
    limited = Reply.http_error(
        429, "Rate limit reached for requests", headers={"Retry-After": "1", "x-request-id": "up-429"}
    )
    s = setup_for([limited])
    response, sent = s.post("/responses", responses_body(stream=True))
    assert response.status_code == 429
    row = s.last_row(1)
    common(row, stream=True)
    assert (row["status_code"], row["outcome"], row["error_code"]) == (429, "error", "rate_limit_exceeded")
    assert (row["upstream_status"], row["upstream_request_id"], row["retries"]) == (429, "up-429", 0)
    assert "Rate limit reached" in row["error_snippet"]
    assert row["bytes_out"] == len(response.content)
    assert row["bytes_in"] == len(sent)
    assert json.loads(row["response_body"]) == response.json()  # errors-only keeps an error's bodies
    assert json.loads(row["request_body"]) == json.loads(sent)
    stats = s.store.stats(int(time.time() * 1000) - 60_000, int(time.time() * 1000) + 1)
    assert stats["errors_by_code"] == {"rate_limit_exceeded": 1}


def test_stream_cut_midway_records_the_failure_code(setup_for: Any) -> None:
    s = setup_for([Reply.text("a long answer that never ends " * 4, drop_after=3)])
    response, _ = s.post("/responses", responses_body(stream=True))
    assert response.status_code == 200
    failed = [
        json.loads(line[6:])
        for line in response.text.splitlines()
        if line.startswith("data: ") and "response.failed" in line
    ]
    assert failed, response.text
    row = s.last_row(1)
    common(row, stream=True)
    assert (row["status_code"], row["outcome"]) == (200, "failed")
    assert row["error_code"] == failed[0]["response"]["error"]["code"]
    assert row["error_code"] != "internal_error"
    assert row["error_snippet"]
    assert row["response_body"] == response.text


def test_client_disconnect_is_cancelled(setup_for: Any) -> None:
    s = setup_for([Reply.text("slow " * 40, chunk_delay=0.2, chunk_chars=4)])
    with httpx.stream(
        "POST", f"{s.live.url}/responses", json=responses_body(stream=True), headers=HEADERS, timeout=10
    ) as response:
        for line in response.iter_lines():
            if "output_text.delta" in line:
                break
    row = s.last_row(1)
    common(row, stream=True)
    assert (row["status_code"], row["outcome"], row["error_code"]) == (200, "cancelled", None)
    assert row["ttft_ms"] is not None
    assert row["finish_reason"] is None


def test_model_rewrite_is_not_an_error(setup_for: Any) -> None:
    s = setup_for([Reply.text("ok", usage=USAGE)])
    response, _ = s.post("/responses", responses_body(stream=True, model="gpt-5.5"))
    assert response.headers["x-mimo2codex-model-rewrite"] == "gpt-5.5 -> fake-model"
    row = s.last_row(1)
    common(row, stream=True)
    assert (row["client_model"], row["rewritten_from"]) == ("gpt-5.5", "gpt-5.5")
    assert "no provider with a key lists 'gpt-5.5'" in row["rewrite_reason"]
    assert (row["status_code"], row["outcome"], row["error_code"]) == (200, "completed", None)
    stats = s.store.stats(int(time.time() * 1000) - 60_000, int(time.time() * 1000) + 1)
    assert stats["errors"] == 0


def test_chat_completions_stream(setup_for: Any) -> None:
    s = setup_for([Reply.text("hello", usage=USAGE, headers={"x-request-id": "up-chat"})])
    body = {
        "model": "fake-model",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "hi"}],
    }
    response, sent = s.post("/chat/completions", body)
    assert response.text.endswith("data: [DONE]\n\n")
    row = s.last_row(1)
    common(row, stream=True, endpoint="/v1/chat/completions")
    assert (row["outcome"], row["finish_reason"], row["error_code"]) == ("completed", "stop", None)
    assert (row["prompt_tokens"], row["cached_tokens"], row["reasoning_tokens"]) == (120, 64, 12)
    assert (row["upstream_status"], row["upstream_request_id"]) == (200, "up-chat")
    assert row["ttft_ms"] is not None
    assert (row["bytes_in"], row["bytes_out"]) == (len(sent), len(response.content))


def test_chat_completions_cut_stream_is_failed(setup_for: Any) -> None:
    s = setup_for([Reply.text("never finished " * 5, drop_after=2)])
    body = {"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    s.post("/chat/completions", body)
    row = s.last_row(1)
    assert row["outcome"] == "failed"
    assert row["error_code"] is not None


# -- a native Responses provider: the body goes through, observed ------------------------------


def passthrough_settings(tmp_path: Path) -> Settings:
    providers = {
        "providers": [
            {
                "id": "relay",
                "baseUrl": "http://relay.invalid/v1",
                "envKey": "RELAY_KEY",
                "defaultModel": "gpt-5.5",
                "models": [{"id": "gpt-5.5"}],
                "wireApi": "responses",
            }
        ]
    }
    (tmp_path / "providers.json").write_text(json.dumps(providers), encoding="utf-8")
    env = {
        "MIMO2CODEX_DATA_DIR": str(tmp_path),
        "RELAY_KEY": "rk-relay-key-000111222",
        "MIMO2CODEX_DEFAULT_PROVIDER": "relay",
        "MIMO2CODEX_MAX_RETRIES": "0",
    }
    return load_settings(env)


def _events(*events: dict[str, Any]) -> FakeReply:
    reply = FakeReply.sse(list(events), done=False)
    reply.headers["x-request-id"] = "relay-req-7"
    return reply


@pytest.mark.parametrize("stream", [True, False])
def test_passthrough_provider(make_store: MakeStore, tmp_path: Path, stream: bool) -> None:
    settings = passthrough_settings(tmp_path)
    store = make_store(policy=policy(settings, "full"))
    usage = {
        "input_tokens": 50,
        "output_tokens": 9,
        "total_tokens": 59,
        "input_tokens_details": {"cached_tokens": 32},
        "output_tokens_details": {"reasoning_tokens": 4},
    }
    final = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "output": [{"type": "message", "content": []}],
        "usage": usage,
    }
    transport = ScriptedTransport()
    if stream:
        transport.replies.append(
            _events(
                {"type": "response.created", "response": {**final, "status": "in_progress"}},
                {"type": "response.output_text.delta", "delta": "hi"},
                {"type": "response.completed", "response": final},
            )
        )
    else:
        transport.replies.append(FakeReply.json(final, headers={"x-request-id": "relay-req-7"}))
    app = create_app(settings, transport=transport, store=store, record_hooks=[])
    body = responses_body(stream=stream, model="gpt-5.5")
    with TestClient(app, base_url="http://127.0.0.1:8788") as client:  # the gateway's own Host
        response = client.post("/v1/responses", json=body, headers={"user-agent": "codex_cli_rs/0.169.0"})
    assert response.status_code == 200
    assert store.flush(5)
    row = store.log(store.logs(LogQuery(limit=1)).rows[0]["id"])
    assert row is not None
    assert (row["provider_id"], row["upstream_model"], row["stream"]) == ("relay", "gpt-5.5", stream)
    assert (row["outcome"], row["finish_reason"], row["error_code"]) == ("completed", "stop", None)
    assert (row["prompt_tokens"], row["cached_tokens"], row["reasoning_tokens"]) == (50, 32, 4)
    assert (row["upstream_status"], row["upstream_request_id"]) == (200, "relay-req-7")
    assert row["codex_version"] == "0.169.0"
    assert row["client_token"] is None
    assert row["bytes_out"] == len(response.content)
    assert (row["ttft_ms"] is not None) is stream
    assert row["response_body"] == response.text


def test_bodies_off_keeps_no_body_even_for_an_error(setup_for: Any) -> None:
    s = setup_for([Reply.http_error(429, "Rate limit reached", headers={"Retry-After": "1"})], mode="off")
    response, _ = s.post("/responses", responses_body(stream=False))
    assert response.status_code == 429
    row = s.last_row(1)
    assert (row["error_code"], row["request_body"], row["response_body"]) == ("rate_limit_exceeded", None, None)
    assert "Rate limit reached" in row["error_snippet"]


def test_no_request_log_writes_nothing(
    make_store: MakeStore, start_upstream: StartUpstream, start_gateway: StartGateway, tmp_path: Path
) -> None:
    upstream = start_upstream([Reply.text("hi")])
    settings = gateway_settings(tmp_path, upstream, MIMO2CODEX_NO_REQUEST_LOG="1")
    assert settings.request_log is False
    store = make_store(policy=policy(settings, "full"), log_enabled=False)
    live = start_gateway(settings, store=store)
    response = httpx.post(f"{live.url}/responses", json=responses_body(stream=False), headers=HEADERS, timeout=10)
    assert response.status_code == 200
    live.wait_for_records(1)
    assert store.flush(5)
    assert store.logs(LogQuery()).rows == []
    assert store.state().status == "disabled"
    assert live.records[0].request_body is None  # nothing kept on the request path either
    status = httpx.get(live.url.removesuffix("/v1") + "/", headers=HEADERS).json()["store"]
    assert status["status"] == "disabled"
