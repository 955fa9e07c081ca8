"""Test data for the request-log benchmarks: realistic records, and a big log generated in bulk.

- :func:`codex_record` builds the :class:`RequestRecord` of one Codex turn, with the references the
  capture policy serializes (the ~40 KB Codex request of the fixtures, a ~3 KB Responses object).
- :func:`generate` fills a store's database with ``n`` rows spread over ``days`` days and their
  hourly rollups, without going through the writer: rows come from small pools of values (varied
  enough for the indexes and the histograms to be realistic), go in with ``executemany`` (SQLite) or
  a binary ``COPY`` (PostgreSQL) in big transactions, and the hourly rollups are summed on the way
  and written once at the end; the minute and daily rollups are then filled by the backfill the
  store's migration runs on an existing log (a GROUP BY over the rows, a day at a time), and each
  level's route-less totals from those rollups (:mod:`mimo2codex.store.levels`). 10 million rows
  take a few minutes per backend.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from mimo2codex.request_log import RequestRecord
from mimo2codex.store import histogram, levels, pg_rollups, rollup, sqlite_rollups
from mimo2codex.store.row import COLUMN_NAMES

FIXTURE = Path("/work/shared/fixtures/codex-cli-0.169.0/turn1-tool-task.request.json")
ROUTES = (
    ("deepseek", "gpt-5-codex", "deepseek-v4"),
    ("deepseek", "gpt-5", "deepseek-v4"),
    ("mimo", "gpt-5-codex", "mimo-v2.5-pro"),
    ("mimo", "mimo-v2.5", "mimo-v2.5"),
    ("qwen", "qwen3-coder", "qwen3-coder-plus"),
    ("glm", "glm-4.6", "glm-4.6"),
    ("kimi", "kimi-k2", "kimi-k2-turbo"),
    ("generic", "gpt-5-mini", "llama-3.3-70b"),
)
ERRORS = (
    (429, "rate_limit_exceeded", "upstream deepseek answered 429: Rate limit reached, try again in 20s"),
    (502, "upstream_error", "upstream mimo answered 502: bad gateway"),
    (400, "context_length_exceeded", "This model's maximum context length is 131072 tokens"),
    (504, "first_byte_timeout", "no answer within 300 s"),
)
USER_AGENT = "codex_cli_rs/0.169.0 (Ubuntu 24.4.0; x86_64) xterm-256color"
#: share of failed requests in a generated log
ERROR_RATE = 0.02
_POOL = 4096


def codex_request_body() -> bytes:
    """The compact Codex request of the fixtures (~40 KB), or a stand-in of that size without them."""
    if FIXTURE.exists():
        return orjson.dumps(orjson.loads(FIXTURE.read_bytes()))
    text = "You are Codex, a coding agent. " * 1300
    return orjson.dumps({"model": "gpt-5-codex", "input": [{"role": "user", "content": text}], "stream": True})


def response_body(n: int) -> dict[str, Any]:
    text = f"Answer {n}: " + "the change is in src/main.rs, line 42; " * 60
    return {
        "id": f"resp_{n:024x}",
        "object": "response",
        "status": "completed",
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}],
        "usage": {"input_tokens": 9000, "output_tokens": 700, "total_tokens": 9700},
    }


def codex_record(n: int, request_body: bytes, *, started: float | None = None, failed: bool = False) -> RequestRecord:
    provider, client_model, upstream_model = ROUTES[n % len(ROUTES)]
    rec = RequestRecord(f"req_{n:024x}", "/v1/responses", started or time.time(), True, client_model=client_model)
    rec.provider, rec.upstream_model = provider, upstream_model
    rec.usage = {
        "input_tokens": 9000 + n % 5000,
        "output_tokens": 300 + n % 900,
        "total_tokens": 9300 + n % 5000 + n % 900,
        "input_tokens_details": {"cached_tokens": 8000},
        "output_tokens_details": {"reasoning_tokens": n % 400},
    }
    rec.duration_ms, rec.first_event_ms = 2000.0 + n % 7000, 300.0 + n % 900
    rec.finish_reason, rec.upstream_attempts, rec.upstream_status = "stop", 1, 200
    rec.user_agent, rec.bytes_in, rec.bytes_out = USER_AGENT, len(request_body), 3200
    rec.request_body = request_body
    rec.response_body = response_body(n)
    if failed:
        status, code, message = ERRORS[n % len(ERRORS)]
        rec.status, rec.upstream_status, rec.error_code, rec.error_message = status, status, code, message
        rec.outcome, rec.response_body = "error", {"error": {"message": message, "code": code}}
    return rec


# -- bulk generation ------------------------------------------------------------------------------


class _Pools:
    """Pre-drawn values: a row picks by index, so generating it costs a few tuple lookups."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.duration = [int(rng.lognormvariate(8.0, 0.9)) for _ in range(_POOL)]  # median ~3 s
        self.ttft = [int(rng.lognormvariate(6.3, 0.8)) for _ in range(_POOL)]  # median ~550 ms
        self.prompt = [rng.randint(2_000, 120_000) for _ in range(_POOL)]
        self.completion = [rng.randint(20, 4_000) for _ in range(_POOL)]
        self.error_body = orjson.dumps({"input": "x" * 1500}).decode()


