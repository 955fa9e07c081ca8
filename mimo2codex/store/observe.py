"""What the endpoints tell the request log, in a few cheap calls on the request path.

Everything here copies references or small strings onto the :class:`RequestRecord`; nothing is
serialized, redacted or hashed on the request path (the store's writer does that). Whether bodies
are kept at all is decided once per request from the capture policy, before any work is done.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import orjson
from starlette.requests import Request

from mimo2codex.errors import GatewayError
from mimo2codex.gateway import Gateway
from mimo2codex.request_log import RequestRecord
from mimo2codex.routing import Route

#: where :func:`mimo2codex.http_body.read_json_object` leaves the raw body it read
RAW_BODY_KEY = "mimo2codex.raw_body"


def keeps_bodies(gateway: Gateway) -> bool:
    """True when this request's bodies may be stored: the store's current policy (the admin can
    change it at run time) is not ``off`` and the log is enabled."""
    store = gateway.store
    return store is not None and store.log_enabled and store.policy.keeps_references


def token_label(gateway: Gateway, request: Request) -> str | None:
    """``token#N`` for the inbound token the request presented (1-based, settings order), never the token."""
    tokens = gateway.settings.auth_tokens
    if not tokens:
        return None
    presented = request.headers.get("x-api-key")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        presented = value.strip()
    if not presented:
        return None
    candidate = presented.encode()
    for number, token in enumerate(tokens, 1):
        if hmac.compare_digest(candidate, token.reveal().encode()):
            return f"token#{number}"
    return None


def begin(gateway: Gateway, request: Request, record: RequestRecord) -> None:
    """Client facts of a request whose body was read: user agent, inbound token, size, body."""
    record.user_agent = request.headers.get("user-agent", "")
    record.client_token = token_label(gateway, request)
    raw = request.scope.get(RAW_BODY_KEY)
    if isinstance(raw, bytes):
        record.bytes_in = len(raw)
        if keeps_bodies(gateway):
            record.request_body = raw
    else:
        length = request.headers.get("content-length", "")
        record.bytes_in = int(length) if length.isdigit() else 0


def note_route(record: RequestRecord, route: Route) -> None:
    """Provider, upstream model and, when routing replaced the client's model, what and why."""
    record.provider, record.upstream_model = route.provider.id, route.upstream_model
    if route.rewritten:
        record.rewritten_from, record.rewrite_reason = route.requested, route.reason


def answered(gateway: Gateway, record: RequestRecord, body: bytes | memoryview, response: Any = None) -> None:
    """A whole (non-streamed) answer: its size, and a reference to it when bodies are kept."""
    record.bytes_out = len(body)
    if keeps_bodies(gateway):
        record.response_body = response if response is not None else body


async def metered(gateway: Gateway, record: RequestRecord, chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """The chunks of a stream, counted into ``bytes_out`` (and kept up to the body cap when bodies are)."""
    keep = keeps_bodies(gateway)
    room = gateway.store.policy.max_bytes if keep and gateway.store is not None else 0
    kept: list[bytes] = []
    if keep:
        record.response_body = kept  # the writer joins the pieces
    try:
        async for chunk in chunks:
            record.bytes_out += len(chunk)
            if room > 0:
                kept.append(chunk)
                room -= len(chunk)
            yield chunk
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()


def failed(gateway: Gateway, record: RequestRecord, error: GatewayError) -> None:
    """An error answer (the error boundary sends ``error.to_body()``): its size, and the body when kept."""
    body = error.to_body()
    record.bytes_out = len(orjson.dumps(body))
    if keeps_bodies(gateway):
        record.response_body = body


def chat_finish_reason(completion: Any) -> str | None:
    """``finish_reason`` of a whole chat completion (its first choice)."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        reason = choices[0].get("finish_reason")
        return str(reason) if reason else None
    return None


def responses_finish_reason(response: Any) -> str | None:
    """A chat-style ``finish_reason`` for a Responses object: stop, tool_calls, or why it is incomplete."""
    if not isinstance(response, dict):
        return None
    status = response.get("status")
    if status == "incomplete":
        details = response.get("incomplete_details") or {}
        return str(details.get("reason") or "incomplete") if isinstance(details, dict) else "incomplete"
    if status != "completed":
        return None
    output = response.get("output") or []
    calls = any(isinstance(item, dict) and item.get("type", "").endswith("call") for item in output)
    return "tool_calls" if calls else "stop"


def first_output(record: RequestRecord) -> None:
    """Mark the time to the first model output (a delta), once."""
    if record.first_event_ms is None:
        record.first_event_ms = (time.time() - record.started_at) * 1000


def on_disconnect(record: RequestRecord) -> Callable[[], None]:
    """The ``on_disconnect`` of a streamed response: the client left before the end."""

    def gone() -> None:
        record.outcome = "cancelled"

    return gone
