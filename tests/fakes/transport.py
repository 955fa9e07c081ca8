"""ScriptedTransport: an in-process upstream behind the gateway's ``Transport`` seam.

Ring-2 tests (in-process HTTP) hand it to ``create_app(settings, transport=...)``: each upstream
request takes the next :class:`FakeReply` and is recorded, so a test asserts what was sent upstream
without sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from mimo2codex.upstream import UpstreamRequest


@dataclass
class FakeReply:
    status: int = 200
    body: bytes = b""
    #: for streams: pieces delivered one by one (``body`` is used when empty)
    chunks: list[bytes] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before each chunk
    pace: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> FakeReply:
        return cls(
            status=status, body=orjson.dumps(payload), headers={"content-type": "application/json", **(headers or {})}
        )

    @classmethod
    def sse(cls, chunks: list[dict[str, Any]], *, done: bool = True, pace: float = 0.0) -> FakeReply:
        pieces = [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks]
        if done:
            pieces.append(b"data: [DONE]\n\n")
        return cls(chunks=pieces, headers={"content-type": "text/event-stream"}, pace=pace)


class FakeResponse:
    def __init__(self, reply: FakeReply) -> None:
        self.status = reply.status
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in reply.headers.items()}
        self._reply = reply
        self.closed = False

    async def read(self) -> bytes:
        return self._reply.body or b"".join(self._reply.chunks)

    async def chunks(self, tick: float) -> AsyncIterator[bytes | None]:
        for piece in self._reply.chunks or [self._reply.body]:
            if self._reply.pace:
                await asyncio.sleep(self._reply.pace)
            yield piece

    def close(self) -> None:
        self.closed = True


@dataclass
class ScriptedTransport:
    replies: list[FakeReply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    responses: list[FakeResponse] = field(default_factory=list)

    async def open(self, request: UpstreamRequest) -> FakeResponse:
        self.requests.append({"path": request.path, "stream": request.stream, "body": orjson.loads(request.body)})
        if not self.replies:
            raise AssertionError(f"unexpected upstream request to {request.path}")
        response = FakeResponse(self.replies.pop(0))
        self.responses.append(response)
        return response

    async def aclose(self) -> None:
        return None
