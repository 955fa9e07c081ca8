"""Stateful Responses: ``store``, ``previous_response_id``, and the routes that read stored responses.

A response created without ``store: false`` (OpenAI's default is to store; Codex sends ``false``) is
kept in the request log's store (SQLite or PostgreSQL, ``mimo2codex.store``) for
``--stored-response-days``; a later request with ``previous_response_id`` continues from its history.
``GET``/``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items`` answer as OpenAI
documents them, 404 ``Response with id '…' not found.`` for an id that is unknown, expired or deleted.

The request path calls two hooks (``responses_api.create_response``)::

    conversation = await prepare(gateway, body, ctx)   # before translation: history prepended
    return await keep(gateway, conversation, reply)    # after: the finished response stored

Nothing happens (and nothing is parsed twice) for a Codex request: ``store: false`` and no
``previous_response_id`` return at once.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mimo2codex.errors import InvalidRequest, ResponseNotFound
from mimo2codex.gateway import Gateway, new_id
from mimo2codex.http_body import json_response
from mimo2codex.protocol.context import ResponseContext
from mimo2codex.protocol.conversation import DEFAULT_PAGE, continuation, input_items, items_page, wants_storage
from mimo2codex.protocol.sse import SSEDecoder
from mimo2codex.store.base import Store, StoredResponse
from mimo2codex.streaming import EventStreamResponse

log = logging.getLogger("mimo2codex")

_DAY_MS = 86_400_000
#: the terminal events whose response is worth keeping (a failed one has nothing to continue from)
_KEPT_EVENTS = ("response.completed", "response.incomplete")


@dataclass(slots=True)
class Conversation:
    """One request's part in a stored conversation."""

    store: Store | None
    #: this request's own input items, with ids (``input_items``)
    items: list[dict[str, Any]]
    #: everything the model saw: the previous response's history, then ``items``
    inputs: list[dict[str, Any]]
    #: keep the finished response (``store`` not false, and a store to keep it in)
    storing: bool


async def prepare(gateway: Gateway, body: dict[str, Any], ctx: ResponseContext) -> Conversation | None:
    """Resolve ``previous_response_id`` into ``body["input"]``; None when the request keeps no state."""
    previous_id = body.pop("previous_response_id", None)
    store = gateway.store
    storing = wants_storage(body) and store is not None
    if previous_id is None and not storing:
        return None
    if previous_id is not None and (not isinstance(previous_id, str) or not previous_id):
        raise InvalidRequest("previous_response_id must be a non-empty string", param="previous_response_id")
    items = input_items(body.get("input"), new_id)
    history: list[dict[str, Any]] = []
    if previous_id is not None:
        previous = await run_in_threadpool(store.get_response, previous_id) if store is not None else None
        if previous is None:
            raise InvalidRequest(
                f"Previous response with id '{previous_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        history = previous.history
        body["input"] = [*history, *items]
    # Without a previous response the body goes on as the client sent it (a native Responses
    # upstream gets it byte for byte); the typed items with ids are only what is stored.
    ctx.echo["store"] = storing
    return Conversation(store, items, [*history, *items], storing)


async def keep(gateway: Gateway, conversation: Conversation | None, reply: Response) -> Response:
    """``reply`` as it is; its response is stored on the way (before its last event leaves)."""
    if conversation is None or not conversation.storing or reply.status_code != 200:
        return reply
    if isinstance(reply, EventStreamResponse):
        reply.body_iterator = _kept_stream(gateway, conversation, reply.body_iterator)
        return reply
    with contextlib.suppress(orjson.JSONDecodeError):
        response = orjson.loads(reply.body)
        if isinstance(response, dict) and response.get("status") in ("completed", "incomplete"):
            await _put(gateway, conversation, response)
    return reply


async def _kept_stream(
    gateway: Gateway, conversation: Conversation, pieces: AsyncIterator[bytes]
) -> AsyncGenerator[bytes, None]:
    decoder = SSEDecoder()
    try:
        async for piece in pieces:
            for event in decoder.feed(piece):
                if any(kind in event.data[:64] for kind in _KEPT_EVENTS):
                    with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                        response = orjson.loads(event.data).get("response")
                        if isinstance(response, dict):
                            # Stored before the client sees the end: a retrieve right after finds it.
                            await _put(gateway, conversation, response)
            yield piece
    finally:
        close = getattr(pieces, "aclose", None)
        if close is not None:
            await close()


async def _put(gateway: Gateway, conversation: Conversation, response: dict[str, Any]) -> None:
    store = conversation.store
    response_id = response.get("id")
    if store is None or not isinstance(response_id, str):
        return
    days = gateway.settings.stored_response_days
    now_ms = int(time.time() * 1000)
    stored = StoredResponse(
        id=response_id,
        response=response,
        input_items=conversation.items,
        history=continuation(conversation.inputs, response.get("output")),
        created_ms=now_ms,
        expires_ms=now_ms + days * _DAY_MS if days > 0 else 0,
    )
    try:
        await run_in_threadpool(store.put_response, stored)
    except Exception:  # the answer is already made; a failing database must not break it
        log.exception("could not store response %s", response_id)


# -- routes ------------------------------------------------------------------------------------


def _store(request: Request) -> Store | None:
    gateway: Gateway = request.app.state.gateway
    return gateway.store


async def _stored(request: Request) -> StoredResponse:
    response_id = request.path_params["response_id"]
    store = _store(request)
    stored = await run_in_threadpool(store.get_response, response_id) if store is not None else None
    if stored is None:
        raise ResponseNotFound(f"Response with id '{response_id}' not found.")
    return stored


async def retrieve_response(request: Request) -> Response:
    """``GET /v1/responses/{id}``: the stored Response object."""
    return json_response((await _stored(request)).response)


async def delete_response(request: Request) -> Response:
    """``DELETE /v1/responses/{id}``: ``{"id", "object": "response.deleted", "deleted": true}``."""
    response_id = request.path_params["response_id"]
    store = _store(request)
    deleted = await run_in_threadpool(store.delete_response, response_id) if store is not None else False
    if not deleted:
        raise ResponseNotFound(f"Response with id '{response_id}' not found.")
    return json_response({"id": response_id, "object": "response.deleted", "deleted": True})


async def list_input_items(request: Request) -> Response:
    """``GET /v1/responses/{id}/input_items``: a cursor page (``after``, ``limit``, ``order``)."""
    stored = await _stored(request)
    query = request.query_params
    raw_limit = query.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit():
        raise InvalidRequest("limit must be an integer", param="limit")
    page = items_page(
        stored.input_items, order=query.get("order", "desc"), after=query.get("after"), limit=int(raw_limit)
    )
    return json_response(page)


def routes(prefix: str) -> list[Route]:
    """The stored-response routes under ``prefix`` ("/v1" or "")."""
    return [
        Route(f"{prefix}/responses/{{response_id}}", retrieve_response, methods=["GET"]),
        Route(f"{prefix}/responses/{{response_id}}", delete_response, methods=["DELETE"]),
        Route(f"{prefix}/responses/{{response_id}}/input_items", list_input_items, methods=["GET"]),
    ]
