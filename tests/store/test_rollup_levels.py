"""Minute, hourly and daily rollups: windows over days stay exact, the migration backfills an existing
log, retention prunes the minutes; on every backend, checked against brute force over the rows."""

from __future__ import annotations

import itertools
import math
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
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

# -- pure ------------------------------------------------------------------------------------------


def test_plan_covers_the_window_with_sub_minute_raw_edges() -> None:
    rng = random.Random(11)
    for _ in range(500):
        since = rng.randrange(0, 40 * DAY_MS)
        until = since + rng.choice(
            [rng.randrange(0, 2 * MINUTE_MS), rng.randrange(0, 3 * HOUR_MS), rng.randrange(0, 35 * DAY_MS)]
        )
        for bucket in (None, HOUR_MS, DAY_MS):
            plan = levels.plan(since, until, bucket)
            pieces = [r for _, ranges in plan.levels for r in ranges] + list(plan.raw)
            assert sum(end - start for start, end in pieces) == max(0, until - since)
            pieces.sort()
            for (_, end), (start, _) in itertools.pairwise(pieces):
                assert end == start  # no gap, no overlap
            for level, ranges in plan.levels:
                assert bucket is None or bucket % level.size_ms == 0
                for start, end in ranges:
                    assert start % level.size_ms == 0
                    assert end % level.size_ms == 0
            assert len(plan.raw) <= 2
            # raw rows only where no whole minute fits: under a minute at each edge
            assert sum(end - start for start, end in plan.raw) < 2 * MINUTE_MS
            for start, end in plan.raw:
                assert -(-start // MINUTE_MS) * MINUTE_MS + MINUTE_MS > end
            if bucket == HOUR_MS:
                assert levels.DAY not in dict(plan.levels)


def test_fold_levels_matches_a_fold_per_unit() -> None:
    rng = random.Random(5)
    rows = [
        {"ts": rng.randrange(0, 3 * DAY_MS), "provider_id": rng.choice("ab"), "client_model": "m",
         "upstream_model": "u", "status_code": rng.choice([200, 200, 502]), "duration_ms": rng.randrange(1, 9000),
         "ttft_ms": rng.randrange(1, 900), "prompt_tokens": rng.randrange(1, 99)}
        for _ in range(400)
    ]  # fmt: skip
    folded = levels.fold_levels(rows)
    for level in levels.LEVELS:
        direct = rollup.fold(rows, level.size_ms)
        assert {k: v.to_columns() for k, v in folded[level].items()} == {k: v.to_columns() for k, v in direct.items()}


# -- backends --------------------------------------------------------------------------------------

Row = tuple[int, str, float, int, bool, bool]  # ts, provider, duration, tokens, error, cancelled


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Any]:
    where: Any = request.getfixturevalue("postgres_url") if request.param == "postgresql" else tmp_path
    return request.param, where


def _open(backend: tuple[str, Any], **options: Any) -> Store:
    store = BACKENDS[backend[0]](backend[1], **options)
    store.open()
    return store


def _sql(backend: tuple[str, Any], statements: list[str]) -> list[Any]:
    """Run ``statements`` straight on the database; the first column of each one's first row."""
    out: list[Any] = []
    if backend[0] == "sqlite":
        conn = sqlite3.connect(backend[1] / "data.db", isolation_level=None)
        try:
            for statement in statements:
                found = conn.execute(statement).fetchone()
                out.append(found[0] if found else None)
        finally:
            conn.close()
        return out
    import psycopg

    with psycopg.connect(backend[1], autocommit=True) as pg:
        for statement in statements:
            cur = pg.execute(statement)
            found = cur.fetchone() if cur.description else None
            out.append(found[0] if found else None)
    return out


def _minute_rollups(backend: tuple[str, Any]) -> list[tuple[Any, ...]]:
    """Every minute rollup, its JSON columns parsed (text on SQLite, jsonb on PostgreSQL)."""
    sql = "SELECT * FROM log_rollups_minute ORDER BY minute, provider_id, client_model, upstream_model"
    if backend[0] == "sqlite":
        conn = sqlite3.connect(backend[1] / "data.db")
        try:
            found = conn.execute(sql).fetchall()
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(backend[1]) as pg:
            found = pg.execute(sql).fetchall()
    return [tuple(orjson.loads(v) if isinstance(v, str) and v.startswith("{") else v for v in row) for row in found]


def _submit(store: Store, rng: random.Random, n: int, start_ms: int, span_ms: int) -> list[Row]:
    rows: list[Row] = []
    for i in range(n):
        ts = start_ms + rng.randrange(0, span_ms)
        provider = rng.choice(["deepseek", "mimo"])
        duration = rng.lognormvariate(6, 1)
        tokens = rng.randrange(1, 500)
        error = rng.random() < 0.1
        cancelled = not error and rng.random() < 0.05
        rec = RequestRecord(f"req_{i}", "/v1/responses", ts / 1000, True, client_model="gpt-5")
        rec.provider, rec.upstream_model = provider, f"{provider}-chat"
        rec.usage = {"input_tokens": tokens, "output_tokens": 1, "total_tokens": tokens + 1}
        rec.duration_ms = duration
        rec.first_event_ms = duration / 3
        if error:
            rec.status, rec.outcome, rec.error_code = 502, "error", "upstream_unavailable"
        elif cancelled:
            rec.outcome = "cancelled"
        store.submit(rec)
        rows.append((ts, provider, duration, tokens, error, cancelled))
    assert store.flush(20)
    return rows