#: the generator's column order: what varies per row first, then per route, then per pooled value
GEN_COLUMNS: tuple[str, ...] = (
    "ts", "request_id",
    "provider_id", "client_model", "upstream_model",
    "duration_ms", "ttft_ms", "duration_bucket", "ttft_bucket", "prompt_tokens", "completion_tokens",
    "total_tokens", "cached_tokens", "reasoning_tokens",
    "endpoint", "stream", "status_code", "error_code", "error_snippet", "request_body", "response_body",
    "upstream_status", "finish_reason", "retries", "outcome", "tool_call_count",
    "upstream_request_id", "rewritten_from", "rewrite_reason", "bytes_in", "bytes_out", "user_agent",
    "codex_version", "client_token", "instance", "notes", "request_pieces", "response_pieces",
)  # fmt: skip
assert sorted(GEN_COLUMNS) == sorted(COLUMN_NAMES)
_G = {name: i for i, name in enumerate(GEN_COLUMNS)}
_STATUS, _CODE = _G["status_code"], _G["error_code"]
_TAIL = (None, None, None, 40_000, 3_000, USER_AGENT, "0.169.0", None, "bench", None, None, None)


def _parts(seed: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Pooled parts of a row (everything after the route): ``ok[p]`` for a success, ``failed[p]``."""
    pools = _Pools(seed)
    ok, failed = [], []
    for p in range(_POOL):
        duration, ttft = pools.duration[p], pools.ttft[(p * 13) % _POOL]
        prompt, completion = pools.prompt[p], pools.completion[(p * 5) % _POOL]
        values = (
            duration, ttft, histogram.bucket_of(duration), histogram.bucket_of(ttft), prompt, completion,
            prompt + completion, prompt * 3 // 4, completion // 3,
        )  # fmt: skip
        endpoint = ("/v1/chat/completions", 0) if p % 10 == 0 else ("/v1/responses", 1)
        ok.append((*values, *endpoint, 200, None, None, None, None, 200, "stop", 0, "completed", p % 3, *_TAIL))
        status, code, message = ERRORS[p % len(ERRORS)]
        retries = 1 if status == 429 else 0
        failed.append(
            (
                *values,
                *endpoint,
                status,
                code,
                message,
                pools.error_body,
                message,
                status,
                None,
                retries,
                "error",
                0,
                *_TAIL,
            )
        )
    return ok, failed


def _rows(n: int, days: float, now_ms: int, seed: int) -> Iterator[tuple[Any, ...]]:
    ok, failed = _parts(seed)
    span = int(days * rollup.DAY_MS)
    start = now_ms - span
    error_every = int(1 / ERROR_RATE)
    routes = len(ROUTES)
    for i in range(n):
        part = failed if i % error_every == 7 else ok
        yield (start + i * span // n, f"req_{i:024x}", *ROUTES[(i * 31 + i // 97) % routes], *part[(i * 7919) % _POOL])


def _fold(acc: dict[rollup.RollupKey, rollup.Rollup], row: tuple[Any, ...]) -> None:
    # rollup.Rollup.add_row on a generated tuple, without building a dict per row
    ts = row[0]
    key = (ts - ts % rollup.HOUR_MS, row[2], row[3], row[4])
    r = acc.get(key)
    if r is None:
        r = acc[key] = rollup.Rollup()
    r.requests += 1
    if row[_STATUS] >= 400:
        r.errors += 1
        code = row[_CODE]
        r.errors_by_code[code] = r.errors_by_code.get(code, 0) + 1
    duration, ttft, duration_bucket, ttft_bucket, prompt, completion, total, cached, reasoning = row[5:14]
    r.prompt_tokens += prompt
    r.completion_tokens += completion
    r.total_tokens += total
    r.cached_tokens += cached
    r.reasoning_tokens += reasoning
    r.bytes_in += 40_000
    r.bytes_out += 3_000
    r.duration_sum += duration
    r.ttft_sum += ttft
    r.latency[duration_bucket] = r.latency.get(duration_bucket, 0) + 1
    r.ttft[ttft_bucket] = r.ttft.get(ttft_bucket, 0) + 1


def generate(
    target: Any, n: int, *, days: float = 30.0, now_ms: int | None = None, seed: int = 8, chunk: int = 50_000
) -> dict[rollup.RollupKey, rollup.Rollup]:
    """Bulk-load ``n`` rows into ``target`` (a sqlite3 path or a PostgreSQL URL; schema applied)."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    acc: dict[rollup.RollupKey, rollup.Rollup] = {}
    rows = _rows(n, days, now, seed)
    if isinstance(target, Path):
        _load_sqlite(target, rows, acc, chunk)
    else:
        _load_postgres(str(target), rows, acc, chunk)
    return acc


def _chunks(
    rows: Iterator[tuple[Any, ...]], acc: dict[rollup.RollupKey, rollup.Rollup], size: int
) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        _fold(acc, row)
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


_TOTAL_TABLES = tuple(levels.TOTALS_OF[level].table for level in levels.LEVELS)
_ROLLUP_COLUMNS = (
    "hour",
    "provider_id",
    "client_model",
    "upstream_model",
    *rollup.COUNTERS,
    "errors_by_code",
    "latency_hist",
    "ttft_hist",
)


def _rollup_rows(acc: dict[rollup.RollupKey, rollup.Rollup]) -> list[tuple[Any, ...]]:
    out = []
    for key, r in sorted(acc.items()):
        columns = r.to_columns()
        out.append((*key, *(columns[c] for c in _ROLLUP_COLUMNS[4:])))
    return out


def _load_sqlite(
    path: Path, rows: Iterator[tuple[Any, ...]], acc: dict[rollup.RollupKey, rollup.Rollup], chunk: int
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")  # a bulk load; the gateway's writer uses NORMAL
    conn.execute("PRAGMA cache_size = -262144")
    insert = f"INSERT INTO chat_logs ({', '.join(GEN_COLUMNS)}) VALUES ({', '.join('?' * len(GEN_COLUMNS))})"
    # The secondary indexes are built once after the load (a sort), not row by row: the same
    # indexes, recreated from the statements the migrations left in sqlite_master.
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'chat_logs' AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    for batch in _chunks(rows, acc, chunk):
        conn.execute("BEGIN")
        conn.executemany(insert, batch)
        conn.execute("COMMIT")
    for _, sql in indexes:
        conn.execute(sql)
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT OR REPLACE INTO log_rollups_hourly ({', '.join(_ROLLUP_COLUMNS)}) VALUES ({', '.join('?' * len(_ROLLUP_COLUMNS))})",
        _rollup_rows(acc),
    )
    # the minute and daily rollups and every level's totals, the way the migrations fill them for an
    # existing database
    sqlite_rollups.backfill(conn)
    sqlite_rollups.backfill_totals(conn)
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _load_postgres(
    url: str, rows: Iterator[tuple[Any, ...]], acc: dict[rollup.RollupKey, rollup.Rollup], chunk: int
) -> None:
    import psycopg

    from mimo2codex.store.pg_schema import PG_TYPES

    types = [PG_TYPES[name] for name in GEN_COLUMNS]
    with psycopg.connect(url, autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chat_logs' AND indexname <> 'chat_logs_pkey'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")  # type: ignore[arg-type]
        for batch in _chunks(rows, acc, chunk):
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY chat_logs ({', '.join(GEN_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(types)
                for row in batch:
                    copy.write_row(row)
        conn.execute("SET maintenance_work_mem = '256MB'")
        for _, sql in indexes:
            conn.execute(sql)
        placeholders = ", ".join(["%s"] * (len(_ROLLUP_COLUMNS) - 3) + ["%s::jsonb"] * 3)
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO log_rollups_hourly ({', '.join(_ROLLUP_COLUMNS)}) VALUES ({placeholders})",  # type: ignore[arg-type]
                _rollup_rows(acc),
            )
        with conn.transaction():
            pg_rollups.backfill(conn)  # the minute and daily rollups, as the migration fills them
            pg_rollups.backfill_totals(conn)  # and every level's route-less totals
        conn.execute("ANALYZE chat_logs")  # autovacuum would, a minute later
        for table in ("log_rollups_hourly", "log_rollups_minute", "log_rollups_daily", *_TOTAL_TABLES):
            conn.execute(f"ANALYZE {table}")  # type: ignore[arg-type]
