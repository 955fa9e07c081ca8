"""EventStreamResponse: an SSE response whose producer is cancelled the moment the client leaves.

Starlette's ``StreamingResponse`` only notices a disconnect when it next writes (or, for ASGI < 2.4,
through a task group); a gateway must instead stop the upstream request at once, so that a Codex
user's Ctrl-C does not leave a vendor generating (and billing) tokens for nobody. Here a watcher task
waits on ``receive()`` and cancels the producer on ``http.disconnect``; the producer's ``finally``
blocks close the upstream connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.types import Receive, Scope, Send

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    # Reverse proxies (nginx) buffer responses unless told not to; a buffered SSE stream looks idle.
    "x-accel-buffering": "no",
}


class EventStreamResponse:
    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self.body = body
        merged = {**SSE_HEADERS, **(headers or {})}
        self.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()]
        self.on_disconnect = on_disconnect
        self.disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        producer = asyncio.current_task()
        assert producer is not None

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.disconnected = True
                    producer.cancel()
                    return

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in self.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self.disconnected:
                raise
            # Our own cancellation: the client went away. Swallow it so the server does not log an
            # error for what is a normal event, but keep any outer cancellation (shutdown) intact.
            producer.uncancel()
            if self.on_disconnect is not None:
                self.on_disconnect()
        except OSError:
            self.disconnected = True
            if self.on_disconnect is not None:
                self.on_disconnect()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(Exception):
                await self.body.aclose()  # type: ignore[attr-defined]
