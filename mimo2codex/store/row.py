"""One stored log row from a :class:`RequestRecord` (pure; both backends insert these dicts).

Column names follow the Node mimo2codex's ``chat_logs`` table where it had them, so a migrated
database and a new one read the same. Runs in the writer thread, never on the request path.
"""

from __future__ import annotations

import contextlib
import functools
import re
from typing import Any

import orjson

from mimo2codex.redaction import redact
from mimo2codex.request_log import RequestRecord
from mimo2codex.store import bodies, histogram
from mimo2codex.store.capture import CapturePolicy, cap

#: the log's columns in table order (``id`` is the backend's own key); types for DDL generators
LOG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ts", "int"),  # ms since the epoch, when the request arrived
    ("request_id", "text"),
    ("provider_id", "text"),
    ("client_model", "text"),
    ("upstream_model", "text"),
    ("endpoint", "text"),
    ("status_code", "int"),
    ("duration_ms", "int"),
    ("prompt_tokens", "int"),
    ("completion_tokens", "int"),
    ("total_tokens", "int"),
    ("cached_tokens", "int"),
    ("stream", "int"),
    ("error_code", "text"),
    ("error_snippet", "text"),
    ("tool_call_count", "int"),
    ("request_body", "text"),
    ("response_body", "text"),
    ("reasoning_tokens", "int"),
    ("ttft_ms", "int"),
    ("upstream_status", "int"),
    ("upstream_request_id", "text"),
    ("finish_reason", "text"),
    ("retries", "int"),
    ("rewritten_from", "text"),
    ("rewrite_reason", "text"),
    ("bytes_in", "int"),
    ("bytes_out", "int"),
    ("user_agent", "text"),
    ("codex_version", "text"),
    ("client_token", "text"),
    ("outcome", "text"),
    ("instance", "text"),
    ("notes", "text"),  # JSON object
    # precomputed histogram buckets: the exact-window edges of stats() group by them
    ("duration_bucket", "int"),
    ("ttft_bucket", "int"),
    # a long captured body: its pieces' digests in order (the pieces in body_pieces; store.bodies)
    ("request_pieces", "blob"),
    ("response_pieces", "blob"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in LOG_COLUMNS)
#: columns a list view shows (no bodies)
LIST_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in COLUMN_NAMES
    if name
    not in ("request_body", "response_body", "request_pieces", "response_pieces", "duration_bucket", "ttft_bucket")
)
DETAIL_COLUMNS: tuple[str, ...] = (*LIST_COLUMNS, "request_body", "response_body", "request_pieces", "response_pieces")

ERROR_SNIPPET_BYTES = 500
_USER_AGENT_BYTES = 300
_CODEX_UA = re.compile(r"\bcodex_[a-z_]+/(\d+\.\d+\.\d+[0-9A-Za-z.+-]*)")


def codex_version(user_agent: str) -> str | None:
    """``codex_exec/0.169.0 (Linux ...)`` -> ``0.169.0``; None for other clients.

    >>> codex_version("codex_cli_rs/0.169.0 (Mac OS 15.1.0; arm64) iTerm.app/3.5.10")
    '0.169.0'
    """
    match = _CODEX_UA.search(user_agent)
    return match.group(1) if match else None


@functools.lru_cache(maxsize=256)
def _client(user_agent: str, secrets: tuple[str, ...]) -> tuple[str, str | None]:
    """The stored user agent and its Codex version (remembered: a client sends the same one each time).

    A header the client controls: redacted like any other text that reaches the database.
    """
    scrubbed = cap(redact(user_agent, secrets), _USER_AGENT_BYTES)
    return scrubbed, codex_version(scrubbed)


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    return None


Tokens = tuple[int | None, int | None, int | None, int | None, int | None]


