"""Route-less totals beside the per-route rollups (mimo2codex.store.levels.TOTALS_OF): the writer keeps
them in its batch, timeseries read them, the migration backfills them, retention prunes the minute
ones; on every backend, and every answer equal to a fold of the raw rows the store holds."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from mimo2codex.request_log import RequestRecord
from mimo2codex.store import levels, rollup
from mimo2codex.store.base import Store
from tests.store.conftest import BACKENDS

MINUTE_MS = levels.MINUTE_MS
HOUR_MS = rollup.HOUR_MS
DAY_MS = rollup.DAY_MS
ROUTES = (("deepseek", "gpt-5", "deepseek-chat"), ("mimo", "gpt-5", "mimo-v2"), ("qwen", "coder", "qwen3"))
TOTAL_TABLES = [levels.TOTALS_OF[level].table for level in levels.LEVELS]

# -- pure ------------------------------------------------------------------------------------------


def _stored(part: rollup.Rollup) -> dict[str, Any]:
    """``part`` in its stored form, the error counts parsed (their order is the merges')."""
    columns = part.to_columns()
    return {**columns, "errors_by_code": orjson.loads(columns["errors_by_code"])}


def test_folded_totals_are_the_sum_of_every_route_per_unit() -> None:
    rng = random.Random(3)
    rows = [
        {"ts": rng.randrange(0, 3 * DAY_MS), "provider_id": rng.choice("abc"), "client_model": rng.choice("mn"),
         "upstream_model": "u", "status_code": rng.choice([200, 200, 429, 502]), "duration_ms": rng.randrange(0, 9000),
         "ttft_ms": rng.choice([None, rng.randrange(1, 900)]), "prompt_tokens": rng.randrange(1, 99),
         "outcome": rng.choice(["completed", "cancelled"])}
        for _ in range(500)
    ]  # fmt: skip
    folded = levels.fold_levels(rows)
    assert set(folded) == set(levels.STORED)
    for level in levels.LEVELS:
        expected: dict[rollup.RollupKey, rollup.Rollup] = {}
        for (start, *_), delta in rollup.fold(rows, level.size_ms).items():
            expected.setdefault((start, "", "", ""), rollup.Rollup()).merge(delta)
        totals = folded[levels.TOTALS_OF[level]]
        assert {k: _stored(v) for k, v in totals.items()} == {k: _stored(v) for k, v in expected.items()}
        assert sum(v.requests for v in totals.values()) == len(rows)


def test_timeseries_read_the_totals_and_stats_the_routes() -> None:
    for bucket in (HOUR_MS, DAY_MS):
        for level in levels.LEVELS:
            assert levels.read_level(level, bucket) is levels.TOTALS_OF[level]
            assert levels.read_level(level, None) is level
    assert len({level.table for level in levels.STORED}) == 6


# -- backends --------------------------------------------------------------------------------------


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Any]:
    where: Any = request.getfixturevalue("postgres_url") if request.param == "postgresql" else tmp_path
    return request.param, where


def _open(backend: tuple[str, Any], **options: Any) -> Store:
    store = BACKENDS[backend[0]](backend[1], **options)
    store.open()
    return store


def _rows(backend: tuple[str, Any], sql: str) -> list[dict[str, Any]]:
    """``sql``'s rows as dicts, straight from the database (JSON objects parsed on both backends)."""
    if backend[0] == "sqlite":
        conn = sqlite3.connect(backend[1] / "data.db")
        conn.row_factory = sqlite3.Row
        try:
            found = [dict(row) for row in conn.execute(sql)]
        finally:
            conn.close()
    else:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(backend[1], row_factory=dict_row) as pg:
            found = pg.execute(sql).fetchall()
    return [
        {k: orjson.loads(v) if isinstance(v, str) and v.startswith("{") else v for k, v in r.items()} for r in found
    ]


def _execute(backend: tuple[str, Any], statements: list[str]) -> None:
    if backend[0] == "sqlite":
        conn = sqlite3.connect(backend[1] / "data.db", isolation_level=None)
        try:
            for statement in statements:
                conn.execute(statement)
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(backend[1], autocommit=True) as pg:
        for statement in statements:
            pg.execute(statement)


