"""asyncpg vs psycopg 3 for the request log's shape: which driver the PostgreSQL store uses.

    python -m bench.pg_driver                 # about 1 minute, starts its own throw-away cluster
    python -m bench.pg_driver --url postgresql://user@host/db --rows 20000

The store's shape (mimo2codex/store/base.py): one writer thread drains a queue in batched transactions
(insert the rows, upsert the hourly rollups with their histogram arrays), and blocking reads run on a
thread pool (the logs page, one row's detail, a rollup aggregate). Each driver is driven the way that
shape needs it:

- psycopg 3: plain blocking calls; the writer owns one connection, readers share a ``ConnectionPool``;
- asyncpg: it has no blocking API, so the writer runs its own event loop in its thread, and the readers
  submit coroutines to a loop thread that owns an asyncpg pool (``run_coroutine_threadsafe``); the same
  readers are also measured from inside that loop (its best case, no thread hop).

Figures: rows/s of the writer and its client CPU per row (``time.process_time`` of this process, i.e.
what the gateway's own process would spend, GIL held or not), and read latency p50/p95 from 4 threads.
The server is durable (fsync on), as a real one is.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import psycopg
import psycopg_pool

SCHEMA = """
DROP TABLE IF EXISTS bench_log, bench_rollup;
CREATE TABLE bench_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts bigint NOT NULL, request_id text NOT NULL, provider_id text, client_model text, upstream_model text,
    endpoint text, status_code integer, duration_ms integer, ttft_ms integer, prompt_tokens integer,
    completion_tokens integer, total_tokens integer, cached_tokens integer, reasoning_tokens integer,
    stream boolean, error_code text, error_snippet text, tool_call_count integer, finish_reason text,
    user_agent text, bytes_in integer, bytes_out integer, request_body text, response_body text
);
CREATE INDEX bench_log_ts ON bench_log (ts);
CREATE TABLE bench_rollup (
    hour bigint NOT NULL, provider_id text NOT NULL, client_model text NOT NULL, upstream_model text NOT NULL,
    requests bigint NOT NULL, errors bigint NOT NULL, prompt_tokens bigint NOT NULL,
    completion_tokens bigint NOT NULL, latency_hist bigint[] NOT NULL,
    PRIMARY KEY (hour, provider_id, client_model, upstream_model)
);
"""

COLUMNS = (
    "ts, request_id, provider_id, client_model, upstream_model, endpoint, status_code, duration_ms, ttft_ms, "
    "prompt_tokens, completion_tokens, total_tokens, cached_tokens, reasoning_tokens, stream, error_code, "
    "error_snippet, tool_call_count, finish_reason, user_agent, bytes_in, bytes_out, request_body, response_body"
)
N_COLUMNS = COLUMNS.count(",") + 1
INSERT_PG = f"INSERT INTO bench_log ({COLUMNS}) VALUES ({', '.join(['%s'] * N_COLUMNS)})"
INSERT_APG = f"INSERT INTO bench_log ({COLUMNS}) VALUES ({', '.join(f'${i}' for i in range(1, N_COLUMNS + 1))})"
HIST_BUCKETS = 64
_UPSERT = """INSERT INTO bench_rollup AS r VALUES ({p}) ON CONFLICT (hour, provider_id, client_model, upstream_model)
DO UPDATE SET requests = r.requests + excluded.requests, errors = r.errors + excluded.errors,
  prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
  completion_tokens = r.completion_tokens + excluded.completion_tokens,
  latency_hist = ARRAY(SELECT a + b FROM unnest(r.latency_hist, excluded.latency_hist) AS u(a, b))"""
UPSERT_PG = _UPSERT.format(p=", ".join(["%s"] * 9))
UPSERT_APG = _UPSERT.format(p=", ".join(f"${i}" for i in range(1, 10)))

PAGE = "SELECT id, ts, provider_id, client_model, status_code, duration_ms, total_tokens FROM bench_log WHERE id < {p} ORDER BY id DESC LIMIT 50"
DETAIL = "SELECT * FROM bench_log WHERE id = {p}"
ROLLUP = (
    "SELECT provider_id, sum(requests), sum(errors), sum(prompt_tokens) FROM bench_rollup "
    "WHERE hour >= {p} GROUP BY provider_id"
)

Row = tuple[Any, ...]


def make_rows(n: int, body_bytes: int, seed: int = 1) -> list[Row]:
    rng = random.Random(seed)
    body = "x" * body_bytes
    now = int(time.time() * 1000)
    rows = []
    for i in range(n):
        status = 200 if rng.random() > 0.05 else 429
        rows.append(
            (
                now + i,
                f"req_{i:012d}",
                rng.choice(("mimo", "deepseek", "qwen")),
                rng.choice(("gpt-5", "gpt-5-codex", "o3")),
                rng.choice(("mimo-v2", "deepseek-v4", "qwen3")),
                "/v1/responses",
                status,
                rng.randint(100, 30_000),
                rng.randint(50, 3_000),
                rng.randint(1_000, 60_000),
                rng.randint(10, 4_000),
                0,
                rng.randint(0, 50_000),
                rng.randint(0, 2_000),
                True,
                None if status == 200 else "rate_limit_exceeded",
                None if status == 200 else "upstream said 429",
                rng.randint(0, 3),
                "stop",
                "codex_cli_rs/0.169.0",
                40_000,
                2_000,
                body,
                body[: body_bytes // 2],
            )
        )
    return rows


def rollups(batch: list[Row]) -> list[Row]:
    """The batch's hourly rollup rows, as the writer computes them before the upsert."""
    acc: dict[tuple[Any, ...], list[Any]] = {}
    for row in batch:
        key = (row[0] // 3_600_000 * 3_600_000, row[2], row[3], row[4])
        entry = acc.setdefault(key, [0, 0, 0, 0, [0] * HIST_BUCKETS])
        entry[0] += 1
        entry[1] += row[6] >= 400
        entry[2] += row[9]
        entry[3] += row[10]
        entry[4][min(HIST_BUCKETS - 1, row[7].bit_length() * 2)] += 1
    return [(*key, *values) for key, values in acc.items()]


# -- writers ----------------------------------------------------------------------------------------


# the COPY BINARY column types, in COLUMNS order
TYPES = [
    "int8",
    *["text"] * 5,
    *["int4"] * 8,
    "bool",
    "text",
    "text",
    "int4",
    "text",
    "text",
    "int4",
    "int4",
    "text",
    "text",
]


def write_psycopg(url: str, rows: list[Row], batch: int, copy: str | None) -> None:
    with psycopg.connect(url) as conn:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            with conn.transaction(), conn.cursor() as cur:
                if copy:
                    binary = copy == "binary"
                    with cur.copy(
                        f"COPY bench_log ({COLUMNS}) FROM STDIN{' (FORMAT BINARY)' if binary else ''}"
                    ) as sink:
                        if binary:
                            sink.set_types(TYPES)
                        for row in chunk:
                            sink.write_row(row)
                else:
                    cur.executemany(INSERT_PG, chunk)
                cur.executemany(UPSERT_PG, rollups(chunk))


def write_asyncpg(url: str, rows: list[Row], batch: int, copy: bool) -> None:
    # asyncpg has no blocking API: the writer thread runs its own loop for its whole life.
    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                async with conn.transaction():
                    if copy:
                        await conn.copy_records_to_table(
                            "bench_log", records=chunk, columns=[c.strip() for c in COLUMNS.split(",")]
                        )
                    else:
                        await conn.executemany(INSERT_APG, chunk)
                    await conn.executemany(UPSERT_APG, rollups(chunk))
        finally:
            await conn.close()

    asyncio.run(run())


WRITERS: dict[str, Callable[[str, list[Row], int], None]] = {
    "psycopg executemany": lambda u, r, b: write_psycopg(u, r, b, copy=None),
    "psycopg COPY": lambda u, r, b: write_psycopg(u, r, b, copy="text"),
    "psycopg COPY binary": lambda u, r, b: write_psycopg(u, r, b, copy="binary"),
    "asyncpg executemany": lambda u, r, b: write_asyncpg(u, r, b, copy=False),
    "asyncpg COPY": lambda u, r, b: write_asyncpg(u, r, b, copy=True),
}


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]


