"""POST /v1/chat/completions: a passthrough to the routed upstream, observed for the request log.

Bodies go through adapted only where the routed model needs it (protocol/passthrough.py: MiMo's
``thinking``, dropped fields, the max-tokens field); usage and tool calls are picked out of the
answer (streamed or not) for the request-log hook. Streamed error events are scrubbed of keys.
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
from mimo2codex.protocol.passthrough import ErrorEventScrubber, adapt_chat_request
from mimo2codex.protocol.sse import KEEPALIVE, SSEDecoder, encode_event
from mimo2codex.protocol.usage import convert_usage
from mimo2codex.redaction import redact
from mimo2codex.request_log import RequestRecord
from mimo2codex.responses_api import PROBE_TEXT, upstream_failure
from mimo2codex.store import observe
from mimo2codex.streaming import EventStreamResponse
from mimo2codex.upstream import UpstreamRequest


def _usage(chat_usage: Any) -> dict[str, Any] | None:
    if not isinstance(chat_usage, dict):
        return None
    full = convert_usage(chat_usage)  # reads cached and reasoning tokens from every vendor's fields
    usage = {name: full[name] for name in ("input_tokens", "output_tokens", "total_tokens")}
    for details, count in (("input_tokens_details", "cached_tokens"), ("output_tokens_details", "reasoning_tokens")):
        if full[details][count]:
            usage[details] = {count: full[details][count]}
    return usage


#: delta fields that are model output (the time to the first one is the stream's TTFT)
_OUTPUT_FIELDS = frozenset({"content", "reasoning_content", "reasoning", "tool_calls"})


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
            if "delta" in choice and isinstance(delta, dict) and delta.keys() & _OUTPUT_FIELDS:
                observe.first_output(self.record)
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
    observe.begin(gateway, request, record)

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
    observe.note_route(record, route)
    headers = route_headers(route)
    body, notes = adapt_chat_request(body, route.provider.profile(route.upstream_model))
    gateway.report_notes(notes, record.request_id)
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
        observe.failed(gateway, record, exc)
        gateway.emit(record)
        raise
    if not stream:
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(raw)
            if isinstance(parsed, dict):
                observer.chunk(parsed)
        observer.close()
        observe.answered(gateway, record, raw)
        gateway.emit(record)
        return Response(raw, media_type="application/json", headers=headers)

    tick = gateway.settings.keepalive_interval

    secrets = (route.provider.api_key.reveal(),) if route.provider.api_key else ()

    def scrub(text: str) -> str:
        return redact(text, secrets)

    async def relay() -> AsyncGenerator[bytes, None]:
        decoder = SSEDecoder()
        # Only whole events reach the client, so a keepalive or our error event never lands inside one.
        scrubber = ErrorEventScrubber(scrub)
        try:
            async for piece in upstream.chunks(tick):
                if piece is None:
                    yield KEEPALIVE
                    continue
                for event in decoder.feed(piece):
                    if event.data.startswith("{"):
                        with contextlib.suppress(orjson.JSONDecodeError):
                            parsed = orjson.loads(event.data)
                            if isinstance(parsed, dict):
                                observer.chunk(parsed)
                if out := scrubber.feed(piece):
                    yield out
            if rest := scrubber.flush():
                yield rest
        except GatewayError as exc:
            record.outcome, record.error_code, record.error_message = "failed", exc.code, exc.message
            # Chat clients understand an error object in the stream (the openai SDK raises it).
            yield encode_event({"type": "error", "error": exc.to_body()["error"]})
        finally:
            upstream.close()
            observer.close()
            if record.outcome == "completed" and record.finish_reason is None:
                # The upstream ended without saying the model finished: a cut stream, not a success.
                record.outcome, record.error_code = "failed", "stream_incomplete"
            gateway.emit(record)

    def on_disconnect() -> None:
        record.outcome = "cancelled"

    return EventStreamResponse(observe.metered(gateway, record, relay()), headers=headers, on_disconnect=on_disconnect)
