"""``GET /admin/api/events``: a server-sent-events feed of requests as they finish.

The gateway's record hook (:meth:`EventHub.publish`) runs on the request path, so it only puts a small
summary into each subscriber's bounded queue; a subscriber that cannot keep up loses events (counted and
reported in the next event as ``dropped``), it never slows a request. Bodies never enter the feed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from mimo2codex.request_log import RequestRecord

#: events a slow subscriber may lag behind before it loses some
QUEUE_SIZE = 256
#: at most this many live feeds at once (each is an open connection and a queue)
MAX_SUBSCRIBERS = 32


def summary(record: RequestRecord) -> dict[str, Any]:
    """What the live feed shows of one request: the log row's list columns, no bodies."""
    usage = record.usage or {}
    details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    return {
        "ts": int(record.started_at * 1000),
        "request_id": record.request_id,
        "provider_id": record.provider,
        "client_model": record.client_model,
        "upstream_model": record.upstream_model,
        "endpoint": record.endpoint,
        "status_code": record.status,
        "outcome": record.outcome,
        "stream": record.stream,
        "duration_ms": round(record.duration_ms),
        "ttft_ms": None if record.first_event_ms is None else round(record.first_event_ms),
        "prompt_tokens": usage.get("input_tokens"),
        "completion_tokens": usage.get("output_tokens"),
        "total_tokens": usage.get("total_tokens"),
        "cached_tokens": details.get("cached_tokens") if isinstance(details, dict) else None,
        "reasoning_tokens": output_details.get("reasoning_tokens") if isinstance(output_details, dict) else None,
        "error_code": record.error_code,
        "tool_call_count": len(record.tool_calls),
    }


@dataclass(slots=True)
class _Subscriber:
    queue: asyncio.Queue[dict[str, Any]]
    dropped: int = 0


class EventHub:
    def __init__(self, queue_size: int = QUEUE_SIZE, max_subscribers: int = MAX_SUBSCRIBERS) -> None:
        self.queue_size = queue_size
        self.max_subscribers = max_subscribers
        self._subscribers: list[_Subscriber] = []

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, record: RequestRecord) -> None:
        """The record hook: never blocks, never raises."""
        if not self._subscribers:
            return
        event = summary(record)
        for subscriber in self._subscribers:
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                subscriber.dropped += 1

    def full(self) -> bool:
        return len(self._subscribers) >= self.max_subscribers

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        subscriber = _Subscriber(asyncio.Queue(self.queue_size))
        self._subscribers.append(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers.remove(subscriber)

    async def stream(self, keepalive: float) -> AsyncIterator[bytes]:
        """The SSE bytes of one subscriber: ``event: request`` per request, comments while idle."""
        with self.subscribe() as subscriber:
            yield b"retry: 3000\n: connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), keepalive)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if subscriber.dropped:
                    event = {**event, "dropped": subscriber.dropped}
                    subscriber.dropped = 0
                yield b"event: request\ndata: " + orjson.dumps(event) + b"\n\n"