def bench_writer(url: str, name: str, rows: list[Row], batch: int) -> dict[str, float]:
    reset(url)
    result: dict[str, float] = {}

    def target() -> None:
        # the writer's own thread, as in the store: its CPU is this thread's (the GIL is the gateway's too)
        cpu0, t0 = time.thread_time(), time.perf_counter()
        WRITERS[name](url, rows, batch)
        result["wall"] = time.perf_counter() - t0
        result["cpu"] = time.thread_time() - cpu0

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    return {"rows_per_s": len(rows) / result["wall"], "cpu_us_per_row": result["cpu"] / len(rows) * 1e6}


# -- readers ----------------------------------------------------------------------------------------


def _queries(max_id: int, rng: random.Random) -> Iterator[tuple[str, Any]]:
    hour = int(time.time() * 1000) // 3_600_000 * 3_600_000 - 24 * 3_600_000
    while True:
        yield "page", rng.randint(100, max_id)
        yield "detail", rng.randint(1, max_id)
        yield "rollup", hour


def bench_reads_psycopg(url: str, max_id: int, reads: int, threads: int) -> dict[str, float]:
    sql = {"page": PAGE.format(p="%s"), "detail": DETAIL.format(p="%s"), "rollup": ROLLUP.format(p="%s")}
    with psycopg_pool.ConnectionPool(url, min_size=threads, max_size=threads, open=True) as pool:
        pool.wait()

        def one(kind: str, arg: Any) -> float:
            t0 = time.perf_counter()
            with pool.connection() as conn:
                conn.execute(sql[kind], (arg,)).fetchall()  # type: ignore[arg-type]
            return time.perf_counter() - t0

        return _drive_threads(one, max_id, reads, threads)