def _check_window(store: Store, rows: list[Row], since: int, until: int) -> None:
    inside = [r for r in rows if since <= r[0] < until]
    stats = store.stats(since, until)
    assert stats["requests"] == len(inside)
    assert stats["errors"] == sum(r[4] for r in inside)
    assert stats["cancelled"] == sum(r[5] for r in inside)
    assert stats["prompt_tokens"] == sum(r[3] for r in inside)
    assert stats["errors_by_code"] == ({"upstream_unavailable": stats["errors"]} if stats["errors"] else {})
    by_provider = {p["provider_id"]: p["requests"] for p in stats["by_provider"]}
    assert by_provider == {p: n for p in ("deepseek", "mimo") if (n := sum(r[1] == p for r in inside))}
    for route in stats["by_route"]:
        newest = max(r[0] for r in inside if r[1] == route["provider_id"])
        assert route["last_hour"] == newest - newest % HOUR_MS
    if len(inside) >= 20:
        ordered = sorted(round(r[2]) for r in inside)
        for q, name in ((0.5, "p50"), (0.95, "p95")):
            exact = ordered[max(1, math.ceil(q * len(ordered))) - 1]
            assert abs(stats["latency_ms"][name] - exact) <= 0.1 * exact + 1
    for bucket, size in (("hour", HOUR_MS), ("day", DAY_MS)):
        series = store.timeseries(since, until, bucket)  # type: ignore[arg-type]
        expected: dict[int, int] = {}
        for r in inside:
            expected[r[0] - r[0] % size] = expected.get(r[0] - r[0] % size, 0) + 1
        assert {p["ts"]: p["requests"] for p in series if p["requests"]} == expected


def _windows(rng: random.Random, start: int, span: int) -> Iterator[tuple[int, int]]:
    yield start, start + span  # everything
    for _ in range(12):
        since = start + rng.randrange(-HOUR_MS, span)
        yield (
            since,
            since
            + rng.choice([rng.randrange(1, 3 * MINUTE_MS), rng.randrange(1, 5 * HOUR_MS), rng.randrange(DAY_MS, span)]),
        )


def test_windows_over_days_are_exact(backend: tuple[str, Any]) -> None:
    store = _open(backend)
    try:
        rng = random.Random(21)
        now_ms = int(time.time() * 1000)
        start = now_ms - 3 * DAY_MS - 7 * MINUTE_MS - 1234
        rows = _submit(store, rng, 900, start, 3 * DAY_MS)
        for since, until in _windows(rng, start, 3 * DAY_MS):
            _check_window(store, rows, since, until)
    finally:
        store.close()


def test_migration_backfills_minutes_and_days_of_an_existing_log(backend: tuple[str, Any]) -> None:
    rng = random.Random(8)
    now_ms = int(time.time() * 1000)
    start = now_ms - 2 * DAY_MS - 31 * MINUTE_MS - 77
    store = _open(backend)
    try:
        rows = _submit(store, rng, 500, start, 2 * DAY_MS)
        written = _minute_rollups(backend)
    finally:
        store.close()
    # the database as a version without the levels left it: its rows and hourly rollups only
    if backend[0] == "sqlite":
        name = "0003_rollup_levels"
        undo = ["DROP TABLE log_rollups_minute", "DROP TABLE log_rollups_daily"]
    else:
        name = "0002_rollup_levels"
        undo = ["DROP TABLE log_rollups_minute", "DROP TABLE log_rollups_daily", "DROP AGGREGATE m2c_jsonb_sum(jsonb)"]
    _sql(backend, [*undo, f"DELETE FROM migrations WHERE name = '{name}'"])
    store = _open(backend)
    try:
        assert name in [m["name"] for m in store.db_stats()["migrations"]]
        minutes, days = _sql(
            backend, ["SELECT count(*) FROM log_rollups_minute", "SELECT count(*) FROM log_rollups_daily"]
        )
        assert minutes > 0
        assert days > 0
        # the migration's sums in SQL are exactly what the writer folded row by row
        assert _minute_rollups(backend) == written
        for since, until in _windows(rng, start, 2 * DAY_MS):
            _check_window(store, rows, since, until)
    finally:
        store.close()


def test_retention_prunes_minute_rollups_with_the_rows(backend: tuple[str, Any]) -> None:
    now = time.time()
    store = _open(backend)
    try:
        _submit(store, random.Random(2), 50, int(now * 1000) - 2 * HOUR_MS, HOUR_MS)
    finally:
        store.close()
    later: Callable[[], float] = lambda: now + 3 * 86400  # noqa: E731
    store = _open(backend, retention_days=1, clock=later, maintenance_seconds=0.02)
    try:
        deadline = time.monotonic() + 10
        counts: list[Any] = []
        while time.monotonic() < deadline:
            counts = _sql(
                backend,
                [
                    "SELECT count(*) FROM chat_logs",
                    "SELECT count(*) FROM log_rollups_minute",
                    "SELECT count(*) FROM log_rollups_hourly",
                ],
            )
            if counts[:2] == [0, 0]:
                break
            time.sleep(0.05)
        assert counts[:2] == [0, 0]
        assert counts[2] > 0  # hourly (and daily) rollups outlive the rows
        assert store.stats(int(now * 1000) - 3 * HOUR_MS, int(now * 1000))["requests"] == 50
    finally:
        store.close()
