"""The request log: list (keyset paging and filters), detail, prune, and a streamed CSV/JSONL export.

``GET logs`` keeps the Node tool's ``provider``, ``from``, ``to``, ``limit`` and ``offset`` and adds
``before_id`` (keyset paging: fast on any depth of a 10-million-row log), ``model``, ``status``
(``2xx``, ``4xx``, ``5xx``, ``error``), ``error_code``, ``endpoint`` and ``stream``. It never invents a
total: ``next_before_id`` says whether there is more. The export streams the whole filtered set page by
page, each page read on a worker thread, so neither memory nor the event loop grows with the log.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mimo2codex.admin.context import AdminContext
from mimo2codex.admin.spec import BOOL, INT, STR, ApiRoute, Param, arr, nullable, obj
from mimo2codex.errors import InvalidRequest, NotFound
from mimo2codex.http_body import json_response
from mimo2codex.store.base import LogQuery, Store
from mimo2codex.store.row import LIST_COLUMNS

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: deepest ``offset`` honoured (the Node tool's paging); deeper pages use ``before_id``
MAX_OFFSET = 10_000
EXPORT_PAGE = 1000
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")
_MAX_MS = 10**14  # year 5138: anything larger is not a timestamp


def _int(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number, got {raw!r}", param=name) from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be from {low} to {high}, got {value}", param=name)
    return value


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > 200:
        raise InvalidRequest(f"{name} is too long", param=name)
    return value.strip()


def log_query(params: Mapping[str, str], *, limit: int = DEFAULT_LIMIT) -> LogQuery:
    """The filters of a logs request; :class:`InvalidRequest` names a bad one."""
    status = _text(params, "status")
    if status is not None and status.lower() not in STATUS_CLASSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUS_CLASSES)}, got {status!r}", param="status")
    stream_text = _text(params, "stream")
    stream: bool | None = None
    if stream_text is not None:
        if stream_text.lower() not in ("true", "false", "1", "0"):
            raise InvalidRequest(f"stream must be true or false, got {stream_text!r}", param="stream")
        stream = stream_text.lower() in ("true", "1")
    since = _int(params, "from", 0, _MAX_MS)
    to = _int(params, "to", 0, _MAX_MS)
    return LogQuery(
        provider=_text(params, "provider"),
        model=_text(params, "model"),
        status_class=status.lower() if status else None,
        error_code=_text(params, "error_code"),
        endpoint=_text(params, "endpoint"),
        stream=stream,
        since_ms=since,
        until_ms=None if to is None else to + 1,  # the Node tool's "to" is inclusive
        before_id=_int(params, "before_id", 1, 2**62),
        limit=_int(params, "limit", 1, MAX_LIMIT) or limit,
    )


def _skip(store: Store, query: LogQuery, offset: int) -> LogQuery | None:
    """The query that starts ``offset`` rows into ``query`` (None: past the end). Blocking."""
    while offset > 0:
        page = store.logs(replace(query, limit=min(offset, MAX_LIMIT)))
        offset -= len(page.rows)
        if page.next_before_id is None:
            return None if offset >= 0 else query
        query = replace(query, before_id=page.next_before_id)
    return query


async def list_logs(ctx: AdminContext, request: Request) -> Response:
    store = ctx.need_store()
    query = log_query(request.query_params)
    offset = _int(request.query_params, "offset", 0, MAX_OFFSET) or 0
    if offset:
        started = await ctx.call(_skip, store, query, offset)
        if started is None:
            return json_response({"logs": [], "next_before_id": None, "total": None})
        query = started
    page = await ctx.call(store.logs, query)
    return json_response({"logs": page.rows, "next_before_id": page.next_before_id, "total": page.total})


async def get_log(ctx: AdminContext, request: Request) -> Response:
    raw = request.path_params["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"log {raw} not found", param="id")
    row = await ctx.call(ctx.need_store().log, int(raw))
    if row is None:
        raise NotFound(f"log {raw} not found", param="id")
    return json_response({"log": row})


async def delete_logs(ctx: AdminContext, request: Request) -> Response:
    store = ctx.need_store()
    before = _int(request.query_params, "before", 0, _MAX_MS)
    if before is None:
        raise InvalidRequest("?before=<ts_ms> required", code="missing_before", param="before")
    removed = await ctx.call(store.delete_logs, before)
    return json_response({"removed": removed})


def _csv_line(values: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(["" if v is None else v for v in values])
    return out.getvalue().encode("utf-8")


async def _export_rows(ctx: AdminContext, store: Store, query: LogQuery, form: str) -> AsyncIterator[bytes]:
    columns = ("id", *LIST_COLUMNS)
    if form == "csv":
        yield _csv_line(list(columns))
    while True:
        page = await ctx.call(store.logs, query)
        chunk = bytearray()
        for row in page.rows:
            if form == "csv":
                chunk += _csv_line([_cell(row.get(c)) for c in columns])
            else:
                chunk += orjson.dumps(row) + b"\n"
        if chunk:
            yield bytes(chunk)
        if page.next_before_id is None:
            return
        query = replace(query, before_id=page.next_before_id)


def _cell(value: Any) -> Any:
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value


async def export_logs(ctx: AdminContext, request: Request) -> Response:
    store = ctx.need_store()
    form = (request.query_params.get("format") or "csv").lower()
    if form not in ("csv", "jsonl"):
        raise InvalidRequest(f"format must be csv or jsonl, got {form!r}", param="format")
    query = replace(log_query(request.query_params), limit=EXPORT_PAGE)
    media = "text/csv; charset=utf-8" if form == "csv" else "application/x-ndjson"
    name = f"mimo2codex-logs-{ctx.now_ms()}.{form}"
    return StreamingResponse(
        _export_rows(ctx, store, query, form),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


_FILTERS = (
    Param("provider", STR, description="provider id"),
    Param("model", STR, description="client or upstream model"),
    Param("status", {"type": "string", "enum": list(STATUS_CLASSES)}, description="status class"),
    Param("error_code", STR),
    Param("endpoint", STR, description="e.g. /v1/responses"),
    Param("stream", {"type": "string", "enum": ["true", "false"]}),
    Param("from", {"type": "integer", "minimum": 0, "maximum": _MAX_MS}, description="ts (ms) at or after"),
    Param("to", {"type": "integer", "minimum": 0, "maximum": _MAX_MS}, description="ts (ms) at or before"),
    Param("before_id", {"type": "integer", "minimum": 1}, description="keyset paging: rows with a smaller id"),
)
LOG_ROW: dict[str, Any] = obj(
    {
        "id": INT,
        "ts": INT,
        "request_id": nullable(STR),
        "provider_id": nullable(STR),
        "client_model": nullable(STR),
        "upstream_model": nullable(STR),
        "endpoint": nullable(STR),
        "status_code": nullable(INT),
        "duration_ms": nullable(INT),
        "stream": BOOL,
        "error_code": nullable(STR),
    },
    "id",
    "ts",
)

LOG_DETAIL: dict[str, Any] = {
    **LOG_ROW,
    "properties": {**LOG_ROW["properties"], "request_body": nullable(STR), "response_body": nullable(STR)},
}

ROUTES = (
    ApiRoute(
        "GET",
        "/logs",
        list_logs,
        "Requests, newest first, filtered; page with next_before_id (offset kept for old scripts)",
        "logs",
        params=(
            *_FILTERS,
            Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
            Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
        ),
        responses={
            200: obj(
                {"logs": arr(LOG_ROW), "next_before_id": nullable(INT), "total": nullable(INT)},
                "logs",
                "next_before_id",
            )
        },
    ),
    ApiRoute(
        "DELETE",
        "/logs",
        delete_logs,
        "Delete the requests older than `before` (ms)",
        "logs",
        params=(Param("before", {"type": "integer", "minimum": 0, "maximum": _MAX_MS}, required=True),),
        responses={200: obj({"removed": INT}, "removed")},
    ),
    ApiRoute(
        "GET",
        "/logs/export",
        export_logs,
        "The filtered requests as a streamed CSV or JSON-lines download (no bodies)",
        "logs",
        params=(*_FILTERS, Param("format", {"type": "string", "enum": ["csv", "jsonl"]})),
        media={200: {"text/csv": STR, "application/x-ndjson": STR}},
    ),
    ApiRoute(
        "GET",
        "/logs/{id}",
        get_log,
        "One request with its captured bodies (as the capture policy kept them)",
        "logs",
        params=(Param("id", STR, "path", True, "the log row id"),),
        responses={200: obj({"log": LOG_DETAIL}, "log")},
    ),
)
