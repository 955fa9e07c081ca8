"""Auto-compaction end to end: a session outgrows a small declared window and still completes.

The strict fake refuses any request over the window with DeepSeek's "maximum context length" 400
(counted as three characters a token, stricter than real tokenizers), so a request the gateway failed
to shrink shows up as a violation.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mimo2codex.protocol.compaction import SUMMARY_INSTRUCTIONS
from mimo2codex.settings import Settings, load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream, VendorRules
from tests.live import LiveGateway

pytestmark = pytest.mark.live

WINDOW = 3_000
SUMMARY = "SUMMARY: the user sent long notes numbered 0 to n and got short acknowledgements."


def is_summary_request(body: dict[str, Any]) -> bool:
    return body["messages"][0]["content"] == SUMMARY_INSTRUCTIONS


def script(body: dict[str, Any], number: int) -> Reply:
    if is_summary_request(body):
        return Reply.text(SUMMARY)
    return Reply.text(f"noted ({number})")


def settings(tmp_path: Path, upstream: StrictUpstream, **env: str) -> Settings:
    providers = {
        "providers": [
            {
                "id": "small",
                "baseUrl": upstream.url,
                "envKey": "SMALL_API_KEY",
                "defaultModel": "tiny",
                "models": [{"id": "tiny", "contextWindow": WINDOW}],
            }
        ]
    }
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(providers))
    values = {
        "MIMO2CODEX_PROVIDERS_FILE": str(path),
        "SMALL_API_KEY": upstream.api_key,
        "MIMO2CODEX_DEFAULT_PROVIDER": "small",
        "MIMO2CODEX_MAX_RETRIES": "0",
        **env,
    }
    return load_settings(values)


def note(n: int) -> dict[str, Any]:
    text = f"note {n}: " + "lorem ipsum dolor sit amet " * 45
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def answer(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def turn(gateway: LiveGateway, history: list[dict[str, Any]]) -> tuple[str, str]:
    """One streamed Codex-like turn; returns (reasoning text, answer text) and extends ``history``."""
    body = {"model": "tiny", "instructions": "You are Codex.", "input": history, "stream": True, "store": False}
    response = httpx.post(f"{gateway.url}/responses", json=body, timeout=30)
    assert response.status_code == 200
    events = [orjson.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1]["type"] == "response.completed", events[-1]
    reasoning = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    history.append(answer(text))
    return reasoning, text


@pytest.fixture
def upstream(start_upstream: StartUpstream) -> StrictUpstream:
    return start_upstream(script, rules=VendorRules(context_limit_chars=3 * WINDOW, context_limit_tokens=WINDOW))


def test_a_session_past_the_window_completes_and_reuses_its_summary(
    tmp_path: Path, upstream: StrictUpstream, start_gateway: StartGateway
) -> None:
    gateway = start_gateway(settings(tmp_path, upstream, MIMO2CODEX_AUTO_COMPACT="1"))
    history: list[dict[str, Any]] = []
    compacted_at = None
    for n in range(12):
        history.append(note(n))
        reasoning, _ = turn(gateway, history)
        summaries = [b for b in upstream.bodies if is_summary_request(b)]
        if summaries and compacted_at is None:
            compacted_at = n
            assert "[mimo2codex] Context compacted" in reasoning
        elif compacted_at is not None:
            # The next turn: the same cut, the cached summary; the summariser is not called again.
            assert len(summaries) == 1
            assert "summary reused" in reasoning
            break
    assert compacted_at is not None, "the session never outgrew the window"
    assert upstream.violations == []  # never a request over the window
    records = gateway.wait_for_records(compacted_at + 2)
    compacted = [r.notes["compacted"] for r in records if "compacted" in r.notes]
    assert [c["cached_summary"] for c in compacted] == [False, True]
    # Much later the kept turns outgrow the window again: the new summary builds on the first one.
    for n in range(compacted_at + 2, compacted_at + 14):
        history.append(note(n))
        turn(gateway, history)
        if len([b for b in upstream.bodies if is_summary_request(b)]) == 2:
            break
    second = [b for b in upstream.bodies if is_summary_request(b)][1]
    assert second["messages"][1]["content"].startswith(f"[summary of the conversation before]\n{SUMMARY}")
    assert "note 0:" not in second["messages"][1]["content"]
    assert upstream.violations == []
    assert all(c["estimated_tokens_after"] <= c["budget"] < c["estimated_tokens_before"] for c in compacted)
    last = upstream.bodies[-1]
    assert SUMMARY in last["messages"][0]["content"]
    assert last["messages"][1]["role"] == "user"


def test_without_the_option_the_vendor_refuses_the_long_session(
    tmp_path: Path, upstream: StrictUpstream, start_gateway: StartGateway
) -> None:
    gateway = start_gateway(settings(tmp_path, upstream))
    history = [note(n) for n in range(12)]
    body = {"model": "tiny", "instructions": "You are Codex.", "input": history, "stream": False}
    response = httpx.post(f"{gateway.url}/responses", json=body, timeout=30)
    assert response.status_code == 400
    assert [v.rule for v in upstream.violations] == ["context_length"]
    assert not any(is_summary_request(b) for b in upstream.bodies)


def test_a_non_streamed_request_is_compacted_and_says_so(
    tmp_path: Path, upstream: StrictUpstream, start_gateway: StartGateway
) -> None:
    gateway = start_gateway(settings(tmp_path, upstream, MIMO2CODEX_AUTO_COMPACT="1"))
    body = {"model": "tiny", "instructions": "You are Codex.", "input": [note(n) for n in range(12)], "stream": False}
    response = httpx.post(f"{gateway.url}/responses", json=body, timeout=30)
    assert response.status_code == 200
    reasoning = [item for item in response.json()["output"] if item["type"] == "reasoning"]
    assert "Context compacted" in reasoning[0]["summary"][0]["text"]
    assert upstream.violations == []
    assert sum(is_summary_request(b) for b in upstream.bodies) == 1


def test_a_failed_summary_sends_the_request_unchanged(
    tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    def failing(body: dict[str, Any], number: int) -> Reply:
        if is_summary_request(body):
            return Reply.http_error(503, "summariser overloaded", type="server_error")
        return Reply.text("unreachable")

    upstream = start_upstream(failing, rules=VendorRules(context_limit_chars=3 * WINDOW, context_limit_tokens=WINDOW))
    gateway = start_gateway(settings(tmp_path, upstream, MIMO2CODEX_AUTO_COMPACT="1"))
    body = {"model": "tiny", "instructions": "You are Codex.", "input": [note(n) for n in range(12)], "stream": False}
    response = httpx.post(f"{gateway.url}/responses", json=body, timeout=30)
    # The vendor's own "too long" answer reaches the client as Codex's context_length_exceeded.
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"
    assert [v.rule for v in upstream.violations] == ["context_length"]
    (record,) = gateway.wait_for_records(1)
    assert "summariser overloaded" in record.notes["compacted"]["failed"]


# -- a slow summary: committed to 200 + SSE, kept alive, then the compacted request ----------------

SUMMARY_DELAY = 1.2
TICK = 0.15


def timed_stream(gateway: LiveGateway, history: list[dict[str, Any]]) -> tuple[int, list[tuple[float, str]]]:
    """A streamed request read line by line: (status, [(seconds since the request, line)])."""
    body = {"model": "tiny", "instructions": "You are Codex.", "input": history, "stream": True, "store": False}
    lines: list[tuple[float, str]] = []
    started = time.monotonic()
    with httpx.Client(timeout=30) as client, client.stream("POST", f"{gateway.url}/responses", json=body) as reply:
        lines.append((time.monotonic() - started, f"HTTP {reply.status_code}"))
        for line in reply.iter_lines():
            if line:
                lines.append((time.monotonic() - started, line))
        return reply.status_code, lines


def sse_events(lines: list[tuple[float, str]]) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for _, line in lines if line.startswith("data: ")]


def slow_settings(tmp_path: Path, upstream: StrictUpstream) -> Settings:
    # a grace shorter than the summary, as the default 2 s is shorter than a real summary of a long session
    values = settings(tmp_path, upstream, MIMO2CODEX_AUTO_COMPACT="1", MIMO2CODEX_KEEPALIVE=str(TICK))
    return dataclasses.replace(values, status_grace=0.1)


def test_a_slow_summary_commits_to_the_stream_and_sends_keepalives_meanwhile(
    tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    def slow(body: dict[str, Any], number: int) -> Reply:
        if is_summary_request(body):
            return Reply.text(SUMMARY, delay=SUMMARY_DELAY)
        return Reply.text("noted")

    upstream = start_upstream(slow, rules=VendorRules(context_limit_chars=3 * WINDOW, context_limit_tokens=WINDOW))
    gateway = start_gateway(slow_settings(tmp_path, upstream))
    status, lines = timed_stream(gateway, [note(n) for n in range(12)])
    assert status == 200
    assert lines[0][0] < SUMMARY_DELAY / 2  # the headers did not wait for the summary
    waiting = [at for at, line in lines if line.startswith(":") and at < SUMMARY_DELAY]
    assert len(waiting) >= 4, lines  # keepalive comments while the summary was written
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(lines)]
    assert max(gaps) < SUMMARY_DELAY / 2, lines  # never silent for long
    events = sse_events(lines)
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "response.completed", events[-1]
    reasoning = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    assert "[mimo2codex] Context compacted" in reasoning
    assert upstream.violations == []
    assert [is_summary_request(b) for b in upstream.bodies] == [True, False]  # then the compacted request
    (record,) = gateway.wait_for_records(1)
    assert record.notes["compacted"]["summarised_messages"] > 0


def test_a_slow_summary_that_fails_ends_in_response_failed_with_the_vendors_code(
    tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    def failing(body: dict[str, Any], number: int) -> Reply:
        if is_summary_request(body):
            return Reply.http_error(503, "summariser overloaded", type="server_error", delay=SUMMARY_DELAY / 2)
        return Reply.text("unreachable")

    upstream = start_upstream(failing, rules=VendorRules(context_limit_chars=3 * WINDOW, context_limit_tokens=WINDOW))
    gateway = start_gateway(slow_settings(tmp_path, upstream))
    status, lines = timed_stream(gateway, [note(n) for n in range(12)])
    assert status == 200  # committed while the summary was being written
    assert any(line.startswith(":") for _, line in lines)
    events = sse_events(lines)
    assert events[-1]["type"] == "response.failed"
    # the request went out unchanged, and the vendor's "too long" is Codex's context_length_exceeded
    assert events[-1]["response"]["error"]["code"] == "context_length_exceeded"
    assert [v.rule for v in upstream.violations] == ["context_length"]
    (record,) = gateway.wait_for_records(1)
    assert "summariser overloaded" in record.notes["compacted"]["failed"]


def test_a_quick_summary_failure_within_the_grace_is_still_a_real_http_status(
    tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    def failing(body: dict[str, Any], number: int) -> Reply:
        if is_summary_request(body):
            return Reply.http_error(503, "summariser overloaded", type="server_error")
        return Reply.text("unreachable")

    upstream = start_upstream(failing, rules=VendorRules(context_limit_chars=3 * WINDOW, context_limit_tokens=WINDOW))
    gateway = start_gateway(settings(tmp_path, upstream, MIMO2CODEX_AUTO_COMPACT="1"))  # the 2 s grace
    status, lines = timed_stream(gateway, [note(n) for n in range(12)])
    assert status == 400
    assert orjson.loads(lines[1][1])["error"]["code"] == "context_length_exceeded"
