"""POST /v1/responses: translate to Chat Completions, call the upstream, translate back.

The streamed path commits to ``200 text/event-stream`` only once the upstream's status line is in or
``status_grace`` has passed, so a quick upstream 429 or 400 reaches Codex as a real HTTP status
(CONTRACT §1.7: a 429 with ``Retry-After`` is retried after exactly that delay). After that point
every failure becomes ``response.failed`` with a code Codex classifies (§1.6), and keepalive comments
flow whenever the upstream is silent (§1.8).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Coroutine
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from mimo2codex import compactor, stored_responses
from mimo2codex.errors import GatewayError, InvalidRequest, UpstreamUnavailable
from mimo2codex.gateway import Gateway, new_id, route_headers
from mimo2codex.http_body import json_response, read_json_object
from mimo2codex.protocol.context import ResponseContext, echo_fields
from mimo2codex.protocol.failure import classify_upstream_failure, is_error_body, to_error
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.request import responses_to_chat
from mimo2codex.protocol.response import chat_to_response, synthetic_events, synthetic_response
from mimo2codex.protocol.sse import KEEPALIVE, SSEDecoder, SSEEvent, encode_event, encode_events
from mimo2codex.protocol.stream import StreamTranslator
from mimo2codex.providers.base import WireApi
from mimo2codex.redaction import redact
from mimo2codex.request_log import RequestRecord
from mimo2codex.routing import Route
from mimo2codex.store import observe
from mimo2codex.streaming import EventStreamResponse, client_gone
from mimo2codex.upstream import UpstreamRequest, UpstreamResponse

log = logging.getLogger("mimo2codex")

SHUTDOWN_CODE = "server_shutting_down"
SHUTDOWN_MESSAGE = "mimo2codex is shutting down; this response was interrupted. Please try again."
PROBE_TEXT = "mimo2codex is up. This is a connection test answer; no upstream model was called."


def is_probe(body: dict[str, Any]) -> bool:
    """A connection test (cc-switch and similar): no input and no instructions at all."""
    return not body.get("input") and not body.get("instructions")


async def upstream_failure(response: UpstreamResponse, route: Route) -> GatewayError:
    """The gateway error for an upstream answer with status >= 400 (the response is closed)."""
    try:
        raw = await response.read()
    except GatewayError:
        raw = b""
    finally:
        response.close()
    failure = classify_upstream_failure(
        response.status, raw, retry_after=response.headers.get("retry-after"), now=time.time()
    )
    return _explained(to_error(failure, route.provider.id), route)


def _explained(error: GatewayError, route: Route) -> GatewayError:
    """An upstream error made safe and useful: the provider's key scrubbed, its fix-it hint added."""
    # Vendors echo a rejected key in their error text; shapes the generic redaction does not know
    # (a plain token) are caught by redacting the provider's own key verbatim.
    if route.provider.api_key:
        error.message = redact(error.message, (route.provider.api_key.reveal(),))
    hint = route.provider.error_hint(error.message)
    if hint:
        # The vendor's raw text ("webSearchEnabled is false") says what, not how to fix it.
        error.message = f"{error.message} {hint}"
    return error