def _submit(store: Store, rng: random.Random, n: int, start_ms: int, span_ms: int) -> None:
    for i in range(n):
        provider, client_model, upstream_model = rng.choice(ROUTES)
        rec = RequestRecord(f"req_{i}", "/v1/responses", (start_ms + rng.randrange(0, span_ms)) / 1000, True)
        rec.client_model, rec.provider, rec.upstream_model = client_model, provider, upstream_model
        tokens = rng.randrange(1, 500)
        rec.usage = {"input_tokens": tokens, "output_tokens": 3, "total_tokens": tokens + 3}
        rec.duration_ms = rng.lognormvariate(6, 1.5)
        if rng.random() < 0.7:
            rec.first_event_ms = rec.duration_ms / 3
        roll = rng.random()
        if roll < 0.05:
            rec.status, rec.outcome, rec.error_code = 502, "error", "upstream_unavailable"
        elif roll < 0.1:
            rec.status, rec.outcome = 429, "error"  # an error status without a code: http_429
        elif roll < 0.13:
            rec.outcome = "cancelled"
        store.submit(rec)
    assert store.flush(20)


def _logged(backend: tuple[str, Any]) -> list[dict[str, Any]]:
    """The raw rows the store holds, as the writer folded them."""
    return _rows(backend, "SELECT * FROM chat_logs")


def _expected_series(logged: list[dict[str, Any]], since: int, until: int, size: int) -> list[dict[str, Any]]:
    inside = [row for row in logged if since <= row["ts"] < until]
    return rollup.series(rollup.fold(inside, size).items(), since, until, size)


def _check(store: Store, logged: list[dict[str, Any]], since: int, until: int) -> None:
    for bucket, size in (("hour", HOUR_MS), ("day", DAY_MS)):
        # the whole documents: counters, errors by code, averages and percentiles, empty buckets
        assert store.timeseries(since, until, bucket) == _expected_series(logged, since, until, size)  # type: ignore[arg-type]
    inside = [row for row in logged if since <= row["ts"] < until]
    assert _untied(store.stats(since, until)) == _untied(rollup.report(rollup.fold(inside).items(), since, until))


def _untied(doc: dict[str, Any]) -> dict[str, Any]:
    """A stats document with its breakdowns in one order (they are sorted by requests, ties as found)."""
    return {k: sorted(v, key=lambda g: orjson.dumps(g, option=orjson.OPT_SORT_KEYS)) if k.startswith("by_") else v
            for k, v in doc.items()}  # fmt: skip


def _windows(rng: random.Random, start: int, span: int) -> list[tuple[int, int]]:
    out = [(start - 5, start + span + 5)]
    for _ in range(8):
        since = start + rng.randrange(-HOUR_MS, span)
        length = rng.choice(
            [rng.randrange(1, 3 * MINUTE_MS), rng.randrange(1, 5 * HOUR_MS), rng.randrange(DAY_MS, span)]
        )
        out.append((since, since + length))
    return out


def _per_route_sums(backend: tuple[str, Any], level: levels.Level) -> dict[int, dict[str, Any]]:
    """``level``'s per-route rows summed per unit, in the stored form."""
    sums: dict[int, rollup.Rollup] = {}
    for row in _rows(backend, f"SELECT * FROM {level.table}"):
        sums.setdefault(int(row[level.column]), rollup.Rollup()).merge(rollup.Rollup.from_columns(row))
    return {unit: _stored(part) for unit, part in sums.items()}


def _totals(backend: tuple[str, Any], level: levels.Level) -> dict[int, dict[str, Any]]:
    totals = levels.TOTALS_OF[level]
    out: dict[int, dict[str, Any]] = {}
    for row in _rows(backend, f"SELECT * FROM {totals.table}"):
        assert (row["provider_id"], row["client_model"], row["upstream_model"]) == levels.TOTAL_ROUTE
        out[int(row[totals.column])] = _stored(rollup.Rollup.from_columns(row))
    return out


