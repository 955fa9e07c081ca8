"""The WHERE clause of a :class:`LogQuery` (pure): both backends and their paging share it.

Only the placeholder differs between drivers (``?`` for sqlite3, ``%s`` for psycopg):

>>> where(LogQuery(provider="mimo", status_class="4xx"), "%s")
(['provider_id = %s', 'status_code BETWEEN %s AND %s'], ['mimo', 400, 499])
"""

from __future__ import annotations

from typing import Any

from mimo2codex.store.base import LogQuery

#: the predicate of the partial "errors" index: keep the two identical so the planner uses it
ERROR_PREDICATE = "(status_code >= 400 OR error_code IS NOT NULL)"


def where(query: LogQuery, mark: str) -> tuple[list[str], list[Any]]:
    """``(clauses, params)`` for the filters of ``query`` (paging ids excluded), ``mark`` the placeholder."""
    clauses: list[str] = []
    params: list[Any] = []
    if query.provider:
        clauses.append(f"provider_id = {mark}")
        params.append(query.provider)
    if query.model:
        clauses.append(f"(client_model = {mark} OR upstream_model = {mark})")
        params += [query.model, query.model]
    if query.status_class:
        status = query.status_class.lower()
        if status == "error":
            clauses.append(ERROR_PREDICATE)
        elif len(status) == 3 and status[0].isdigit() and status.endswith("xx"):
            low = int(status[0]) * 100
            clauses.append(f"status_code BETWEEN {mark} AND {mark}")
            params += [low, low + 99]
        else:
            raise ValueError(f"status_class must be 2xx, 4xx, 5xx or error, got {query.status_class!r}")
    if query.error_code:
        clauses.append(f"error_code = {mark}")
        params.append(query.error_code)
    if query.endpoint:
        clauses.append(f"endpoint = {mark}")
        params.append(query.endpoint)
    if query.stream is not None:
        clauses.append(f"stream = {mark}")
        params.append(int(query.stream))
    if query.since_ms is not None:
        clauses.append(f"ts >= {mark}")
        params.append(query.since_ms)
    if query.until_ms is not None:
        clauses.append(f"ts < {mark}")
        params.append(query.until_ms)
    return clauses, params
