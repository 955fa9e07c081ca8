"""Graceful shutdown: in-flight streams may finish within the grace period; the rest end in response.failed."""

from __future__ import annotations

import threading
import time

import httpx
import orjson

from mimo2codex.responses_api import SHUTDOWN_CODE
from tests.fakes.strict_upstream import Reply, StrictUpstream
from tests.live import LiveGateway, upstream_settings
from tests.sdk_invariants import check_event_sequence


def _stream_in_thread(url: str, events: list[dict[str, object]], first_event: threading.Event) -> threading.Thread:
    def run() -> None:
        body = {"model": "fake-model", "stream": True, "input": "count slowly"}
        with httpx.stream("POST", f"{url}/responses", json=body, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(orjson.loads(line[6:]))
                    if len(events) >= 3:
                        first_event.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _shut_down_during_stream(reply: Reply, grace: float) -> tuple[list[dict[str, object]], float]:
    with StrictUpstream([reply]).running() as upstream:
        gateway = LiveGateway(upstream_settings(upstream), graceful_shutdown=grace)
        gateway.start()
        events: list[dict[str, object]] = []
        started = threading.Event()
        thread = _stream_in_thread(gateway.url, events, started)
        assert started.wait(10), "the stream never started"
        began = time.monotonic()
        gateway.stop()  # what SIGTERM does: should_exit, then uvicorn's graceful shutdown
        elapsed = time.monotonic() - began
        thread.join(10)
        assert not thread.is_alive()
    return events, elapsed


def test_a_stream_that_outlives_the_grace_period_ends_in_response_failed() -> None:
    events, elapsed = _shut_down_during_stream(Reply.text("word " * 200, chunk_delay=0.05, chunk_chars=5), grace=0.5)
    assert events[-1]["type"] == "response.failed"
    response = events[-1]["response"]
    assert isinstance(response, dict)
    assert response["error"]["code"] == SHUTDOWN_CODE
    check_event_sequence(events)
    assert elapsed < 5


def test_a_stream_that_ends_within_the_grace_period_completes() -> None:
    events, _ = _shut_down_during_stream(
        Reply.text("one two three four five six", chunk_delay=0.05, chunk_chars=4), grace=5
    )
    assert events[-1]["type"] == "response.completed"
    check_event_sequence(events)