def test_totals_match_the_routes_and_answers_stay_exact(backend: tuple[str, Any]) -> None:
    store = _open(backend)
    try:
        rng = random.Random(17)
        start = int(time.time() * 1000) - 2 * DAY_MS - 13 * MINUTE_MS - 321
        _submit(store, rng, 700, start, 2 * DAY_MS)
        _submit(store, rng, 100, start, 2 * DAY_MS)  # a second round of batches adds to the same rows
        for level in levels.LEVELS:
            assert _totals(backend, level) == _per_route_sums(backend, level)
        logged = _logged(backend)
        assert len(logged) == 800
        for since, until in _windows(rng, start, 2 * DAY_MS):
            _check(store, logged, since, until)
    finally:
        store.close()


def test_migration_backfills_the_totals_of_an_existing_log(backend: tuple[str, Any]) -> None:
    rng = random.Random(29)
    start = int(time.time() * 1000) - 3 * DAY_MS - 7 * MINUTE_MS - 5
    store = _open(backend)
    try:
        _submit(store, rng, 600, start, 3 * DAY_MS)
        written = {level: _totals(backend, level) for level in levels.LEVELS}
    finally:
        store.close()
    # the database as a version without the totals left it
    name = "0005_rollup_totals" if backend[0] == "sqlite" else "0004_rollup_totals"
    _execute(
        backend, [*(f"DROP TABLE {table}" for table in TOTAL_TABLES), f"DELETE FROM migrations WHERE name = '{name}'"]
    )
    store = _open(backend)
    try:
        assert name in [m["name"] for m in store.db_stats()["migrations"]]
        for level in levels.LEVELS:
            # the migration's sums in SQL are exactly what the writer folded batch by batch
            assert written[level]
            assert _totals(backend, level) == written[level]
        logged = _logged(backend)
        for since, until in _windows(rng, start, 3 * DAY_MS):
            _check(store, logged, since, until)
    finally:
        store.close()


def test_retention_prunes_the_minute_totals_with_the_rows(backend: tuple[str, Any]) -> None:
    now = time.time()
    store = _open(backend)
    try:
        _submit(store, random.Random(4), 40, int(now * 1000) - 2 * HOUR_MS, HOUR_MS)
    finally:
        store.close()
    later: Callable[[], float] = lambda: now + 3 * 86400  # noqa: E731
    store = _open(backend, retention_days=1, clock=later, maintenance_seconds=0.02)
    try:
        deadline = time.monotonic() + 10
        minutes: list[Any] = [None]
        while time.monotonic() < deadline:
            minutes = _rows(backend, "SELECT count(*) AS n FROM log_totals_minute")
            if minutes[0]["n"] == 0:
                break
            time.sleep(0.05)
        assert minutes[0]["n"] == 0
        hours = _rows(backend, "SELECT sum(requests) AS n FROM log_totals_hourly")
        assert hours[0]["n"] == 40  # hourly (and daily) totals outlive the rows
        series = store.timeseries(int(now * 1000) - 3 * HOUR_MS, int(now * 1000), "hour")
        assert sum(point["requests"] for point in series) == 40
    finally:
        store.close()