def json_answer_failure(raw: bytes, route: Route) -> GatewayError | None:
    """The error a streaming request was answered with as one plain JSON document instead of SSE
    (LM Studio's context overflow comes as HTTP 200 ``{"error": "..."}``); None when it is no error."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not is_error_body(body):
        return None
    return _explained(to_error(classify_upstream_failure(0, body), route.provider.id), route)


def garbage_error(route: Route, detail: str) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        f"upstream '{route.provider.id}' sent an invalid response: {detail}", provider=route.provider.id
    )


async def create_response(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    started = time.time()
    body = await read_json_object(request, gateway.settings.max_body_bytes)
    stream = bool(body.get("stream", False))
    model = body.get("model", "")
    if not isinstance(model, str):
        raise InvalidRequest("model must be a string", param="model")
    record = RequestRecord(new_id("req"), "/v1/responses", started, stream, client_model=model)
    observe.begin(gateway, request, record)
    ctx = ResponseContext(
        response_id=new_id("resp"),
        created_at=int(started),
        model=model,
        echo=echo_fields(body),
        expose_reasoning=gateway.settings.expose_reasoning,
    )
    # store / previous_response_id (stored_responses.py); None for Codex (store: false)
    conversation = await stored_responses.prepare(gateway, body, ctx)

    if is_probe(body):
        record.outcome = "probe"
        gateway.emit(record)
        if stream:
            return EventStreamResponse(_once(encode_events(synthetic_events(ctx, PROBE_TEXT))))
        return json_response(synthetic_response(ctx, PROBE_TEXT))

    route = gateway.router.route(model)
    gateway.report_route(route)
    observe.note_route(record, route)
    headers = route_headers(route)

    if route.provider.wire_api is WireApi.RESPONSES:
        passed = await _passthrough(gateway, route, body, record, headers)
        return await stored_responses.keep(gateway, conversation, passed)

    profile = route.provider.profile(route.upstream_model)
    # Images for a model that cannot see them become text first (mimo2codex.vision); never raises.
    body = await gateway.vision.bridge(gateway, route.provider, profile, body, record)
    try:
        chat = responses_to_chat(body, profile)
    except GatewayError as exc:
        record.status, record.outcome, record.error_code = exc.status_code, "error", exc.code
        observe.failed(gateway, record, exc)
        gateway.emit(record)
        raise
    gateway.report_notes(chat.notes, record.request_id)
    ctx.tool_map = chat.tool_map
    ctx.think_tags = profile.think_tags
    chat.body["stream"] = stream
    opening = _compact_and_open(gateway, route, profile, chat.body, record)
    if not stream:
        reply = await _complete(gateway, route, opening, ctx, record, headers)
    else:
        reply = await _stream(gateway, route, opening, ctx, record, headers, request.receive)
    return await stored_responses.keep(gateway, conversation, reply)


async def _compact_and_open(
    gateway: Gateway, route: Route, profile: UpstreamProfile, chat_body: dict[str, Any], record: RequestRecord
) -> UpstreamResponse:
    """Summarise the oldest turns when the request would overflow (``--auto-compact``), then open it.

    One awaitable for both, so a streamed request's status grace and keepalives (``_stream``) cover a
    slow summary too: Codex is never left without bytes for longer than the keepalive interval.
    """
    if gateway.settings.auto_compact:  # opt-in: summarise the oldest turns past the model's window
        await compactor.compact(gateway, route, profile, chat_body, record)
    stream = bool(chat_body["stream"])
    upstream_request = UpstreamRequest(route.provider, "/chat/completions", orjson.dumps(chat_body), stream)
    gateway.dump(record.request_id, "translated upstream request", upstream_request.body)
    return await gateway.open_upstream(upstream_request, record)


async def _once(data: bytes) -> AsyncGenerator[bytes, None]:
    yield data


async def _complete(
    gateway: Gateway,
    route: Route,
    opening: Coroutine[Any, Any, UpstreamResponse],
    ctx: ResponseContext,
    record: RequestRecord,
    headers: dict[str, str],
) -> Response:
    try:
        upstream = await opening
        if upstream.status >= 400:
            raise await upstream_failure(upstream, route)
        raw = await upstream.read()
        try:
            chat = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise garbage_error(route, f"a body that is not JSON ({raw[:120]!r})") from None
        if not isinstance(chat, dict):
            raise garbage_error(route, "a JSON body that is not an object")
        if is_error_body(chat):
            # Some vendors answer 200 with an error body.
            # 0: an error inside a 200 answer; the body alone says what it is (a rate limit stays a 429).
            failure = classify_upstream_failure(
                0, chat, retry_after=upstream.headers.get("retry-after"), now=time.time()
            )
            raise _explained(to_error(failure, route.provider.id), route)
        compactor.add_notice(chat, record)
        response = chat_to_response(chat, ctx)
    except GatewayError as exc:
        record.status, record.outcome = exc.status_code, "error"
        record.error_code, record.error_message = exc.code, exc.message
        observe.failed(gateway, record, exc)
        gateway.emit(record)
        raise
    record.outcome = str(response.get("status", "completed"))
    record.usage = response.get("usage")
    record.finish_reason = observe.chat_finish_reason(chat)
    record.tool_calls = [
        str(item.get("name")) for item in response["output"] if item.get("type") != "message" and "name" in item
    ]
    reply = json_response(response, headers=headers)
    observe.answered(gateway, record, reply.body, response)
    gateway.emit(record)
    return reply


async def _stream(
    gateway: Gateway,
    route: Route,
    open_upstream: Coroutine[Any, Any, UpstreamResponse],
    ctx: ResponseContext,
    record: RequestRecord,
    headers: dict[str, str],
    receive: Receive,
) -> Response:
    settings = gateway.settings
    # the summary of --auto-compact included: within the grace its failure is still a real HTTP status
    opening = asyncio.ensure_future(open_upstream)
    # Nothing watches the connection until the response starts: a client that leaves during the
    # grace (Ctrl-C in a long prefill) must still stop the upstream at once, not when it ends. The
    # same watcher then goes on watching for the streamed response.
    leaving = asyncio.ensure_future(client_gone(receive))
    try:
        await asyncio.wait({opening, leaving}, timeout=settings.status_grace, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        opening.cancel()
        leaving.cancel()
        raise
    if leaving.done():
        await _abandon(opening)
        record.status, record.outcome = 499, "cancelled"
        gateway.emit(record)
        return Response(status_code=499)  # nobody will read it
    if opening.done():
        try:
            upstream = opening.result()
            if upstream.status >= 400:
                raise await upstream_failure(upstream, route)
        except GatewayError as exc:
            leaving.cancel()
            await asyncio.wait({leaving})
            record.status, record.outcome = exc.status_code, "error"
            record.error_code, record.error_message = exc.code, exc.message
            observe.failed(gateway, record, exc)
            gateway.emit(record)
            raise

    translator = StreamTranslator(ctx)
    tick = settings.keepalive_interval

    async def body() -> AsyncGenerator[bytes, None]:
        upstream: UpstreamResponse | None = None
        finished = False
        try:
            yield encode_events(translator.start())
            while not opening.done():  # the upstream (or the compaction summary) is slower than the grace
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(opening), tick)
                    break
                yield KEEPALIVE
            upstream = opening.result()
            if compacted := compactor.notice_chunk(record):  # the user sees the context was compacted
                yield encode_events(translator.feed(compacted))
            if upstream.status >= 400:
                raise await upstream_failure(upstream, route)
            decoder = SSEDecoder()
            saw_done = False
            undecoded = bytearray()  # the body while no SSE event came out of it (see json_answer_failure)
            secret = route.provider.api_key.reveal() if route.provider.api_key else ""

            def translate(events: list[SSEEvent]) -> list[dict[str, Any]]:
                nonlocal saw_done
                out: list[dict[str, Any]] = []
                for event in events:
                    data = event.data
                    if data == "[DONE]":
                        saw_done = True
                        break
                    if secret and '"error"' in data:
                        data = redact(data, (secret,))  # an error event may echo the key
                    try:
                        chunk = orjson.loads(data)
                    except orjson.JSONDecodeError:
                        log.debug("[%s] skipping non-JSON upstream line: %.200s", record.request_id, data)
                        continue
                    if isinstance(chunk, dict):
                        # Error chunks too: the translator classifies them and fails the response.
                        out.extend(translator.feed(chunk))
                return out

            async for piece in upstream.chunks(tick):
                if piece is None:
                    yield KEEPALIVE
                    continue
                decoded = decoder.feed(piece)
                if not decoded and len(undecoded) < 65536 and record.first_event_ms is None:
                    undecoded += piece
                out = translate(decoded)
                if out:
                    if record.first_event_ms is None:
                        record.first_event_ms = (time.time() - record.started_at) * 1000
                    yield encode_events(out)
                if saw_done or translator.status == "failed":
                    break
            else:
                # The last event may lack its blank line (Ollama-style streams without [DONE]).
                out = translate(decoder.flush())
                if out:
                    yield encode_events(out)
            if translator.status is None and not saw_done and translator.finish_reason is None:
                raise json_answer_failure(bytes(undecoded), route) or garbage_error(
                    route, "the stream ended before the model finished (no finish_reason, no [DONE])"
                )
            finished = True
            observe.first_output(record)  # when only buffered tool calls came, the first output is now
            yield encode_events(translator.finish())
        except GatewayError as exc:
            record.error_code, record.error_message = exc.failed_code(), exc.message
            yield encode_events(translator.fail(exc.failed_code(), exc.message))
        except asyncio.CancelledError:
            if record.outcome != "cancelled":  # not the client leaving: the server is shutting down
                record.outcome, record.error_code, record.error_message = "failed", SHUTDOWN_CODE, SHUTDOWN_MESSAGE
            raise
        finally:
            if upstream is not None:
                if finished:
                    await _drain(upstream)
                upstream.close()
            elif not opening.done():
                opening.cancel()
            else:
                with contextlib.suppress(BaseException):
                    opening.result().close()
            _finish_record(gateway, record, translator)

    def on_disconnect() -> None:
        record.outcome = "cancelled"

    def farewell() -> bytes:
        return encode_events(translator.fail(SHUTDOWN_CODE, SHUTDOWN_MESSAGE))

    return EventStreamResponse(
        observe.metered(gateway, record, body()),
        headers=headers,
        on_disconnect=on_disconnect,
        farewell=farewell,
        watcher=leaving,
    )


async def _abandon(opening: asyncio.Future[UpstreamResponse]) -> None:
    """Cancel an upstream request nobody waits for; close the response if it already arrived."""
    opening.cancel()
    await asyncio.wait({opening})
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


async def _drain(upstream: UpstreamResponse) -> None:
    """Read the few bytes after ``[DONE]`` so the pooled connection can be reused."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            async for piece in upstream.chunks(1.0):
                if piece is None:
                    return


