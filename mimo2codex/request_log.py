"""The request-log hook: one :class:`RequestRecord` per request, handed to every subscriber.

Subscribers must not block: the store (mimo2codex.store) enqueues the record for its writer thread,
and the default subscriber writes one log line. Records hold no secrets, and bodies only as
references for the store's writer, which redacts them (``request_body``/``response_body``, kept out
of the repr).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("mimo2codex.requests")


@dataclass(slots=True)
class RequestRecord:
    request_id: str
    endpoint: str
    started_at: float
    stream: bool
    client_model: str = ""
    provider: str = ""
    upstream_model: str = ""
    #: HTTP status sent to the client
    status: int = 200
    #: completed | incomplete | failed | error | cancelled | probe
    outcome: str = "completed"
    error_code: str | None = None
    error_message: str | None = None
    #: Responses-shaped usage (input_tokens, output_tokens, total_tokens, details)
    usage: dict[str, Any] | None = None
    tool_calls: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    #: milliseconds from arrival to the first output event / to the end
    first_event_ms: float | None = None
    duration_ms: float = 0.0
    upstream_attempts: int = 0
    #: what features did to this request, for the log's ``notes`` column: e.g. ``{"vision": [...]}``
    #: (images bridged), ``{"compacted": {...}}`` (auto-compaction). Plain JSON values only.
    notes: dict[str, Any] = field(default_factory=dict)
    # -- for the stored log (mimo2codex.store): plain values and references, nothing serialized here
    #: the upstream's own HTTP status and request id (x-request-id and the like)
    upstream_status: int | None = None
    upstream_request_id: str | None = None
    #: the model the client asked for when routing replaced it, and why (never an error code)
    rewritten_from: str | None = None
    rewrite_reason: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    user_agent: str = ""
    #: which inbound token authenticated the request: a label ("token#1"), never the token
    client_token: str | None = None
    #: references kept only when the capture policy may store bodies (raw request bytes; the final
    #: response object, raw response bytes or streamed text); the store's writer serializes and
    #: redacts them. Unredacted, so never in a repr (a log line or a test failure would show them).
    request_body: Any = field(default=None, repr=False)
    response_body: Any = field(default=None, repr=False)


RecordHook = Callable[[RequestRecord], None]


def log_record(record: RequestRecord) -> None:
    """The default subscriber: one INFO line per request."""
    if not log.isEnabledFor(logging.INFO):
        return
    usage = record.usage or {}
    route = f"{record.client_model}"
    if record.provider:
        route += f" -> {record.provider}/{record.upstream_model}"
    detail = f" {record.error_code}: {record.error_message}" if record.error_code else ""
    args = (
        record.endpoint,
        route,
        record.status,
        record.outcome,
        record.duration_ms,
        usage.get("input_tokens", "-"),
        usage.get("output_tokens", "-"),
        len(record.tool_calls),
        detail,
    )
    # makeRecord + handle is log.info without its caller lookup (a walk up the stack, then the file
    # name split), a third of the line's cost on every request, for fields our format never shows.
    # The record still goes through the record factory (the redaction), filters and handlers.
    log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, _LINE, args, None, "log_record"))


_LINE = "%s %s %d %s %.0fms in=%s out=%s tools=%d%s"