def test_an_edge_read_as_its_minute_minus_the_rest_stays_exact(backend: tuple[str, Any]) -> None:
    """Edges mostly inside the window and mostly outside it (the latter read as the minute's rollup
    minus the raw rest of the minute): a route whose rows of that minute all lie outside the window
    is not reported, and every answer equals the fold of the raw rows."""
    store = _open(backend)
    try:
        minute = int(time.time() * 1000) // MINUTE_MS * MINUTE_MS - 3 * HOUR_MS
        for offset_s, route in ((10, ROUTES[0]), (50, ROUTES[1]), (55, ROUTES[1]), (3600 + 5, ROUTES[2])):
            rec = RequestRecord(f"req_{offset_s}", "/v1/responses", (minute + offset_s * 1000) / 1000, True)
            rec.client_model, rec.provider, rec.upstream_model = route[1], route[0], route[2]
            rec.duration_ms, rec.first_event_ms = 100.0 + offset_s, 40.0
            if offset_s == 10:
                rec.status, rec.outcome, rec.error_code = 502, "error", "upstream_unavailable"
            store.submit(rec)
        assert store.flush(10)
        logged = _logged(backend)
        for since, until in (
            (minute + 20_000, minute + 2 * HOUR_MS),  # a 40 s edge: the minute minus its first 20 s
            (minute + 45_000, minute + 2 * HOUR_MS),  # a 15 s edge: raw rows
            (minute - HOUR_MS, minute + 3_600_000 + 8_000),  # an edge of 8 s at the end: raw
            (minute - HOUR_MS, minute + 3_600_000 + 52_000),  # of 52 s: the minute minus its last 8 s
            (minute + 20_000, minute + 3_600_000 + 52_000),  # both
            (minute + 5_000, minute + 30_000),  # inside one minute
        ):
            _check(store, logged, since, until)
        stats = store.stats(minute + 20_000, minute + 2 * HOUR_MS)
        assert [r["provider_id"] for r in stats["by_route"]] == [ROUTES[1][0], ROUTES[2][0]]
        assert (stats["requests"], stats["errors"], stats["errors_by_code"]) == (3, 0, {})
        # A route seen in the window an hour earlier, and in its last minute only after it ends: the
        # minute's rollup and its negated rest cancel out, so it was last seen the hour before.
        later = minute + 2 * HOUR_MS
        for offset_ms, route in ((-HOUR_MS, ROUTES[0]), (55_000, ROUTES[0]), (10_000, ROUTES[1])):
            rec = RequestRecord(f"req_late_{offset_ms}", "/v1/responses", (later + offset_ms) / 1000, True)
            rec.client_model, rec.provider, rec.upstream_model = route[1], route[0], route[2]
            rec.duration_ms = 300.0
            store.submit(rec)
        assert store.flush(10)
        logged = _logged(backend)
        _check(store, logged, later - 2 * HOUR_MS, later + 50_000)  # a 50 s edge: the minute minus 10 s
        last = {r["provider_id"]: r["last_hour"] for r in store.stats(later - 2 * HOUR_MS, later + 50_000)["by_route"]}
        assert last[ROUTES[0][0]] == rollup.hour_of(later - HOUR_MS)
        assert last[ROUTES[1][0]] == rollup.hour_of(later)
    finally:
        store.close()


def test_complement_picks_the_smaller_side() -> None:
    minute = 10 * MINUTE_MS
    assert levels.complement(minute + 20_000, minute + MINUTE_MS, minute + DAY_MS) == (
        (minute, minute + MINUTE_MS),
        ((minute, minute + 20_000),),
    )
    assert levels.complement(minute + 45_000, minute + MINUTE_MS, minute + DAY_MS) is None
    # a window ending now: the rest of the minute lies in the future, so the minute it is
    assert levels.complement(minute, minute + 5_000, minute + 5_000) == (
        (minute, minute + MINUTE_MS),
        ((minute + 5_000, minute + MINUTE_MS),),
    )
    assert levels.complement(minute + 5_000, minute + MINUTE_MS + 5_000, minute + DAY_MS) is None  # two minutes


def test_a_last_partial_hour_read_as_its_hour_minus_the_rest_stays_exact(backend: tuple[str, Any]) -> None:
    """A window ending 40 minutes into an hour reads that hour's rollup minus the raw rows after it: a
    route whose rows of that hour all come later was last seen the hour before."""
    store = _open(backend)
    try:
        hour = rollup.hour_of(int(time.time() * 1000)) - 3 * HOUR_MS
        for offset_min, route in ((-30, ROUTES[0]), (50, ROUTES[0]), (10, ROUTES[1]), (39, ROUTES[2]), (41, ROUTES[2])):
            rec = RequestRecord(f"req_{offset_min}", "/v1/responses", (hour + offset_min * MINUTE_MS) / 1000, True)
            rec.client_model, rec.provider, rec.upstream_model = route[1], route[0], route[2]
            rec.duration_ms = 200.0 + offset_min
            store.submit(rec)
        assert store.flush(10)
        since, until = hour - 2 * HOUR_MS, hour + 40 * MINUTE_MS
        assert [(r.level, r.negative) for r in levels.reads(since, until, None, until + DAY_MS)][-2:] == [
            (levels.HOUR, False),
            (None, True),
        ]
        _check(store, _logged(backend), since, until)
        stats = store.stats(since, until)
        assert stats["requests"] == 3
        last = {r["provider_id"]: r["last_hour"] for r in stats["by_route"]}
        assert last == {ROUTES[0][0]: hour - HOUR_MS, ROUTES[1][0]: hour, ROUTES[2][0]: hour}
    finally:
        store.close()
