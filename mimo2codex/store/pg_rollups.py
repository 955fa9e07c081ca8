"""The rollups on PostgreSQL (per minute, hour and day, :mod:`mimo2codex.store.levels`): the writer's
upserts, the readers' sums, pruning and the backfill (a part of PostgresStore).

The rollups' histograms and error counts are ``jsonb`` objects: an upsert adds a batch's deltas to
them in the server (``m2c_jsonb_add``, :mod:`mimo2codex.store.pg_schema`), so two instances writing
the same hour and route never lose each other's counts; a reader sums a window's rows per bucket and
route in the server too, so only the sums come back: stats from the per-route rows, timeseries from
each level's route-less totals (one row per unit), every query of a window in one pipeline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mimo2codex.store import levels, rollup
from mimo2codex.store.levels import Level

if TYPE_CHECKING:
    import psycopg

Parts = list[tuple[rollup.RollupKey, rollup.Rollup]]

ROUTE = ("provider_id", "client_model", "upstream_model")
KEY = ("hour", *ROUTE)
JSON_COLUMNS = ("errors_by_code", "latency_hist", "ttft_hist")


_ARRAY_TYPES = ("int8", "text", "text", "text", *("int8" for _ in rollup.COUNTERS), *("text" for _ in JSON_COLUMNS))


def upsert_arrays_sql(level: Level) -> str:
    """Add a batch's deltas to ``level``'s rows, counters and JSON objects summed in the server.

    Every key at once: each column one array (``%b``: sent in binary, no quoting of the JSON texts),
    unnested in the keys' order, so one statement per level whatever the number of keys, and its
    text the same every batch (prepared once by the driver)."""
    names = (level.column, *ROUTE, *rollup.COUNTERS, *JSON_COLUMNS)
    arrays = ", ".join(f"%b::{kind}[]" for kind in _ARRAY_TYPES)
    selected = ", ".join((*names[: -len(JSON_COLUMNS)], *(f"{c}::jsonb" for c in JSON_COLUMNS)))
    return (
        f"INSERT INTO {level.table} AS r ({', '.join(names)}) SELECT {selected} "
        f"FROM unnest({arrays}) WITH ORDINALITY AS d({', '.join(names)}, ord) "
        # the keys' order (sorted by the caller): two instances lock the same rows in one order
        "ORDER BY ord "
        f"ON CONFLICT ({level.column}, {', '.join(ROUTE)}) DO UPDATE SET "
        + ", ".join(
            [f"{c} = r.{c} + excluded.{c}" for c in rollup.COUNTERS]
            + [f"{c} = m2c_jsonb_add(r.{c}, excluded.{c})" for c in JSON_COLUMNS]
        )
    )


UPSERT_ARRAYS: dict[Level, str] = {level: upsert_arrays_sql(level) for level in levels.STORED}


def upsert_arrays(deltas: Mapping[rollup.RollupKey, rollup.Rollup]) -> list[list[Any]]:
    """The parameters of an :func:`upsert_arrays_sql` statement: one list per column, keys sorted."""
    return [list(column) for column in zip(*(rollup_params(key, deltas[key]) for key in sorted(deltas)), strict=True)]


def add_levels(conn: psycopg.Connection[Any], deltas: Mapping[Level, Mapping[rollup.RollupKey, rollup.Rollup]]) -> None:
    """Add a batch's ``deltas`` to each level's rows (inside the caller's transaction): one statement
    per level, all sent in one pipeline (one wait for the server), levels in :data:`levels.STORED`
    order like every instance."""
    with conn.pipeline(), conn.cursor() as cur:
        for level, level_deltas in deltas.items():
            if level_deltas:
                cur.execute(UPSERT_ARRAYS[level], upsert_arrays(level_deltas))


COUNTER_SUMS = ", ".join(f"sum({c})::bigint AS {c}" for c in rollup.COUNTERS)
#: A partial edge hour of a window, from the raw rows, in two small sums: the counters per route and
#: error (rollup.edge_rollup adds them up exactly), and the histograms per route and bucket. One
#: grouping by both would return a group per route, error and bucket pair: thousands of rows to decode.
_EDGE_KEY = (
    "ts - ts %% {size} AS hour, coalesce(provider_id, '') AS provider_id, "
    "coalesce(client_model, '') AS client_model, coalesce(upstream_model, '') AS upstream_model"
)
EDGE_COUNTERS_SQL = f"""
SELECT {_EDGE_KEY}, error_code,
       CASE WHEN error_code IS NULL AND status_code >= 400 THEN status_code END AS status_code,
       coalesce(status_code >= 400, false) OR error_code IS NOT NULL AS is_error,
       CASE WHEN outcome = 'cancelled' THEN 'cancelled' END AS outcome,
       count(*) AS n, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens,
       sum(total_tokens) AS total_tokens, sum(cached_tokens) AS cached_tokens,
       sum(reasoning_tokens) AS reasoning_tokens, sum(duration_ms) AS duration_sum, sum(ttft_ms) AS ttft_sum,
       sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out
FROM chat_logs WHERE ts >= %s AND ts < %s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
EDGE_HISTOGRAMS_SQL = f"""
SELECT {_EDGE_KEY}, 'latency' AS kind, duration_bucket AS bucket, count(*) AS n
FROM chat_logs WHERE ts >= %s AND ts < %s GROUP BY 1, 2, 3, 4, 6
UNION ALL
SELECT {_EDGE_KEY}, 'ttft' AS kind, ttft_bucket AS bucket, count(*) AS n
FROM chat_logs WHERE ts >= %s AND ts < %s AND ttft_bucket IS NOT NULL GROUP BY 1, 2, 3, 4, 6
"""


MINUTE_BACKFILL_SQL = levels.minute_backfill_sql(placeholder="%s", modulo="%%", object_agg="jsonb_object_agg")


def rollup_params(key: rollup.RollupKey, delta: rollup.Rollup) -> tuple[Any, ...]:
    """One key's delta as a row of :func:`upsert_arrays_sql`'s columns."""
    columns = delta.to_columns()
    return (*key, *(columns[c] for c in rollup.COUNTERS), *(columns[c] for c in JSON_COLUMNS))


def _dicts(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """``sql``'s rows as dicts, whatever the connection's own row factory (the migration's is tuples)."""
    from psycopg.rows import dict_row  # the driver is imported only when PostgreSQL is used

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


Query = tuple[str, Sequence[Any]]


def _pipelined(
    conn: psycopg.Connection[Any], queries: Sequence[Query], *, snapshot: bool = False
) -> list[list[dict[str, Any]]]:
    """Each query's rows as dicts, all sent at once in a pipeline: one wait for the server instead of
    one per query. Each wait releases the GIL, and taking it back behind a busy thread (the writer,
    the event loop) can cost a switch interval (5 ms): with a busy thread beside it, a stats read of
    six queries took 100 ms at p50 where one pipelined wait keeps it at half that. ``snapshot``: in
    one read-only repeatable-read transaction, so every query sees the same committed batches."""
    from psycopg.rows import dict_row  # the driver is imported only when PostgreSQL is used

    if len(queries) == 1 and not snapshot:
        return [_dicts(conn, *queries[0])]
    cursors = []
    with conn.pipeline(), conn.transaction() if snapshot else contextlib.nullcontext():
        if snapshot:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for sql, params in queries:
            cursor = conn.cursor(row_factory=dict_row)
            cursor.execute(sql, params)
            cursors.append(cursor)
    out = []
    for cursor in cursors:
        with cursor:
            out.append(cursor.fetchall())
    return out


def level_query(level: Level, ranges: Sequence[levels.Range], bucket_ms: int | None) -> Query:
    """``level``'s rows in ``ranges`` summed per bucket (None: per route only) and route.

    One grouped query: the counters summed in the server, and each JSON column's objects of the
    group gathered into one JSON array, parsed at once and added up in Python. (Summing them in the
    server with ``jsonb_each`` was the slowest part of a read.) The array is built with ``json_agg``,
    which writes each ``jsonb`` out as text once: ``jsonb_agg(...)::text`` first copied every object
    into a new ``jsonb`` array and then printed that, about 3x the server time (measured: 15.5 vs
    5.3 ms for a day's 184 hourly rows).
    """
    col = level.column
    condition, params = levels.range_condition(col, ranges, "%s")
    group = "0" if bucket_ms is None else f"{col} - {col} %% {int(bucket_ms)}"
    # a timeseries sums every route of a bucket: grouped by the bucket alone
    route, grouping = (", ".join(ROUTE), "1, 2, 3, 4") if bucket_ms is None else (levels.NO_ROUTE, "1")
    lists = ", ".join(f"json_agg({c})::text AS {c}" for c in JSON_COLUMNS)
    return (
        f"SELECT {group} AS bucket, {route}, max({col}) AS last, {COUNTER_SUMS}, {lists} "
        f"FROM {level.table} WHERE {condition} GROUP BY {grouping}",
        params,
    )


def _level_rollups(
    conn: psycopg.Connection[Any], level: Level, rows: list[dict[str, Any]], bucket_ms: int | None
) -> Parts:
    if bucket_ms is None and level is levels.DAY:
        newest = levels.newest_hour_sql(rows, "%s")
        if newest is not None:
            rows = levels.with_newest_hours(rows, _dicts(conn, *newest))
    return levels.parts_from_lists(rows, per_route=bucket_ms is None)


def edge_queries(since_ms: int, until_ms: int, size_ms: int = rollup.HOUR_MS) -> tuple[Query, Query]:
    """The two sums of the raw rows of ``[since_ms, until_ms)`` per ``size_ms`` unit (an hour) and
    route: the counters, and the histograms."""
    size = str(int(size_ms))
    return (
        (EDGE_COUNTERS_SQL.replace("{size}", size), (since_ms, until_ms)),
        (EDGE_HISTOGRAMS_SQL.replace("{size}", size), (since_ms, until_ms) * 2),
    )


def _edge_rollups(counters: list[dict[str, Any]], histograms: list[dict[str, Any]]) -> Parts:
    keyed: dict[rollup.RollupKey, rollup.Rollup] = {}
    for row in counters:
        key, part = rollup.edge_rollup(row)
        part.latency, part.ttft = {}, {}  # the histograms come from their own sum below
        found = keyed.get(key)
        keyed[key] = part if found is None else found.merge(part)
    for row in histograms:
        key = (int(row["hour"]), row["provider_id"], row["client_model"], row["upstream_model"])
        target = keyed[key].latency if row["kind"] == "latency" else keyed[key].ttft
        bucket = int(row["bucket"] or 0)
        target[bucket] = target.get(bucket, 0) + int(row["n"])
    return list(keyed.items())


def edge_parts(conn: psycopg.Connection[Any], since_ms: int, until_ms: int, size_ms: int = rollup.HOUR_MS) -> Parts:
    """The raw rows of ``[since_ms, until_ms)`` per ``size_ms`` unit (an hour) and route."""
    return _edge_rollups(*_pipelined(conn, edge_queries(since_ms, until_ms, size_ms)))


def window(
    conn: psycopg.Connection[Any],
    since_ms: int,
    until_ms: int,
    bucket_ms: int | None,
    now_ms: int | None = None,
) -> Parts:
    """A window's rollups: each level's whole units summed in the server, sub-minute edges from raw
    rows; every query sent in one pipeline (:func:`_pipelined`). A timeseries reads each level's
    route-less totals (:func:`mimo2codex.store.levels.read_level`).

    An edge whose minute is mostly outside the window, and the last partial hour of a window ending
    now (up to an hour of the busiest minutes; its newest minute alone holds 6,000 rows at 100
    requests/s, ~30 ms to group), are read as their minute's or hour's rollup minus the raw rows of
    the rest (:func:`levels.reads`), added as negated parts. Both must see the same rows, so such a
    read runs in one read-only repeatable-read transaction: a batch committed between them would be
    counted but not taken away. ``now_ms`` (default: the wall clock) only decides what is cheaper.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    planned = levels.reads(since_ms, until_ms, bucket_ms, now)
    queries: list[Query] = []
    for read in planned:
        if read.level is None:
            queries += edge_queries(*read.ranges[0])
        else:
            queries.append(level_query(levels.read_level(read.level, bucket_ms), read.ranges, bucket_ms))
    results = iter(_pipelined(conn, queries, snapshot=any(read.negative for read in planned)))
    found: Parts = []
    for read in planned:
        if read.level is None:
            parts = _edge_rollups(next(results), next(results))
        else:
            parts = _level_rollups(conn, levels.read_level(read.level, bucket_ms), next(results), bucket_ms)
        found += [(key, part.negated()) for key, part in parts] if read.negative else parts
    return found


#: rollup units a pruning step deletes at most (times the routes)
PRUNE_UNITS = 60


def prune_minutes(conn: psycopg.Connection[Any], before_ms: int) -> int:
    """Delete the oldest minute rollups and totals before ``before_ms``, at most :data:`PRUNE_UNITS`
    minutes of each; returns the rows deleted."""
    deleted = 0
    for table in (levels.MINUTE.table, levels.TOTALS_OF[levels.MINUTE].table):
        col = levels.MINUTE.column
        cursor = conn.execute(
            f"DELETE FROM {table} WHERE {col} < %s AND {col} < (SELECT min({col}) FROM {table}) + %s",
            (before_ms, PRUNE_UNITS * levels.MINUTE_MS),
        )
        deleted += int(cursor.rowcount)
    return deleted


def backfill(conn: psycopg.Connection[Any]) -> None:
    """Fill the minute rollups from the raw log (a day at a time) and the daily ones from the hourly
    rollups (summed in the server), so a database written before the levels existed answers exactly."""
    bounds = _dicts(conn, "SELECT min(ts) AS low, max(ts) AS high FROM chat_logs", ())[0]
    if bounds["low"] is not None:
        day = int(bounds["low"]) - int(bounds["low"]) % rollup.DAY_MS
        while day <= int(bounds["high"]):
            conn.execute(MINUTE_BACKFILL_SQL, (day, day + rollup.DAY_MS) * 4)
            day += rollup.DAY_MS
    conn.execute(
        f"INSERT INTO {levels.DAY.table} ({levels.DAY.column}, {', '.join(ROUTE)}, "
        f"{', '.join(rollup.COUNTERS)}, {', '.join(JSON_COLUMNS)}) "
        f"SELECT hour - hour % {rollup.DAY_MS}, {', '.join(ROUTE)}, "
        + ", ".join(f"sum({c})" for c in rollup.COUNTERS)
        + ", "
        + ", ".join(f"m2c_jsonb_sum({c})" for c in JSON_COLUMNS)
        + f" FROM {levels.HOUR.table} GROUP BY 1, 2, 3, 4"
    )


TOTALS_BACKFILL_SQL = {
    level: levels.totals_backfill_sql(level, placeholder="%s", each="jsonb_each_text", object_agg="jsonb_object_agg")
    for level in levels.LEVELS
}


def backfill_totals(conn: psycopg.Connection[Any]) -> None:
    """Fill every level's route-less totals from its per-route rows, summed in the server (a day of
    minutes per statement), so a database written before the totals existed answers at once."""
    for level in levels.LEVELS:
        col = level.column
        bounds = _dicts(conn, f"SELECT min({col}) AS low, max({col}) AS high FROM {level.table}", ())[0]
        for start, end in levels.backfill_steps(level, bounds["low"], bounds["high"]):
            conn.execute(TOTALS_BACKFILL_SQL[level], (start, end) * 4)
