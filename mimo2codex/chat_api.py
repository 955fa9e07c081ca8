"""POST /v1/chat/completions: a passthrough to the routed upstream, observed for the request log.

Bodies go through untouched except for the model name; usage and tool calls are picked out of the
answer (streamed or not) for the request-log hook.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from mimo2codex.errors import GatewayError, InvalidRequest
from mimo2codex.gateway import Gateway, new_id, route_headers
from mimo2codex.http_body import json_response, read_json_object
from mimo2codex.protocol.sse import KEEPALIVE, SSEDecoder, encode_event
from mimo2codex.request_log import RequestRecord
from mimo2codex.responses_api import PROBE_TEXT, upstream_failure
from mimo2codex.streaming import EventStreamResponse
from mimo2codex.upstream import UpstreamRequest


def _usage(chat_usage: Any) -> dict[str, Any] | None:
    if not isinstance(chat_usage, dict):
        return None
    prompt = int(chat_usage.get("prompt_tokens") or 0)
    completion = int(chat_usage.get("completion_tokens") or 0)
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": int(chat_usage.get("total_tokens") or prompt + completion),
    }


class ChatObserver:
    """Follows a chat completion (chunks or whole) and records what the request log needs."""

    def __init__(self, record: RequestRecord) -> None:
        self.record = record
        self._tools: dict[int, str] = {}

    def chunk(self, chunk: dict[str, Any]) -> None:
        usage = _usage(chunk.get("usage"))
        if usage is not None:
            self.record.usage = usage
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            if choice.get("finish_reason"):
                self.record.finish_reason = str(choice["finish_reason"])
            delta = choice.get("delta") or choice.get("message") or {}
            for call in (delta.get("tool_calls") or ()) if isinstance(delta, dict) else ():
                name = (call.get("function") or {}).get("name")
                if name:
                    self._tools[int(call.get("index", len(self._tools)))] = str(name)

    def close(self) -> None:
        self.record.tool_calls = [self._tools[i] for i in sorted(self._tools)]


def probe_completion(model: str) -> dict[str, Any]:
    return {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": PROBE_TEXT}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


async def chat_completions(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    started = time.time()
    body = await read_json_object(request, gateway.settings.max_body_bytes)
    stream = bool(body.get("stream", False))
    model = body.get("model", "")
    if not isinstance(model, str):
        raise InvalidRequest("model must be a string", param="model")
    messages = body.get("messages")
    if messages is not None and not isinstance(messages, list):
        raise InvalidRequest("messages must be an array", param="messages")
    record = RequestRecord(new_id("req"), "/v1/chat/completions", started, stream, client_model=model)

    if not messages:
        record.outcome = "probe"
        gateway.emit(record)
        completion = probe_completion(model)
        if not stream:
            return json_response(completion)
        message = completion["choices"][0]["message"]
        chunk = {**completion, "object": "chat.completion.chunk"}
        chunk["choices"] = [{"index": 0, "delta": message, "finish_reason": "stop"}]
        del chunk["usage"]
        data = b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"

        async def once() -> AsyncGenerator[bytes, None]:
            yield data

        return EventStreamResponse(once())

    route = gateway.router.route(model)
    gateway.report_route(route)
    record.provider, record.upstream_model = route.provider.id, route.upstream_model
    headers = route_headers(route)
    body["model"] = route.upstream_model
    upstream_request = UpstreamRequest(route.provider, "/chat/completions", orjson.dumps(body), stream)
    observer = ChatObserver(record)
    try:
        upstream = await gateway.open_upstream(upstream_request, record)
        if upstream.status >= 400:
            raise await upstream_failure(upstream, route)
        if not stream:
            raw = await upstream.read()
            upstream.close()
    except GatewayError as exc:
        record.status, record.outcome, record.error_code, record.error_message = (
            exc.status_code,
            "error",
            exc.code,
            exc.message,
        )
        gateway.emit(record)
        raise
    if not stream:
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(raw)
            if isinstance(parsed, dict):
                observer.chunk(parsed)
        observer.close()
        gateway.emit(record)
        return Response(raw, media_type="application/json", headers=headers)

    tick = gateway.settings.keepalive_interval

    async def relay() -> AsyncGenerator[bytes, None]:
        decoder = SSEDecoder()
        at_boundary = True
        try:
            async for piece in upstream.chunks(tick):
                if piece is None:
                    if at_boundary:
                        yield KEEPALIVE
                    continue
                at_boundary = piece.endswith((b"\n\n", b"\r\n\r\n"))
                for event in decoder.feed(piece):
                    if event.data.startswith("{"):
                        with contextlib.suppress(orjson.JSONDecodeError):
                            parsed = orjson.loads(event.data)
                            if isinstance(parsed, dict):
                                observer.chunk(parsed)
                yield piece
        except GatewayError as exc:
            record.outcome, record.error_code, record.error_message = "failed", exc.code, exc.message
            if at_boundary:
                # Chat clients understand an error object in the stream (the openai SDK raises it).
                yield encode_event({"type": "error", "error": exc.to_body()["error"]})
        finally:
            upstream.close()
            observer.close()
            gateway.emit(record)

    def on_disconnect() -> None:
        record.outcome = "cancelled"

    return EventStreamResponse(relay(), headers=headers, on_disconnect=on_disconnect)
