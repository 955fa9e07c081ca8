"""Rollup levels (per day, hour and minute) and a window's plan across them (pure, no I/O).

The writer keeps three rollup tables of the same shape in its batch's transaction. A window is read
largest level first: its whole days from the daily rollups, the whole hours left at its edges from the
hourly ones, the whole minutes left from the minute ones, and only the sub-minute remainder (under a
minute at each edge) from the raw log, so "the last 24 h" stays exact to the millisecond while a
query reads a few hundred small rollup rows instead of thousands of raw rows.

Minute rollups are pruned with the raw rows (the same retention), not earlier: every window the raw
log can still answer exactly is answered from minutes, with no second horizon to track; they cost
one row per minute and route, a few percent of the log. Hourly and daily rollups are kept.

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
LEVELS: tuple[Level, ...] = (DAY, HOUR, MINUTE)


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


def fold_levels(rows: Iterable[Mapping[str, Any]]) -> dict[Level, dict[rollup.RollupKey, rollup.Rollup]]:
    """A batch's deltas per level: one pass over the rows for the finest, then the coarser ones
    merged from it (a minute lies in one hour and one day)."""
    minutes = rollup.fold(rows, MINUTE_MS)
    out: dict[Level, dict[rollup.RollupKey, rollup.Rollup]] = {MINUTE: minutes}
    for level in (HOUR, DAY):
        coarse: dict[rollup.RollupKey, rollup.Rollup] = {}
        for (start, *route), delta in minutes.items():
            key = (start - start % level.size_ms, route[0], route[1], route[2])
            found = coarse.get(key)
            if found is None:
                coarse[key] = rollup.Rollup().merge(delta)
            else:
                found.merge(delta)
        out[level] = coarse
    return out


def range_condition(column: str, ranges: Iterable[Range], placeholder: str) -> tuple[str, list[int]]:
    """``(col >= ? AND col < ?) OR ...`` and its parameters."""
    clauses: list[str] = []
    params: list[int] = []
    for start, end in ranges:
        clauses.append(f"({column} >= {placeholder} AND {column} < {placeholder})")
        params += [start, end]
    return " OR ".join(clauses) or "0 = 1", params


def assemble(
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
        found = keyed[(int(row["bucket"]), str(row["provider_id"]), str(row["client_model"]), str(row["upstream_model"]))]
        kind, bucket, n = row["kind"], str(row["k"]), int(row["n"])
        if kind == "errors_by_code":
            found.errors_by_code[bucket] = found.errors_by_code.get(bucket, 0) + n
        elif kind == "latency_hist":
            found.latency[int(bucket)] = found.latency.get(int(bucket), 0) + n
        else:
            found.ttft[int(bucket)] = found.ttft.get(int(bucket), 0) + n
    return [((times[key], *key[1:]), part) for key, part in keyed.items()]  # type: ignore[misc]
