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
from collections.abc import AsyncGenerator, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    # Reverse proxies (nginx) buffer responses unless told not to; a buffered SSE stream looks idle.
    "x-accel-buffering": "no",
}


async def client_gone(receive: Receive) -> None:
    """Return once the client has disconnected (the request body is already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class EventStreamResponse(Response):
    def __init__(
        self,
        body: AsyncGenerator[bytes, None],
        *,
        headers: Mapping[str, str] | None = None,
        on_disconnect: Callable[[], None] | None = None,
        farewell: Callable[[], bytes] | None = None,
        watcher: asyncio.Task[None] | None = None,
    ) -> None:
        self.body_iterator = body
        #: a running :func:`client_gone` task to take over (the endpoint watched the client before the
        #: response existed); without one the response starts its own
        self.watcher = watcher
        self.status_code = 200
        self.background = None
        #: the last words when the server cancels the stream (graceful shutdown ran out of time):
        #: e.g. a ``response.failed`` so the client retries instead of waiting for a dead stream
        self.farewell = farewell
        merged = {**SSE_HEADERS, **(headers or {})}
        self.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()]
        self.on_disconnect = on_disconnect
        self.disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        producer = asyncio.current_task()
        assert producer is not None
        over = False

        def gone(watcher: asyncio.Task[None]) -> None:
            # ``over``: the callback can already be scheduled when the response ends; then it is late.
            if over or watcher.cancelled() or watcher.exception() is not None:
                return
            self.disconnected = True
            # Before the cancel, so the producer's cleanup already sees the disconnect.
            if self.on_disconnect is not None:
                self.on_disconnect()
            producer.cancel()

        watcher = self.watcher or asyncio.create_task(client_gone(receive))
        watcher.add_done_callback(gone)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for chunk in self.body_iterator:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not self.disconnected:
                await self._say_farewell(send)
                raise
            # Our own cancellation: the client went away. Swallow it so the server does not log an
            # error for what is a normal event, but keep any outer cancellation (shutdown) intact.
            producer.uncancel()
        except OSError:
            self.disconnected = True
            if self.on_disconnect is not None:
                self.on_disconnect()
        finally:
            over = True
            watcher.remove_done_callback(gone)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(Exception):
                await self.body_iterator.aclose()

    async def _say_farewell(self, send: Send) -> None:
        if self.farewell is None:
            return
        task = asyncio.current_task()
        assert task is not None
        # Let this one last send through the cancellation, then let the cancellation win.
        cancels = task.uncancel()
        try:
            with contextlib.suppress(Exception):
                await self.body_iterator.aclose()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await send({"type": "http.response.body", "body": self.farewell(), "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            for _ in range(cancels):
                task.cancel()
