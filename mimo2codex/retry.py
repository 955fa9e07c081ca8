"""Retrying an upstream request before anything has reached the client.

Retried: connect errors (refused, reset, connect timeout), 429 and 5xx. Never retried: other 4xx (the
request itself is wrong; repeating it cannot help), a first-byte timeout (the upstream has the request
and may still be working on it: a retry would repeat the whole wait, minutes by default, and the bill),
and never once output has been streamed to Codex (the caller only retries through
:func:`open_with_retries`, which returns before the body is read).

Codex retries too (CONTRACT §1.7–1.8: up to ``request_max_retries`` for 5xx and
``stream_max_retries`` per turn), so attempts multiply; the default of 2 retries keeps the worst
case bounded while absorbing the short blips that would otherwise cost the user a "Reconnecting…".
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time

from mimo2codex.errors import FirstByteTimeout, UpstreamError, UpstreamRejected
from mimo2codex.upstream import Transport, UpstreamRequest, UpstreamResponse

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    #: an upstream asking for a longer wait is answered at once: Codex waits out Retry-After itself
    max_retry_after: float = 20.0

    def backoff(self, attempt: int, jitter: Callable[[], float] = random.random) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return ceiling / 2 + jitter() * ceiling / 2


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "inf", "nan" and "1e999" parse as floats; from an untrusted header they are no delay.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time() if now is None else now))


async def open_with_retries(
    transport: Transport,
    request: UpstreamRequest,
    policy: RetryPolicy,
    *,
    on_attempt: Callable[[int], None] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> UpstreamResponse:
    """Open ``request``, retrying per ``policy``; returns the last response (maybe an error status).

    Connection errors on the last attempt propagate as :class:`UpstreamError`. Cancelling the
    caller cancels the pending sleep, so a client that leaves stops the retries.
    """
    attempt = 0
    while True:
        attempt += 1
        if on_attempt is not None:
            on_attempt(attempt)
        try:
            response = await transport.open(request)
        except (UpstreamRejected, FirstByteTimeout):
            raise
        except UpstreamError:
            if attempt > policy.max_retries:
                raise
            await sleep(policy.backoff(attempt))
            continue
        if response.status not in RETRY_STATUSES or attempt > policy.max_retries:
            return response
        delay = retry_after_seconds(response.headers.get("retry-after"))
        if delay is not None and delay > policy.max_retry_after:
            return response
        response.close()
        await sleep(policy.backoff(attempt) if delay is None else max(delay, 0.05))
