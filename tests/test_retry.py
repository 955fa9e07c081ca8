"""Retry policy: what is retried, how long it waits, and what is never retried."""

from __future__ import annotations

import asyncio

import pytest

from mimo2codex.errors import UpstreamUnavailable
from mimo2codex.providers.base import Provider
from mimo2codex.retry import RetryPolicy, open_with_retries, retry_after_seconds
from mimo2codex.upstream import UpstreamRequest
from tests.fakes.transport import FakeReply, FakeResponse, ScriptedTransport

PROVIDER = Provider(id="p", display_name="P", base_url="http://x/v1", api_key=None, default_model="m")
REQUEST = UpstreamRequest(PROVIDER, "/chat/completions", b"{}", True)


class FlakyTransport(ScriptedTransport):
    """Raises a connection error for the first ``failures`` attempts."""

    def __init__(self, failures: int, replies: list[FakeReply]) -> None:
        super().__init__(replies=replies)
        self.failures = failures
        self.attempts = 0

    async def open(self, request: UpstreamRequest) -> FakeResponse:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise UpstreamUnavailable("connection refused", provider="p")
        return await super().open(request)


def run(transport: ScriptedTransport, policy: RetryPolicy) -> tuple[int, list[float]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go() -> int:
        response = await open_with_retries(transport, REQUEST, policy, sleep=sleep)
        return response.status

    return asyncio.run(go()), sleeps


def test_5xx_and_429_are_retried_with_retry_after_honoured() -> None:
    transport = ScriptedTransport(
        replies=[FakeReply(status=503), FakeReply(status=429, headers={"Retry-After": "3"}), FakeReply(status=200)]
    )
    status, sleeps = run(transport, RetryPolicy(max_retries=2))
    assert status == 200
    assert len(transport.requests) == 3
    assert 0.25 <= sleeps[0] <= 0.5
    assert sleeps[1] == 3.0
    assert all(r.closed for r in transport.responses[:2])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_other_4xx_are_never_retried(status: int) -> None:
    transport = ScriptedTransport(replies=[FakeReply(status=status), FakeReply(status=200)])
    result, sleeps = run(transport, RetryPolicy(max_retries=3))
    assert result == status
    assert len(transport.requests) == 1
    assert sleeps == []


def test_retries_are_bounded_and_the_last_answer_is_returned() -> None:
    transport = ScriptedTransport(replies=[FakeReply(status=502)] * 5)
    result, sleeps = run(transport, RetryPolicy(max_retries=2))
    assert result == 502
    assert len(transport.requests) == 3
    assert len(sleeps) == 2


def test_a_long_retry_after_is_left_to_codex() -> None:
    transport = ScriptedTransport(replies=[FakeReply(status=429, headers={"Retry-After": "60"}), FakeReply(status=200)])
    result, sleeps = run(transport, RetryPolicy(max_retries=2))
    assert result == 429
    assert sleeps == []


def test_connect_errors_are_retried_then_raised() -> None:
    transport = FlakyTransport(failures=1, replies=[FakeReply(status=200)])
    assert run(transport, RetryPolicy(max_retries=1))[0] == 200
    transport = FlakyTransport(failures=5, replies=[])
    with pytest.raises(UpstreamUnavailable):
        run(transport, RetryPolicy(max_retries=2))
    assert transport.attempts == 3


def test_zero_retries_means_one_attempt() -> None:
    transport = ScriptedTransport(replies=[FakeReply(status=500)])
    assert run(transport, RetryPolicy(max_retries=0)) == (500, [])


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [policy.backoff(n, jitter=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.backoff(3, jitter=lambda: 0.0) == 1.0


def test_retry_after_formats() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