def _finish_record(gateway: Gateway, record: RequestRecord, translator: StreamTranslator) -> None:
    if record.outcome not in ("cancelled", "failed"):
        record.outcome = translator.status or "failed"
    if translator.error is not None and record.error_code is None:
        record.error_code, record.error_message = translator.error["code"], translator.error["message"]
    record.usage = translator.usage
    record.finish_reason = translator.finish_reason
    record.tool_calls = list(translator.tool_names)
    gateway.emit(record)


async def _passthrough(
    gateway: Gateway, route: Route, body: dict[str, Any], record: RequestRecord, headers: dict[str, str]
) -> Response:
    """A native Responses upstream: the body goes through with only the model rewritten."""
    body["model"] = route.upstream_model
    upstream_request = UpstreamRequest(route.provider, "/responses", orjson.dumps(body), record.stream)
    try:
        upstream = await gateway.open_upstream(upstream_request, record)
        if upstream.status >= 400:
            raise await upstream_failure(upstream, route)
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
    if not record.stream:
        raw = await upstream.read()
        upstream.close()
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            parsed = orjson.loads(raw)
            record.usage = parsed.get("usage")
            record.outcome = str(parsed.get("status", "completed"))
            record.finish_reason = observe.responses_finish_reason(parsed)
        observe.answered(gateway, record, raw)
        gateway.emit(record)
        return Response(raw, media_type="application/json", headers=headers)

    tick = gateway.settings.keepalive_interval

    async def relay() -> AsyncGenerator[bytes, None]:
        at_boundary = True
        decoder = SSEDecoder()
        try:
            async for piece in upstream.chunks(tick):
                if piece is None:
                    # A comment is only safe between events, never inside a half-sent one.
                    if at_boundary:
                        yield KEEPALIVE
                    continue
                at_boundary = piece.endswith((b"\n\n", b"\r\n\r\n"))
                for event in decoder.feed(piece):
                    _observe_responses_event(event.data, record)
                yield piece
        except GatewayError as exc:
            record.outcome, record.error_code, record.error_message = "failed", exc.failed_code(), exc.message
            if at_boundary:
                yield encode_event(
                    {
                        "type": "response.failed",
                        "response": {
                            "id": new_id("resp"),
                            "status": "failed",
                            "error": {"code": exc.failed_code(), "message": exc.message},
                        },
                    }
                )
        finally:
            upstream.close()
            gateway.emit(record)

    return EventStreamResponse(
        observe.metered(gateway, record, relay()), headers=headers, on_disconnect=observe.on_disconnect(record)
    )


def _observe_responses_event(data: str, record: RequestRecord) -> None:
    """Pick usage and outcome from a native Responses stream for the request log."""
    if '"response.' not in data[:80]:
        return
    with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
        event = orjson.loads(data)
        kind = event.get("type", "")
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            response = event.get("response") or {}
            record.outcome = kind.removeprefix("response.")
            record.usage = response.get("usage")
            record.finish_reason = observe.responses_finish_reason(response)
            if kind == "response.failed" and isinstance(response.get("error"), dict):
                record.error_code = response["error"].get("code") or "response_failed"
                record.error_message = response["error"].get("message")
        elif kind.endswith(".delta"):
            observe.first_output(record)
        elif kind == "response.output_item.done":
            item = event.get("item") or {}
            if "name" in item:
                record.tool_calls.append(str(item["name"]))
