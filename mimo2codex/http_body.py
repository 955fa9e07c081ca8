"""Reading JSON request bodies (bounded) and writing JSON responses, with orjson.

A body over the limit is refused with a 413 the client can actually read: an HTTP client sends its
whole body before it reads the answer, and a server that closes the connection with unread bytes in
its receive buffer makes the kernel send a reset, which throws the 413 away (urllib and any client
sending ``Connection: close`` saw "connection reset by peer"). :class:`RefusalResponse` therefore
sends the 413 at once, then reads and discards the rest of the body, within a byte and time budget,
before it ends the response and the connection. The browser guard (``admin/security.py``) refuses
its 401/403/415 before reading a byte of the body, and answers with the same response.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mimo2codex.errors import GatewayError, InvalidRequest, PayloadTooLarge

#: how long a refused upload may go on being drained; past it the connection is closed regardless
DRAIN_SECONDS = 30.0


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object body; 413 past ``limit`` bytes, 400 for anything but a JSON object."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        drain = unread_budget(request.headers.get("content-length"), request.headers.get("expect"), 2 * limit)
        raise PayloadTooLarge(f"request body of {int(declared)} bytes exceeds the limit of {limit} bytes", drain=drain)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            # A body without a length (chunked): read on at most another limit's worth.
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes", drain=limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    request.scope["mimo2codex.raw_body"] = raw  # a reference for the request log (store/observe.py)
    if not raw.strip():
        raise InvalidRequest("request body is empty; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, got {type(body).__name__}")
    return body


def unread_budget(content_length: str | None, expect: str | None, most: int) -> int:
    """How much of a body refused before a byte of it was read may be drained (see :class:`RefusalResponse`).

    Only a body the client is sending anyway (with ``Expect: 100-continue`` it waits for our word) and of
    at most ``most`` bytes: a client announcing gigabytes is cut off rather than read for half a minute.
    A body without a length (chunked) may send up to ``most``.
    """
    if (expect or "").strip().lower() == "100-continue":
        return 0
    if content_length is None:
        return most
    if not content_length.strip().isdigit():
        return 0
    declared = int(content_length)
    return declared if declared <= most else 0


def json_response(content: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content), status_code=status, headers=dict(headers or {}), media_type="application/json"
    )


class RefusalResponse(Response):
    """An error answered before its request's body was read: sent first, then the body drained, then closed.

    The 413 of :class:`PayloadTooLarge` (its ``drain``) and the browser guard's refusals (``drain``
    given) use it. The response says ``Connection: close``: the connection ends once the drain does,
    whether the body ended or the budget (``drain`` bytes, ``seconds``) ran out first.
    """

    def __init__(
        self,
        exc: GatewayError,
        *,
        drain: int | None = None,
        seconds: float = DRAIN_SECONDS,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(orjson.dumps(exc.to_body()), status_code=exc.status_code, media_type="application/json")
        for name, value in [*exc.headers().items(), *headers]:
            self.headers[name] = value
        self.headers["connection"] = "close"
        if drain is None:
            drain = exc.drain if isinstance(exc, PayloadTooLarge) else 0
        self.drain = drain
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        # The whole answer goes out before the drain (a client that reads while it sends stops
        # early); only the end of the response, which lets the server close, waits for it.
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        if self.drain > 0:
            await _discard_body(receive, self.drain, self.seconds)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _discard_body(receive: Receive, budget: int, seconds: float) -> None:
    """Read the request body to its end and drop it; stop early past ``budget`` bytes or ``seconds``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while budget > 0:
                message = await receive()
                if message["type"] != "http.request":  # the client left
                    return
                budget -= len(message.get("body", b""))
                if not message.get("more_body", False):
                    return
