"""The rollup levels on SQLite: the writer's upserts, the readers' sums, pruning and the backfill.

Readers sum a level's rows per bucket and route in SQL (``SUM`` for the counters; the histograms and
error counts gathered into one JSON array per group), so only the sums reach Python; a timeseries
reads the route-less totals (:data:`mimo2codex.store.levels.TOTALS_OF`), one row per unit. The
sub-minute edges of a window are grouped from the raw log by :func:`edge_rollups`, also used to
fold a Node database's rows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from mimo2codex.store import levels, rollup
from mimo2codex.store.levels import Level
from mimo2codex.store.multirow import MultiRow, largest_rows

Query = Callable[[str, Sequence[Any]], Iterator[dict[str, Any]]]
Parts = list[tuple[rollup.RollupKey, rollup.Rollup]]

ROLLUP_COLUMNS = (*rollup.COUNTERS, "errors_by_code", "latency_hist", "ttft_hist")
JSON_COLUMNS = ("errors_by_code", "latency_hist", "ttft_hist")
ROUTE = ("provider_id", "client_model", "upstream_model")
#: rollup units a pruning step deletes at most (times the routes): the step stays short
PRUNE_UNITS = 60

#: the raw rows of ``[start, end)`` in three small groupings per ``{size}`` unit and route (so the
#: groups stay few: keys x error labels, keys x latency buckets, keys x TTFT buckets)
_EDGE_KEY = "ts - ts % {size} AS hour, provider_id, client_model, upstream_model"
EDGE_COUNTS_SQL = f"""
SELECT {_EDGE_KEY},
       COALESCE(error_code, CASE WHEN status_code >= 400 THEN 'http_' || status_code END) AS error_label,
       COUNT(*) AS n, SUM(outcome = 'cancelled') AS cancelled, SUM(prompt_tokens) AS prompt_tokens,
       SUM(completion_tokens) AS completion_tokens, SUM(total_tokens) AS total_tokens,
       SUM(cached_tokens) AS cached_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
       SUM(duration_ms) AS duration_sum, SUM(ttft_ms) AS ttft_sum, SUM(bytes_in) AS bytes_in,
       SUM(bytes_out) AS bytes_out
