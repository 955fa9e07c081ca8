"""Rollup levels (per day, hour and minute) and a window's plan across them (pure, no I/O).

The writer keeps three rollup tables of the same shape in its batch's transaction. A window is read
largest level first: its whole days from the daily rollups, the whole hours left at its edges from the
hourly ones, the whole minutes left from the minute ones, and only the sub-minute remainder (under a
minute at each edge) from the raw log, so "the last 24 h" stays exact to the millisecond while a
query reads a few hundred small rollup rows instead of thousands of raw rows.

Minute rollups are pruned with the raw rows (the same retention), not earlier: every window the raw
log can still answer exactly is answered from minutes, with no second horizon to track; they cost
one row per minute and route, a few percent of the log. Hourly and daily rollups are kept.

A sub-minute edge whose minute lies mostly outside the window is read the other way round: the
minute's rollup minus the raw rows of the rest of that minute (:func:`complement`), in one snapshot.
The newest edge of a window ending now holds up to a minute of the busiest rows (6,000 at 100
requests/s) and its rest none, so "the last 24 h" reads a rollup row instead of grouping them.

Each level also has a route-less twin (:data:`TOTALS_OF`: ``log_totals_minute`` etc.), the sum of
every route's row of a unit, folded from the same batch in the same transaction. A timeseries sums
all routes of a bucket, so it reads the totals: one row per unit instead of one per route (8x fewer
histograms to send, parse and add up), the same sums. Stats still read the per-route rows (their
``by_*`` breakdowns need them). The twins keep the route columns, always ``''``, so the per-route
code (table, upserts, sums, pruning) serves both unchanged.

>>> p = plan(DAY_MS - 90_500, 2 * DAY_MS + HOUR_MS + 61_000)
>>> [(level.column, ranges) for level, ranges in p.levels]
[('day', ((86400000, 172800000),)), ('hour', ((172800000, 176400000),)), ('minute', ((86340000, 86400000), (176400000, 176460000)))]
>>> p.raw
((86309500, 86340000), (176460000, 176461000))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from mimo2codex.store import rollup

MINUTE_MS = 60_000
DAY_MS = rollup.DAY_MS
HOUR_MS = rollup.HOUR_MS

Range = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Level:
    table: str
    #: the key column holding the start of the row's day, hour or minute (ms)
    column: str
    size_ms: int


DAY = Level("log_rollups_daily", "day", DAY_MS)
HOUR = Level("log_rollups_hourly", "hour", HOUR_MS)
MINUTE = Level("log_rollups_minute", "minute", MINUTE_MS)
#: the per-route levels a window is planned over, largest first
LEVELS: tuple[Level, ...] = (DAY, HOUR, MINUTE)
#: each level's route-less twin: every route of a unit summed (the key's route is ``('', '', '')``)
TOTALS_OF: dict[Level, Level] = {
    level: Level(level.table.replace("log_rollups_", "log_totals_"), level.column, level.size_ms) for level in LEVELS
}
#: every table the writer adds a batch to, in the order it does (the same in every instance)
STORED: tuple[Level, ...] = (MINUTE, HOUR, DAY, *(TOTALS_OF[level] for level in (MINUTE, HOUR, DAY)))
TOTAL_ROUTE = ("", "", "")


#: the route columns of a timeseries read, which sums all routes of a bucket together
NO_ROUTE = "'' AS provider_id, '' AS client_model, '' AS upstream_model"


@dataclass(frozen=True, slots=True)
class Plan:
    #: per level, the ``[start, end)`` ranges of whole units read from its rollups
    levels: tuple[tuple[Level, tuple[Range, ...]], ...]
    #: the sub-minute remainders read from the raw log
    raw: tuple[Range, ...]


def plan(since_ms: int, until_ms: int, bucket_ms: int | None = None) -> Plan:
    """Split ``[since_ms, until_ms)`` over the levels; with ``bucket_ms`` (a timeseries), only the
    levels whose units fall whole into one bucket."""
    usable = [lv for lv in LEVELS if bucket_ms is None or bucket_ms % lv.size_ms == 0]
    pending: list[Range] = [(since_ms, until_ms)] if until_ms > since_ms else []
    out: list[tuple[Level, tuple[Range, ...]]] = []
    for level in usable:
        size = level.size_ms
        whole: list[Range] = []
        rest: list[Range] = []
        for start, end in pending:
            first = -(-start // size) * size  # ceil to the unit
            last = end - end % size
            if first >= last:
                rest.append((start, end))
                continue
            whole.append((first, last))
            if start < first:
                rest.append((start, first))
            if last < end:
                rest.append((last, end))
        if whole:
            out.append((level, tuple(whole)))
        pending = rest
    return Plan(tuple(out), tuple(pending))


def complement(start: int, end: int, now_ms: int) -> tuple[Range, tuple[Range, ...]] | None:
    """For a sub-minute raw edge ``[start, end)`` of a plan: its minute and the rest of that minute,
    when reading the minute's rollup minus the rest's raw rows is cheaper than the edge's raw rows;
    None when not (or when the edge crosses a minute boundary). Cheaper is judged by the time each
    covers up to ``now_ms`` (rows of the future are rare): a window ending now has an edge of up to a
    minute of the busiest rows, and a rest of none. The answer is the same either way, so a wrong
    clock costs time, never exactness.

    >>> complement(120_000, 150_000, 150_001)
    ((120000, 180000), ((150000, 180000),))
    >>> complement(120_000, 150_000, 200_000) is None  # half a minute either way: the edge it is
    True
    """
    minute = start - start % MINUTE_MS
    if end > minute + MINUTE_MS:
        return None
    rest: list[Range] = []
    if minute < start:
        rest.append((minute, start))
    if end < minute + MINUTE_MS:
        rest.append((end, minute + MINUTE_MS))
    live = (start - minute) + max(0, min(minute + MINUTE_MS, now_ms) - end)
    return ((minute, minute + MINUTE_MS), tuple(rest)) if live < end - start else None


@dataclass(frozen=True, slots=True)
class Read:
    """One part of a window's read: a level's whole units in ``ranges`` (``level`` None: the raw rows),
    added, or taken away (``negative``)."""

    level: Level | None
    ranges: tuple[Range, ...]
    negative: bool = False


def reads(since_ms: int, until_ms: int, bucket_ms: int | None, now_ms: int) -> list[Read]:
    """What a window reads: :func:`plan`'s levels and raw edges, an edge whose minute is mostly
    outside the window as that minute minus the rest of it (:func:`complement`), and the last partial
    hour of a window that ends in it, when the rest of that hour up to ``now_ms`` is the smaller side
    (a window ending now: none of it), as that hour's rollup minus the raw rows after the window. The
    current hour of "the last 24 h" then costs one rollup row per route instead of up to 59 full
    minutes. Any negative read needs every read in one snapshot.

    >>> [(r.level and r.level.column, r.ranges, r.negative) for r in reads(0, HOUR_MS + 90_000, None, HOUR_MS + 90_000)]
    [('hour', ((0, 3600000),), False), ('hour', ((3600000, 7200000),), False), (None, ((3690000, 7200000),), True)]
    """
    tail: list[Read] = []
    hour = until_ms - until_ms % HOUR_MS
    if since_ms <= hour < until_ms and until_ms - hour > max(0, min(hour + HOUR_MS, now_ms) - until_ms):
        tail = [Read(HOUR, ((hour, hour + HOUR_MS),)), Read(None, ((until_ms, hour + HOUR_MS),), True)]
        until_ms = hour
    found = plan(since_ms, until_ms, bucket_ms)
    out = [Read(level, ranges) for level, ranges in found.levels]
    for start, end in found.raw:
        rest = complement(start, end, now_ms)
        if rest is None:
            out.append(Read(None, ((start, end),)))
        else:
            out.append(Read(MINUTE, (rest[0],)))
            out += [Read(None, (gap,), True) for gap in rest[1]]
    return out + tail


def fold_levels(rows: Iterable[Mapping[str, Any]]) -> dict[Level, dict[rollup.RollupKey, rollup.Rollup]]:
    """A batch's deltas per stored table (:data:`STORED`): one pass over the rows for the finest level,
    then the coarser ones merged from it (a minute lies in one hour and one day), and each level's
    totals merged from its finer totals (a minute's total from its routes' minutes): per batch, one
    more merge per minute and route, and three more rows to add per minute of the batch."""
    minutes = rollup.fold(rows, MINUTE_MS)
    out: dict[Level, dict[rollup.RollupKey, rollup.Rollup]] = {
        MINUTE: minutes,
        HOUR: _coarser(minutes, HOUR_MS, None),
        DAY: _coarser(minutes, DAY_MS, None),
    }
    total_minutes = _coarser(minutes, MINUTE_MS, TOTAL_ROUTE)
    total_hours = _coarser(total_minutes, HOUR_MS, TOTAL_ROUTE)
    out[TOTALS_OF[MINUTE]] = total_minutes
    out[TOTALS_OF[HOUR]] = total_hours
    out[TOTALS_OF[DAY]] = _coarser(total_hours, DAY_MS, TOTAL_ROUTE)
    return out


def _coarser(
    deltas: Mapping[rollup.RollupKey, rollup.Rollup], size_ms: int, route: tuple[str, str, str] | None
) -> dict[rollup.RollupKey, rollup.Rollup]:
    """``deltas`` merged per ``size_ms`` unit, and per their own route or into ``route``."""
    coarse: dict[rollup.RollupKey, rollup.Rollup] = {}
    for (start, *own), delta in deltas.items():
        target = route or (own[0], own[1], own[2])
        key = (start - start % size_ms, *target)
        found = coarse.get(key)
        if found is None:
            coarse[key] = rollup.Rollup().merge(delta)
        else:
            found.merge(delta)
    return coarse


def read_level(level: Level, bucket_ms: int | None) -> Level:
    """The table a window's whole units of ``level`` are read from: a timeseries (``bucket_ms``) sums
    every route of a bucket, so it reads the route-less totals; stats read the per-route rows."""
    return level if bucket_ms is None else TOTALS_OF[level]


def range_condition(column: str, ranges: Iterable[Range], placeholder: str) -> tuple[str, list[int]]:
    """``(col >= ? AND col < ?) OR ...`` and its parameters."""
    clauses: list[str] = []
    params: list[int] = []
    for start, end in ranges:
        clauses.append(f"({column} >= {placeholder} AND {column} < {placeholder})")
        params += [start, end]
    return " OR ".join(clauses) or "0 = 1", params


def sum_objects(text: str | None) -> dict[str, int]:
    """The key-wise sum of a JSON array of ``{key: count}`` objects (one parse for a whole group)."""
    total: dict[str, int] = {}
    for found in orjson.loads(text) if text else ():
        if not total:
            total.update(found)  # the first object as it is: one C call
            continue
        for key, n in found.items():  # a membership test and += beat get() + store by ~30 %
            if key in total:
                total[key] += n
            else:
                total[key] = n
    return total


def parts_from_lists(
    rows: Iterable[Mapping[str, Any]], *, per_route: bool
) -> list[tuple[rollup.RollupKey, rollup.Rollup]]:
    """Rollups from grouped rows: ``bucket``, the route, ``last`` (the newest unit start), the summed
    counters, and per JSON column a JSON array of the group's objects (:func:`sum_objects`). With
    ``per_route`` (stats) the key's time is the route's newest hour, reported as when the route was
    last seen; otherwise it is the bucket."""
    found: list[tuple[rollup.RollupKey, rollup.Rollup]] = []
    for row in rows:
        part = rollup.Rollup()
        for name in rollup.COUNTERS:
            setattr(part, name, int(row[name] or 0))
        part.errors_by_code = sum_objects(row["errors_by_code"])
        part.latency = {int(k): n for k, n in sum_objects(row["latency_hist"]).items()}
        part.ttft = {int(k): n for k, n in sum_objects(row["ttft_hist"]).items()}
        when = rollup.hour_of(int(row["last"])) if per_route else int(row["bucket"])
        found.append(((when, str(row["provider_id"]), str(row["client_model"]), str(row["upstream_model"])), part))
    return found


def newest_hour_sql(counters: Iterable[Mapping[str, Any]], placeholder: str) -> tuple[str, list[int]] | None:
    """For a stats read of the daily rollups: the query of each route's newest hour within its newest
    day (from the hourly rollups: a day's rows only), so "last seen" keeps its hour. None: no rows."""
    days = sorted({int(row["last"]) for row in counters})
    if not days:
        return None
    condition, params = range_condition("hour", [(day, day + DAY_MS) for day in days], placeholder)
    return (
        "SELECT provider_id, client_model, upstream_model, MAX(hour) AS last "
        f"FROM {HOUR.table} WHERE {condition} GROUP BY 1, 2, 3",
        params,
    )


def with_newest_hours(
    counters: Iterable[Mapping[str, Any]], newest: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``counters`` with ``last`` replaced by the route's newest hour found by :func:`newest_hour_sql`."""
    hours = {(row["provider_id"], row["client_model"], row["upstream_model"]): int(row["last"]) for row in newest}
    out = []
    for row in counters:
        route = (row["provider_id"], row["client_model"], row["upstream_model"])
        out.append({**row, "last": max(int(row["last"]), hours.get(route, 0))})
    return out


def minute_backfill_sql(*, placeholder: str, modulo: str, object_agg: str) -> str:
    """``INSERT`` of the minute rollups of the raw rows with ``ts`` in ``[?, ?)`` (four times those two
    parameters), summed in the database: what :meth:`rollup.Rollup.add_row` folds, without a row
    reaching Python. The dialect's bits: the placeholder, the modulo operator (``%%`` when psycopg
    parses the text) and the JSON object aggregate."""
    unit = f"ts - ts {modulo} {MINUTE_MS}"
    route = (
        "coalesce(provider_id, '') AS provider_id, coalesce(client_model, '') AS client_model, "
        "coalesce(upstream_model, '') AS upstream_model"
    )
    label = "coalesce(error_code, CASE WHEN status_code >= 400 THEN 'http_' || status_code END)"
    where = f"ts >= {placeholder} AND ts < {placeholder}"
    keys = "minute, provider_id, client_model, upstream_model"
    summed = (
        ("prompt_tokens", "prompt_tokens"),
        ("completion_tokens", "completion_tokens"),
        ("total_tokens", "total_tokens"),
        ("cached_tokens", "cached_tokens"),
        ("reasoning_tokens", "reasoning_tokens"),
        ("duration_sum", "duration_ms"),
        ("ttft_sum", "ttft_ms"),
        ("bytes_in", "bytes_in"),
        ("bytes_out", "bytes_out"),
    )
    counters = (
        f"SELECT {unit} AS minute, {route}, count(*) AS requests, "
        f"sum(CASE WHEN {label} IS NOT NULL THEN 1 ELSE 0 END) AS errors, "
        f"sum(CASE WHEN outcome = 'cancelled' THEN 1 ELSE 0 END) AS cancelled, "
        + ", ".join(f"coalesce(sum({column}), 0) AS {name}" for name, column in summed)
        + f" FROM chat_logs WHERE {where} GROUP BY 1, 2, 3, 4"
    )

    def sparse(value: str, condition: str) -> str:
        # one JSON object per key: {error label or histogram bucket: rows}
        return (
            f"SELECT {keys}, {object_agg}(CAST(v AS TEXT), n) AS obj FROM ("
            f"SELECT {unit} AS minute, {route}, {value} AS v, count(*) AS n FROM chat_logs "
            f"WHERE {where} AND {condition} GROUP BY 1, 2, 3, 4, 5) AS g GROUP BY 1, 2, 3, 4"
        )

    columns = ", ".join((*rollup.COUNTERS, "errors_by_code", "latency_hist", "ttft_hist"))
    return (
        f"INSERT INTO {MINUTE.table} ({keys}, {columns}) "
        f"SELECT c.minute, c.provider_id, c.client_model, c.upstream_model, "
        + ", ".join(f"c.{name}" for name in rollup.COUNTERS)
        + ", coalesce(e.obj, '{}'), coalesce(l.obj, '{}'), coalesce(t.obj, '{}') "
        + f"FROM ({counters}) AS c "
        + f"LEFT JOIN ({sparse(label, f'{label} IS NOT NULL')}) AS e USING ({keys}) "
        + f"LEFT JOIN ({sparse('coalesce(duration_bucket, 0)', '1 = 1')}) AS l USING ({keys}) "
        + f"LEFT JOIN ({sparse('ttft_bucket', 'ttft_bucket IS NOT NULL')}) AS t USING ({keys})"
    )


def totals_backfill_sql(level: Level, *, placeholder: str, each: str, object_agg: str) -> str:
    """``INSERT`` of ``level``'s route-less totals (:data:`TOTALS_OF`) for its units in ``[?, ?)`` (four
    times those two parameters), summed in the database from its per-route rows: the counters, and the
    JSON objects key by key. The dialect's bits: the placeholder, the JSON object table function
    (``json_each``, ``jsonb_each_text``: both name their columns ``key`` and ``value``) and the JSON
    object aggregate."""
    col, totals = level.column, TOTALS_OF[level]
    where = f"t.{col} >= {placeholder} AND t.{col} < {placeholder}"
    counters = (
        f"SELECT t.{col} AS {col}, "
        + ", ".join(f"sum(t.{name}) AS {name}" for name in rollup.COUNTERS)
        + f" FROM {level.table} AS t WHERE {where} GROUP BY 1"
    )

    def sparse(column: str) -> str:
        return (
            f"SELECT {col}, {object_agg}(k, n) AS obj FROM ("
            f"SELECT t.{col} AS {col}, j.key AS k, sum(CAST(j.value AS BIGINT)) AS n "
            f"FROM {level.table} AS t, {each}(t.{column}) AS j WHERE {where} GROUP BY 1, 2) AS g GROUP BY 1"
        )

    columns = ", ".join((*rollup.COUNTERS, "errors_by_code", "latency_hist", "ttft_hist"))
    return (
        f"INSERT INTO {totals.table} ({col}, provider_id, client_model, upstream_model, {columns}) "
        f"SELECT c.{col}, '', '', '', "
        + ", ".join(f"c.{name}" for name in rollup.COUNTERS)
        + ", coalesce(e.obj, '{}'), coalesce(l.obj, '{}'), coalesce(t.obj, '{}') "
        + f"FROM ({counters}) AS c "
        + f"LEFT JOIN ({sparse('errors_by_code')}) AS e USING ({col}) "
        + f"LEFT JOIN ({sparse('latency_hist')}) AS l USING ({col}) "
        + f"LEFT JOIN ({sparse('ttft_hist')}) AS t USING ({col})"
    )


def backfill_steps(level: Level, low: int | None, high: int | None) -> list[Range]:
    """The ranges a backfill of ``level``'s totals runs in, one statement each: 1,440 units (a day of
    minutes, 60 days of hours), so no statement outgrows the migration's statement timeout.

    >>> backfill_steps(MINUTE, 5 * MINUTE_MS, DAY_MS + 7)
    [(0, 86400000), (86400000, 172800000)]
    """
    if low is None or high is None:
        return []
    step = 1440 * level.size_ms
    start = low - low % step
    out = []
    while start <= high:
        out.append((start, start + step))
        start += step
    return out
