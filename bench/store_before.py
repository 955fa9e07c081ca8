"""The dashboard's read path before the minute and daily rollups, kept to measure against in the same run.

Stats and timeseries then read a window's whole hours from the hourly rollups (SQLite: every row
decoded and merged in Python; PostgreSQL: summed in the server) and its two partial edge hours from the
raw log. ``python -m bench.store queries`` times these beside the store's own reads, on the same log
while the same requests flow.
"""

from __future__ import annotations

from typing import Any

from mimo2codex.store import levels, pg_rollups, rollup, sqlite_rollups
from mimo2codex.store.base import Bucket, Store

Parts = list[tuple[rollup.RollupKey, rollup.Rollup]]


def _window(store: Store, since_ms: int, until_ms: int, bucket_ms: int | None) -> Parts:
    parts = rollup.window_parts(since_ms, until_ms)
    found: Parts = []
    if store.backend == "sqlite":
        query = store._rows  # type: ignore[attr-defined]
        if parts.end_hour > parts.first_hour:
            names = ("hour", *sqlite_rollups.ROUTE, *sqlite_rollups.ROLLUP_COLUMNS)
            sql = f"SELECT {', '.join(names)} FROM log_rollups_hourly WHERE hour >= ? AND hour < ?"
            for row in query(sql, (parts.first_hour, parts.end_hour)):
                key = (int(row["hour"]), row["provider_id"], row["client_model"], row["upstream_model"])
                found.append((key, rollup.Rollup.from_columns(row)))
        for start, end in parts.edges:
            found += list(sqlite_rollups.edge_rollups(query, start, end).items())
        return found
    with store._readers().connection() as conn:  # type: ignore[attr-defined]
        if parts.end_hour > parts.first_hour:
            found += pg_rollups.level_parts(conn, levels.HOUR, [(parts.first_hour, parts.end_hour)], bucket_ms)
        for start, end in parts.edges:
            found += pg_rollups.edge_parts(conn, start, end)
    return found


def stats(store: Store, since_ms: int, until_ms: int) -> dict[str, Any]:
    return rollup.report(_window(store, since_ms, until_ms, None), since_ms, until_ms)


def timeseries(store: Store, since_ms: int, until_ms: int, bucket: Bucket) -> list[dict[str, Any]]:
    size = rollup.HOUR_MS if bucket == "hour" else rollup.DAY_MS
    return rollup.series(_window(store, since_ms, until_ms, size), since_ms, until_ms, size)