FROM chat_logs WHERE ts >= ? AND ts < ? GROUP BY 1, 2, 3, 4, 5
"""
EDGE_LATENCY_SQL = f"""
SELECT {_EDGE_KEY}, duration_bucket AS bucket, COUNT(*) AS n
FROM chat_logs WHERE ts >= ? AND ts < ? GROUP BY 1, 2, 3, 4, 5
"""
EDGE_TTFT_SQL = f"""
SELECT {_EDGE_KEY}, ttft_bucket AS bucket, COUNT(*) AS n
FROM chat_logs WHERE ts >= ? AND ts < ? AND ttft_bucket IS NOT NULL GROUP BY 1, 2, 3, 4, 5
"""


def edge_rollups(
    query: Query, start: int, end: int, size_ms: int = rollup.HOUR_MS
) -> dict[rollup.RollupKey, rollup.Rollup]:
    """The rollups of the raw rows with ``start <= ts < end``, per ``size_ms`` unit and route."""
    found: dict[rollup.RollupKey, rollup.Rollup] = {}
    size = int(size_ms)
    for columns in query(EDGE_COUNTS_SQL.format(size=size), (start, end)):
        rollup.add_edge_counts(found, columns)
    for columns in query(EDGE_LATENCY_SQL.format(size=size), (start, end)):
        rollup.add_edge_histogram(found, columns, "latency")
    for columns in query(EDGE_TTFT_SQL.format(size=size), (start, end)):
        rollup.add_edge_histogram(found, columns, "ttft")
    return found


MINUTE_BACKFILL_SQL = levels.minute_backfill_sql(placeholder="?", modulo="%", object_agg="json_group_object")


def table_sql(level: Level) -> str:
    counters = ",\n  ".join(f"{name} INTEGER NOT NULL DEFAULT 0" for name in rollup.COUNTERS)
    return f"""CREATE TABLE {level.table} (
  {level.column} INTEGER NOT NULL,
  provider_id TEXT NOT NULL,
  client_model TEXT NOT NULL,
  upstream_model TEXT NOT NULL,
  {counters},
  errors_by_code TEXT NOT NULL DEFAULT '{{}}',
  latency_hist TEXT NOT NULL DEFAULT '{{}}',
  ttft_hist TEXT NOT NULL DEFAULT '{{}}',
  PRIMARY KEY ({level.column}, provider_id, client_model, upstream_model)
) WITHOUT ROWID"""


def _replace_sql(level: Level, rows: int) -> str:
    names = (level.column, *ROUTE, *ROLLUP_COLUMNS)
    one = f"({', '.join('?' * len(names))})"
    return f"INSERT OR REPLACE INTO {level.table} ({', '.join(names)}) VALUES {', '.join([one] * rows)}"


def _replacer(level: Level) -> MultiRow:
    return MultiRow(lambda rows: _replace_sql(level, rows), 1 + len(ROUTE) + len(ROLLUP_COLUMNS), 64)


_REPLACES: dict[Level, MultiRow] = {level: _replacer(level) for level in levels.STORED}
#: keys one lookup statement binds at most (4 values each: far below any SQLite's variable limit)
_LOOKUP_KEYS = 128


def _lookup_part(index: int, level: Level, keys: int) -> str:
    """The stored rows of ``keys`` keys of ``level``, tagged ``index``: each key found by its
    primary key (a join from the keys; ``(...) IN (VALUES ...)`` of several rows scans the table)."""
    col = level.column
    values = ", ".join(["(?, ?, ?, ?)"] * keys)
    return (
        f"SELECT {index}, t.{col}, t.provider_id, t.client_model, t.upstream_model, "
        f"{', '.join(f't.{c}' for c in ROLLUP_COLUMNS)} FROM (VALUES {values}) AS k "
        f"CROSS JOIN {level.table} AS t ON t.{col} = k.column1 AND t.provider_id = k.column2 "
        "AND t.client_model = k.column3 AND t.upstream_model = k.column4"
    )


def _stored(
    conn: sqlite3.Connection, deltas: Mapping[Level, Mapping[rollup.RollupKey, rollup.Rollup]]
) -> dict[tuple[int, rollup.RollupKey], tuple[Any, ...]]:
    """The stored columns of every key of ``deltas`` already present, by (level's index, key): one
    statement for a batch's few keys of every level. A level's keys are padded to a power of two (by
    repeating one) so that the statement texts stay few in the statement cache."""
    limit = largest_rows(conn, 4, _LOOKUP_KEYS)
    parts: list[tuple[str, list[Any]]] = []
    for index, (level, level_deltas) in enumerate(deltas.items()):
        keys = list(level_deltas)
        for start in range(0, len(keys), limit):
            chunk = keys[start : start + limit]
            padded = 1 << (len(chunk) - 1).bit_length()
            chunk += [chunk[-1]] * (padded - len(chunk))
            params: list[Any] = []
            for key in chunk:
                params += key
            parts.append((_lookup_part(index, level, padded), params))
    found: dict[tuple[int, rollup.RollupKey], tuple[Any, ...]] = {}
    used = 0
    statement: list[str] = []
    params = []
    for at, (sql, part_params) in enumerate(parts):
        statement.append(sql)
        params += part_params
        used += len(part_params)
        if at + 1 == len(parts) or used + len(parts[at + 1][1]) > limit * 4:
            for row in conn.execute(" UNION ALL ".join(statement), params):
                found[(row[0], (row[1], row[2], row[3], row[4]))] = row[5:]
            statement, params, used = [], [], 0
    return found


def add_levels(conn: sqlite3.Connection, deltas: Mapping[Level, Mapping[rollup.RollupKey, rollup.Rollup]]) -> None:
    """Add a batch's ``deltas`` to each level's stored rows (the caller holds the write transaction,
    so nothing changes them between the read and the write): the stored rows of the batch's keys read
    at once (:func:`_stored`), merged in Python, and written back in a few multi-row statements."""
    found = _stored(conn, deltas)
    for index, (level, level_deltas) in enumerate(deltas.items()):
        values: list[Any] = []
        for key, delta in level_deltas.items():
            stored = found.get((index, key))
            if stored is not None:
                delta = rollup.Rollup.from_columns(dict(zip(ROLLUP_COLUMNS, stored, strict=True))).merge(delta)
            columns = delta.to_columns()
            values += key
            values += [columns[name] for name in ROLLUP_COLUMNS]
        _REPLACES[level].execute(conn, values)


def level_parts(query: Query, level: Level, ranges: Sequence[levels.Range], bucket_ms: int | None) -> Parts:
    """``level``'s rows in ``ranges`` summed per bucket (None: per route only) and route.

    One grouped query: the counters summed in SQL, and each JSON column's objects of the group
    concatenated into one JSON array, parsed at once and added up in Python. (Summing them in SQL
    with ``json_each`` was 3-4x slower: a virtual-table row and a temp B-tree entry per bucket.)
    """
    col = level.column
    condition, params = levels.range_condition(col, ranges, "?")
    group = "0" if bucket_ms is None else f"{col} - {col} % {int(bucket_ms)}"
    sums = ", ".join(f"SUM({c}) AS {c}" for c in rollup.COUNTERS)
    lists = ", ".join(f"'[' || group_concat({c}) || ']' AS {c}" for c in JSON_COLUMNS)
    # a timeseries sums every route of a bucket: grouped by the bucket alone, Python merges 8x less
    route, grouping = (", ".join(ROUTE), "1, 2, 3, 4") if bucket_ms is None else (levels.NO_ROUTE, "1")
    rows = list(
        query(
            f"SELECT {group} AS bucket, {route}, MAX({col}) AS last, {sums}, {lists} "
            f"FROM {level.table} WHERE {condition} GROUP BY {grouping}",
            params,
        )
    )
    if bucket_ms is None and level is levels.DAY:
        newest = levels.newest_hour_sql(rows, "?")
        if newest is not None:
            rows = levels.with_newest_hours(rows, query(*newest))
    return levels.parts_from_lists(rows, per_route=bucket_ms is None)


def window(query: Query, since_ms: int, until_ms: int, bucket_ms: int | None, now_ms: int | None = None) -> Parts:
    """A window's rollups: each level's whole units summed in SQL, the sub-minute edges from raw rows.

    An edge whose minute is mostly outside the window, and the last partial hour of a window ending
    now, are read as their minute's or hour's rollup minus the raw rows of the rest
    (:func:`levels.reads`), as negated parts, in one read transaction, so both see the same
    committed batches. ``query`` runs on one connection in autocommit mode (the
    store's reader). ``now_ms`` (default: the wall clock) only decides what is cheaper.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    planned = levels.reads(since_ms, until_ms, bucket_ms, now)
    snapshot = any(read.negative for read in planned)
    if snapshot:
        list(query("BEGIN", ()))
    try:
        found: Parts = []
        for read in planned:
            if read.level is None:
                parts = list(edge_rollups(query, *read.ranges[0]).items())
            else:
                parts = level_parts(query, levels.read_level(read.level, bucket_ms), read.ranges, bucket_ms)
            found += [(key, part.negated()) for key, part in parts] if read.negative else parts
    finally:
        if snapshot:
            list(query("COMMIT", ()))
    return found


def prune_minutes(conn: sqlite3.Connection, before_ms: int) -> int:
    """Delete the oldest minute rollups and totals before ``before_ms``, at most :data:`PRUNE_UNITS`
    minutes of each; returns the rows deleted."""
    deleted = 0
    for table in (levels.MINUTE.table, levels.TOTALS_OF[levels.MINUTE].table):
        col = levels.MINUTE.column
        cursor = conn.execute(
            f"DELETE FROM {table} WHERE {col} < ? AND {col} < (SELECT min({col}) FROM {table}) + ?",
            (before_ms, PRUNE_UNITS * levels.MINUTE_MS),
        )
        deleted += int(cursor.rowcount)
    return deleted


def _dict_query(conn: sqlite3.Connection) -> Query:
    def query(sql: str, params: Sequence[Any]) -> Iterator[dict[str, Any]]:
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            yield dict(zip(names, values, strict=True))

    return query


def backfill(conn: sqlite3.Connection) -> None:
    """Fill the minute rollups from the raw log (a day at a time) and the daily ones from the hourly
    rollups, so a database written before the levels existed answers exactly at once."""
    query = _dict_query(conn)
    low, high = conn.execute("SELECT min(ts), max(ts) FROM chat_logs").fetchone()
    if low is not None:
        day = int(low) - int(low) % rollup.DAY_MS
        while day <= int(high):
            conn.execute(MINUTE_BACKFILL_SQL, (day, day + rollup.DAY_MS) * 4)
            day += rollup.DAY_MS
    days: dict[rollup.RollupKey, rollup.Rollup] = {}
    for row in query(f"SELECT hour, {', '.join(ROUTE)}, {', '.join(ROLLUP_COLUMNS)} FROM log_rollups_hourly", ()):
        hour = int(row["hour"])
        key = (hour - hour % rollup.DAY_MS, row["provider_id"], row["client_model"], row["upstream_model"])
        part = rollup.Rollup.from_columns(row)
        found = days.get(key)
        days[key] = part if found is None else found.merge(part)
    add_levels(conn, {levels.DAY: days})


def create_levels(conn: sqlite3.Connection) -> None:
    """The ``0003_rollup_levels`` migration: the minute and daily tables, backfilled."""
    for level in (levels.MINUTE, levels.DAY):
        conn.execute(table_sql(level))
    backfill(conn)


TOTALS_BACKFILL_SQL = {
    level: levels.totals_backfill_sql(level, placeholder="?", each="json_each", object_agg="json_group_object")
    for level in levels.LEVELS
}


def backfill_totals(conn: sqlite3.Connection) -> None:
    """Fill every level's route-less totals from its per-route rows, summed in SQL (a day of minutes
    per statement), so a database written before the totals existed answers at once."""
    for level in levels.LEVELS:
        low, high = conn.execute(f"SELECT min({level.column}), max({level.column}) FROM {level.table}").fetchone()
        for start, end in levels.backfill_steps(level, low, high):
            conn.execute(TOTALS_BACKFILL_SQL[level], (start, end) * 4)


def create_totals(conn: sqlite3.Connection) -> None:
    """The ``0005_rollup_totals`` migration: each level's route-less totals table, backfilled."""
    for level in levels.LEVELS:
        conn.execute(table_sql(levels.TOTALS_OF[level]))
    backfill_totals(conn)
