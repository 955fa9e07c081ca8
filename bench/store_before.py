"""The dashboard's read path before the minute and daily rollups, kept to measure against in the same run.

Stats and timeseries then read a window's whole hours from the hourly rollups (SQLite: every row
decoded and merged in Python; PostgreSQL: summed in the server) and its two partial edge hours from the
raw log. ``python -m bench.store queries`` times these beside the store's own reads, on the same log
while the same requests flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mimo2codex.store import pg_rollups, rollup, sqlite_rollups
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
            found += _pg_hours(conn, parts.first_hour, parts.end_hour, bucket_ms)
        for start, end in parts.edges:
            found += pg_rollups.edge_parts(conn, start, end)
    return found


def _pg_hours(conn: Any, first_hour: int, end_hour: int, bucket_ms: int | None) -> Parts:
    """The old PostgreSQL read of whole hours: summed in the server per bucket and route."""
    group = "0" if bucket_ms is None else f"hour - hour %% {int(bucket_ms)}"
    route = ", ".join(pg_rollups.ROUTE)
    counters = conn.execute(
        f"SELECT {group} AS bucket, {route}, max(hour) AS last, {pg_rollups.COUNTER_SUMS} "
        "FROM log_rollups_hourly WHERE hour >= %s AND hour < %s GROUP BY 1, 2, 3, 4",
        (first_hour, end_hour),
    ).fetchall()
    sparse_sql = " UNION ALL ".join(
        f"SELECT {group} AS bucket, {route}, '{c}' AS kind, e.key AS k, sum(e.value::bigint)::bigint AS n "
        f"FROM log_rollups_hourly, jsonb_each_text({c}) AS e WHERE hour >= %s AND hour < %s GROUP BY 1, 2, 3, 4, 6"
        for c in pg_rollups.JSON_COLUMNS
    )
    sparse = conn.execute(sparse_sql, (first_hour, end_hour) * len(pg_rollups.JSON_COLUMNS)).fetchall()
    return _assemble(counters, sparse, per_route=bucket_ms is None)


def stats(store: Store, since_ms: int, until_ms: int) -> dict[str, Any]:
    return rollup.report(_window(store, since_ms, until_ms, None), since_ms, until_ms)


def timeseries(store: Store, since_ms: int, until_ms: int, bucket: Bucket) -> list[dict[str, Any]]:
    size = rollup.HOUR_MS if bucket == "hour" else rollup.DAY_MS
    return rollup.series(_window(store, since_ms, until_ms, size), since_ms, until_ms, size)


def _assemble(
    counters: Iterable[Mapping[str, Any]], sparse: Iterable[Mapping[str, Any]], *, per_route: bool
) -> list[tuple[rollup.RollupKey, rollup.Rollup]]:
    """Rollups from a level's sums computed in the database.

    ``counters`` rows: ``bucket``, the route, ``last`` (the newest unit start) and the summed
    counters; ``sparse`` rows: ``bucket``, the route, ``kind`` (a JSON column), ``k`` and ``n``.
    With ``per_route`` (stats) the key's time is the route's newest hour, which the stats report as
    when the route was last seen; otherwise it is the bucket.
    """
    keyed: dict[rollup.RollupKey, rollup.Rollup] = {}
    times: dict[rollup.RollupKey, int] = {}
    for row in counters:
        key = (int(row["bucket"]), str(row["provider_id"]), str(row["client_model"]), str(row["upstream_model"]))
        keyed[key] = rollup.Rollup.from_columns(row)
        times[key] = rollup.hour_of(int(row["last"])) if per_route else key[0]
    for row in sparse:
        found = keyed[
            (int(row["bucket"]), str(row["provider_id"]), str(row["client_model"]), str(row["upstream_model"]))
        ]
        kind, bucket, n = row["kind"], str(row["k"]), int(row["n"])
        if kind == "errors_by_code":
            found.errors_by_code[bucket] = found.errors_by_code.get(bucket, 0) + n
        elif kind == "latency_hist":
            found.latency[int(bucket)] = found.latency.get(int(bucket), 0) + n
        else:
            found.ttft[int(bucket)] = found.ttft.get(int(bucket), 0) + n
    return [((times[key], key[1], key[2], key[3]), part) for key, part in keyed.items()]
