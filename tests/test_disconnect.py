"""Acceptance 4: a client that leaves cancels the upstream request at once (within 1 s).

A Codex user's Ctrl-C must not leave the vendor generating -- and billing -- tokens for nobody. The
fake vendor timestamps the moment the gateway dropped its connection (``peer_closed_at``); the client
side is a raw httpx stream closed after a few events. The request log must say "cancelled", and the
gateway's event loop must be back to the tasks it had before the request (nothing leaked).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Exchange, Reply, StrictUpstream
from tests.live import LiveGateway, upstream_settings

pytestmark = pytest.mark.live

#: ~200 chunks 50 ms apart: a 10 s answer, far longer than any test waits.
SLOW_ANSWER = Reply.text("word " * 200, chunk_chars=5, chunk_delay=0.05)
REQUEST = {"model": "fake-model", "stream": True, "input": "write a long essay"}
CANCEL_WITHIN = 1.0


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, object]]:
    for line in lines:
        if line.startswith("data: "):
            yield orjson.loads(line[6:])


def wait_for_cancel(upstream: StrictUpstream, closed_at: float) -> Exchange:
    exchange = upstream.wait_peer_closed(timeout=5)
    assert exchange is not None, "the gateway never closed the upstream request after the client left"
    assert exchange.peer_closed_at is not None
    lag = exchange.peer_closed_at - closed_at
    assert lag < CANCEL_WITHIN, f"the upstream request was cancelled {lag:.2f}s after the client left"
    return exchange


def assert_settled(gateway: LiveGateway, baseline: int) -> None:
    """The cancelled request left a "cancelled" record and no task behind in the gateway's loop."""
    record = gateway.wait_for_record(timeout=2)
    assert record.outcome == "cancelled", record
    assert record.upstream_attempts == 1
    deadline = time.monotonic() + 2
    while (tasks := gateway.task_count()) > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    assert tasks == baseline, f"{tasks - baseline} task(s) still alive in the gateway after the disconnect"


def test_disconnect_mid_stream_cancels_the_upstream(start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    upstream = start_upstream([SLOW_ANSWER])
    gateway = start_gateway(upstream_settings(upstream))
    baseline = gateway.task_count()

    seen: list[str] = []
    with httpx.Client(timeout=5) as client, client.stream("POST", f"{gateway.url}/responses", json=REQUEST) as response:
        assert response.status_code == 200
        for event in sse_events(response.iter_lines()):
            seen.append(str(event["type"]))
            if seen.count("response.output_text.delta") == 3:
                break
    closed_at = time.monotonic()

    assert seen[:2] == ["response.created", "response.in_progress"]
    exchange = wait_for_cancel(upstream, closed_at)
    assert exchange.outcome == "peer_closed"
    assert 3 <= exchange.chunks_sent < 100, "the upstream stream was not cut short"
    assert_settled(gateway, baseline)
    assert upstream.violations == []


def test_disconnect_while_waiting_for_the_first_byte_cancels_the_upstream(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    """A long prefill: the client leaves while the gateway still waits for the upstream's headers.

    With a short status grace the gateway has already committed to 200 and sends keepalives.
    """
    upstream = start_upstream([SLOW_ANSWER.but(delay=10)])
    settings = dataclasses.replace(upstream_settings(upstream, MIMO2CODEX_KEEPALIVE="0.1"), status_grace=0.1)
    gateway = start_gateway(settings)
    baseline = gateway.task_count()

    with httpx.Client(timeout=5) as client, client.stream("POST", f"{gateway.url}/responses", json=REQUEST) as response:
        assert response.status_code == 200
        keepalives = 0
        for line in response.iter_lines():
            keepalives += line.startswith(":")
            if keepalives == 2:
                break
    closed_at = time.monotonic()

    exchange = wait_for_cancel(upstream, closed_at)
    assert exchange.chunks_sent == 0
    assert_settled(gateway, baseline)


def test_disconnect_before_the_gateway_answered_cancels_the_upstream(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    """The client leaves within the status grace, before it has seen even the response headers."""
    upstream = start_upstream([SLOW_ANSWER.but(delay=10)])
    settings = upstream_settings(upstream)
    assert settings.status_grace >= 2  # the default: long enough for the client to leave inside it
    gateway = start_gateway(settings)
    baseline = gateway.task_count()

    with httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{gateway.url}/responses", json=REQUEST)
    closed_at = time.monotonic()

    wait_for_cancel(upstream, closed_at)
    assert_settled(gateway, baseline)