def usage_columns(usage: dict[str, Any] | None) -> Tokens:
    """The token columns (``prompt``, ``completion``, ``total``, ``cached``, ``reasoning``) from
    Responses-shaped usage (``input_tokens``, ``*_details``). A count is almost always an int: it
    is taken as it is, without a call (bool is not int here)."""
    usage = usage if isinstance(usage, dict) else {}
    in_details = usage.get("input_tokens_details") or {}
    out_details = usage.get("output_tokens_details") or {}
    prompt = usage.get("input_tokens")
    if type(prompt) is not int:
        prompt = _int(prompt)
    completion = usage.get("output_tokens")
    if type(completion) is not int:
        completion = _int(completion)
    total = usage.get("total_tokens")
    if type(total) is not int:
        total = _int(total)
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
    cached = in_details.get("cached_tokens") if isinstance(in_details, dict) else None
    if type(cached) is not int:
        cached = _int(cached)
    reasoning = out_details.get("reasoning_tokens") if isinstance(out_details, dict) else None
    if type(reasoning) is not int:
        reasoning = _int(reasoning)
    return prompt, completion, total, cached, reasoning


def record_to_row(record: RequestRecord, policy: CapturePolicy, instance: str) -> dict[str, Any]:
    keep_bodies = policy.wants(record)
    duration = round(record.duration_ms)
    ttft = None if record.first_event_ms is None else round(record.first_event_ms)
    user_agent, version = _client(record.user_agent[:_USER_AGENT_BYTES], policy.secrets)
    prompt, completion, total, cached, reasoning = usage_columns(record.usage)
    row: dict[str, Any] = {
        "ts": int(record.started_at * 1000),
        "request_id": record.request_id,
        "provider_id": record.provider,
        "client_model": record.client_model,
        "upstream_model": record.upstream_model,
        "endpoint": record.endpoint,
        "status_code": record.status,
        "duration_ms": duration,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "cached_tokens": cached,
        "reasoning_tokens": reasoning,
        "stream": int(record.stream),
        "error_code": record.error_code,
        "error_snippet": policy.scrub(record.error_message, ERROR_SNIPPET_BYTES),
        "tool_call_count": len(record.tool_calls),
        "ttft_ms": ttft,
        "upstream_status": record.upstream_status,
        "upstream_request_id": record.upstream_request_id,
        "finish_reason": record.finish_reason,
        "retries": max(0, record.upstream_attempts - 1),
        "rewritten_from": record.rewritten_from,
        "rewrite_reason": record.rewrite_reason,
        "bytes_in": record.bytes_in,
        "bytes_out": record.bytes_out,
        "user_agent": user_agent or None,
        "codex_version": version,
        "client_token": record.client_token,
        "outcome": record.outcome,
        "instance": instance,
        "notes": policy.scrub(orjson.dumps(record.notes, default=str).decode(), 64 << 10) if record.notes else None,
        "duration_bucket": histogram.bucket_of(duration),
        "ttft_bucket": None if ttft is None else histogram.bucket_of(ttft),
    }
    if not keep_bodies:
        row["request_body"] = row["request_pieces"] = row["response_body"] = row["response_pieces"] = None
        return row
    request = policy.render_pieces(record.request_body)
    response = policy.render_pieces(record.response_body)
    row["request_body"], row["request_pieces"] = bodies.columns(request)
    row["response_body"], row["response_pieces"] = bodies.columns(response)
    # the pieces of the bodies kept as manifests (read only: the redaction cache holds these lists too)
    if request is not None and len(request) > 1:
        row[bodies.PIECES] = request if response is None or len(response) == 1 else [*request, *response]
    elif response is not None and len(response) > 1:
        row[bodies.PIECES] = response
    return row


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the API returns it: ``stream`` a bool, ``notes`` parsed."""
    if "stream" in row:
        row["stream"] = bool(row["stream"])
    notes = row.get("notes")
    if isinstance(notes, str):
        with contextlib.suppress(orjson.JSONDecodeError):
            row["notes"] = orjson.loads(notes)
    return row
