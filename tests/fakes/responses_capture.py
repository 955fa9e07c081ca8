"""A minimal Responses API server that records what a client (the real Codex CLI) sends.

``POST /v1/responses`` is answered with a short SSE stream (``response.created``, one assistant
message, ``response.completed``); every request body is kept in ``.bodies``. For tests that look at
what Codex puts in front of the model (its instructions, the skills list, the input items)::

    with CapturingResponses("done").running() as server:
        codex = CodexCLI(home, work, CodexConfig(base_url=f"{server.url}/v1"))
        codex.run("hi")
    assert "my-skill" in json.dumps(server.bodies[0])
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

from aiohttp import web


def _event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


class CapturingResponses:
    def __init__(self, answer: str = "done") -> None:
        self.answer = answer
        self.bodies: list[dict[str, Any]] = []
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("not running")
        return f"http://127.0.0.1:{self._port}"

    async def _responses(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        number = len(self.bodies)
        message = {
            "type": "message",
            "id": f"msg_{number}",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": self.answer, "annotations": []}],
        }
        response = {"id": f"resp_{number}", "object": "response", "status": "in_progress", "output": []}
        usage = {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 2,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 12,
        }
        stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await stream.prepare(request)
        await stream.write(_event({"type": "response.created", "response": response}))
        await stream.write(_event({"type": "response.output_item.added", "output_index": 0, "item": message}))
        await stream.write(_event({"type": "response.output_item.done", "output_index": 0, "item": message}))
        done = {**response, "status": "completed", "output": [message], "usage": usage}
        await stream.write(_event({"type": "response.completed", "response": done}))
        await stream.write_eof()
        return stream

    async def start(self) -> None:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/v1/responses", self._responses)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    @contextlib.contextmanager
    def running(self) -> Iterator[CapturingResponses]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="capturing-responses", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)
            yield self
        finally:
            if self._runner is not None:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()