def bench_reads_asyncpg(url: str, max_id: int, reads: int, threads: int, in_loop: bool) -> dict[str, float]:
    sql = {"page": PAGE.format(p="$1"), "detail": DETAIL.format(p="$1"), "rollup": ROLLUP.format(p="$1")}
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()

    async def create() -> asyncpg.Pool:
        return await asyncpg.create_pool(url, min_size=threads, max_size=threads)

    pool = asyncio.run_coroutine_threadsafe(create(), loop).result()
    try:
        if in_loop:

            async def run_all() -> dict[str, float]:
                rng = random.Random(7)
                queries = _queries(max_id, rng)
                latencies: list[float] = []

                async def lane(n: int) -> None:
                    for _ in range(n):
                        kind, arg = next(queries)
                        t0 = time.perf_counter()
                        await pool.fetch(sql[kind], arg)
                        latencies.append(time.perf_counter() - t0)

                cpu0, t0 = time.process_time(), time.perf_counter()
                await asyncio.gather(*(lane(reads // threads) for _ in range(threads)))
                return _summary(latencies, time.process_time() - cpu0, time.perf_counter() - t0)

            return asyncio.run_coroutine_threadsafe(run_all(), loop).result()

        def one(kind: str, arg: Any) -> float:
            t0 = time.perf_counter()
            asyncio.run_coroutine_threadsafe(pool.fetch(sql[kind], arg), loop).result()
            return time.perf_counter() - t0

        return _drive_threads(one, max_id, reads, threads)
    finally:
        asyncio.run_coroutine_threadsafe(pool.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join()
        loop.close()


def _drive_threads(one: Callable[[str, Any], float], max_id: int, reads: int, threads: int) -> dict[str, float]:
    rng = random.Random(7)
    queries = _queries(max_id, rng)
    work = [next(queries) for _ in range(reads)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        latencies = list(pool.map(lambda q: one(*q), work))
    return _summary(latencies, time.process_time() - cpu0, time.perf_counter() - t0)


def _summary(latencies: list[float], cpu: float, wall: float) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": cuts[49] * 1e3,
        "p95_ms": cuts[94] * 1e3,
        "reads_per_s": len(latencies) / wall,
        "cpu_us_per_read": cpu / len(latencies) * 1e6,
    }


# -- main -------------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.postgres_server import PostgresServer

    with PostgresServer.started(durable=True) as server:
        yield server.create_database("bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an existing database (default: a throw-away cluster)")
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--body-bytes", type=int, default=4_096, help="request body size (response: half)")
    parser.add_argument("--reads", type=int, default=6_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the median is reported")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    rows = make_rows(args.rows, args.body_bytes)
    results: dict[str, dict[str, float]] = {}
    with database(args.url) as url:
        runs: dict[str, list[dict[str, float]]] = {}
        for round_ in range(args.rounds):
            names = list(WRITERS) if round_ % 2 == 0 else list(reversed(WRITERS))
            for name in names:
                runs.setdefault(name, []).append(bench_writer(url, name, rows, args.batch))
        for name, measured in runs.items():
            results[f"write: {name}"] = {k: statistics.median(m[k] for m in measured) for k in measured[0]}
        readers: dict[str, Callable[[], dict[str, float]]] = {
            "psycopg pool, 4 threads": lambda: bench_reads_psycopg(url, args.rows, args.reads, args.threads),
            "asyncpg pool via loop thread, 4 threads": lambda: bench_reads_asyncpg(
                url, args.rows, args.reads, args.threads, in_loop=False
            ),
            "asyncpg pool inside its loop (best case)": lambda: bench_reads_asyncpg(
                url, args.rows, args.reads, args.threads, in_loop=True
            ),
        }
        for name, reader in readers.items():
            reader()  # warm the server's cache and the pools' statements
            results[f"read: {name}"] = reader()

    print(f"{args.rows} rows of {args.body_bytes} + {args.body_bytes // 2} body bytes, batches of {args.batch}")
    for name, figures in results.items():
        print(f"{name:55s} " + "  ".join(f"{k}={v:,.1f}" for k, v in figures.items()))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
