"""Test data for the request-log benchmarks: realistic records, and a big log generated in bulk.

- :func:`codex_record` builds the :class:`RequestRecord` of one Codex turn, with the references the
  capture policy serializes (the ~40 KB Codex request of the fixtures, a ~3 KB Responses object).
- :func:`generate` fills a store's database with ``n`` rows spread over ``days`` days and their
  hourly rollups, without going through the writer: rows come from small pools of values (varied
  enough for the indexes and the histograms to be realistic), go in with ``executemany`` (SQLite) or
  a binary ``COPY`` (PostgreSQL) in big transactions, and the rollups are summed on the way and
  written once at the end. 10 million rows take a few minutes per backend.
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
from mimo2codex.store import histogram, rollup
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


def _rows(n: int, days: float, now_ms: int, seed: int) -> Iterator[tuple[Any, ...]]:
    pools = _Pools(seed)
    span = int(days * rollup.DAY_MS)
    start = now_ms - span
    error_every = int(1 / ERROR_RATE)
    for i in range(n):
        p = (i * 7919) % _POOL
        provider, client_model, upstream_model = ROUTES[(i * 31 + i // 97) % len(ROUTES)]
        duration, ttft = pools.duration[p], pools.ttft[(p * 13) % _POOL]
        prompt, completion = pools.prompt[p], pools.completion[(p * 5) % _POOL]
        cached = prompt * 3 // 4
        failed = i % error_every == 7
        status, code, message = ERRORS[i % len(ERRORS)] if failed else (200, None, None)
        chat = i % 10 == 0
        values = {
            "ts": start + i * span // n,
            "request_id": f"req_{i:024x}",
            "provider_id": provider,
            "client_model": client_model,
            "upstream_model": upstream_model,
            "endpoint": "/v1/chat/completions" if chat else "/v1/responses",
            "status_code": status,
            "duration_ms": duration,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cached_tokens": cached,
            "stream": 0 if chat else 1,
            "error_code": code,
            "error_snippet": message,
            "tool_call_count": i % 3,
            "request_body": pools.error_body if failed else None,
            "response_body": message if failed else None,
            "reasoning_tokens": completion // 3,
            "ttft_ms": ttft,
            "upstream_status": status,
            "upstream_request_id": None,
            "finish_reason": None if failed else "stop",
            "retries": 1 if failed and status == 429 else 0,
            "rewritten_from": None,
            "rewrite_reason": None,
            "bytes_in": 40_000,
            "bytes_out": 3_000,
            "user_agent": USER_AGENT,
            "codex_version": "0.169.0",
            "client_token": None,
            "outcome": "error" if failed else "completed",
            "instance": "bench",
            "notes": None,
            "duration_bucket": histogram.bucket_of(duration),
            "ttft_bucket": histogram.bucket_of(ttft),
        }
        yield tuple(values[name] for name in COLUMN_NAMES)


_I = {name: i for i, name in enumerate(COLUMN_NAMES)}


def _fold(acc: dict[rollup.RollupKey, rollup.Rollup], row: tuple[Any, ...]) -> None:
    # rollup.Rollup.add_row on a tuple, without building a dict per row
    key = (
        row[_I["ts"]] - row[_I["ts"]] % rollup.HOUR_MS,
        row[_I["provider_id"]],
        row[_I["client_model"]],
        row[_I["upstream_model"]],
    )
    r = acc.get(key)
    if r is None:
        r = acc[key] = rollup.Rollup()
    r.requests += 1
    if row[_I["status_code"]] >= 400:
        r.errors += 1
        r.errors_by_code[row[_I["error_code"]]] = r.errors_by_code.get(row[_I["error_code"]], 0) + 1
    r.prompt_tokens += row[_I["prompt_tokens"]]
    r.completion_tokens += row[_I["completion_tokens"]]
    r.total_tokens += row[_I["total_tokens"]]
    r.cached_tokens += row[_I["cached_tokens"]]
    r.reasoning_tokens += row[_I["reasoning_tokens"]]
    r.bytes_in += row[_I["bytes_in"]]
    r.bytes_out += row[_I["bytes_out"]]
    r.duration_sum += row[_I["duration_ms"]]
    r.ttft_sum += row[_I["ttft_ms"]]
    b = row[_I["duration_bucket"]]
    r.latency[b] = r.latency.get(b, 0) + 1
    b = row[_I["ttft_bucket"]]
    r.ttft[b] = r.ttft.get(b, 0) + 1


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
    insert = f"INSERT INTO chat_logs ({', '.join(COLUMN_NAMES)}) VALUES ({', '.join('?' * len(COLUMN_NAMES))})"
    for batch in _chunks(rows, acc, chunk):
        conn.execute("BEGIN")
        conn.executemany(insert, batch)
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT OR REPLACE INTO log_rollups_hourly ({', '.join(_ROLLUP_COLUMNS)}) VALUES ({', '.join('?' * len(_ROLLUP_COLUMNS))})",
        _rollup_rows(acc),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _load_postgres(
    url: str, rows: Iterator[tuple[Any, ...]], acc: dict[rollup.RollupKey, rollup.Rollup], chunk: int
) -> None:
    import psycopg

    from mimo2codex.store.pg_schema import PG_TYPES

    types = [PG_TYPES[name] for name in COLUMN_NAMES]
    with psycopg.connect(url, autocommit=True) as conn:
        for batch in _chunks(rows, acc, chunk):
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY chat_logs ({', '.join(COLUMN_NAMES)}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(types)
                for row in batch:
                    copy.write_row(row)
        placeholders = ", ".join(["%s"] * (len(_ROLLUP_COLUMNS) - 3) + ["%s::jsonb"] * 3)
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO log_rollups_hourly ({', '.join(_ROLLUP_COLUMNS)}) VALUES ({placeholders})",  # type: ignore[arg-type]
                _rollup_rows(acc),
            )
        conn.execute("ANALYZE chat_logs")  # autovacuum would, a minute later
        conn.execute("ANALYZE log_rollups_hourly")
