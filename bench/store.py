"""The request log's benchmarks (issue 8), on SQLite and on PostgreSQL.

    python -m bench.store writer                  # rows/s of the writer alone, full bodies (~7 min)
    python -m bench.store size                    # database size per 100k requests, each capture mode
    python -m bench.store queries --rows 10000000 # the dashboard's queries on a 10-million-row log
    python -m bench.store all --json store.json   # everything (about 25 minutes for 10M rows)

``--backend sqlite|postgresql|both`` (default both). PostgreSQL runs on a throw-away cluster
(tests/postgres_server.py, fsync on) unless ``--pg-url`` names a database to use (it is emptied).

- writer: N Codex records, every body kept (redacted and capped by the capture policy), are
  submitted at once; rows/s is N over the time until the writer has committed them all, and CPU is
  this process's per row and each writer thread's (render, database). ``--runs`` (3) repeats each
  case and adds the median and the best rows/s. ``--bodies sessions``: Codex sessions of 20
  turns, interleaved (bench/sessions.py: the fixture's ~40 KB first request growing ~2.5 KB a turn,
  every request distinct, a ~3 KB response each); ``--bodies unique``: ~40 KB bodies sharing no
  bytes at all (the worst case); ``both`` (default). A sample of rows is read back and compared.
- size: M records (the same sessions) through the real writer per capture mode (off, errors-only
  with 2 % failures, full), then the database's size (SQLite: the file after a checkpoint; PostgreSQL: the tables with
  their indexes and TOAST), scaled to 100k requests.
- queries: a log of ``--rows`` rows over 30 days is generated in bulk (bench/store_data.py), then
  each query runs ``--repeat`` times while another thread submits requests through the writer
  (``--rate`` per second, from ``--warmup`` seconds before the first query): stats of the last 24 h (exact window: rollups plus the raw edge hours),
  hourly timeseries of 24 h and daily of 30 days, the newest logs page, a filtered page (one
  provider; failed requests), and the detail of a random row. Figures: p50/p95/max in ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench import store_before as before
from bench.sessions import session_records, unique_records
from bench.store_data import codex_record, codex_request_body, generate
from mimo2codex.store.base import LogQuery, Store
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.rollup import DAY_MS
from mimo2codex.store.sqlite import SqliteStore

BACKENDS = ("sqlite", "postgresql")
SECRETS = ("sk-bench-upstream-key-0123456789abcdef", "bench-inbound-token-0123456789")


class Backends:
    """Fresh databases of each backend: SQLite files in a temp dir, PostgreSQL databases on a cluster."""

    def __init__(self, workdir: Path, pg_url: str | None) -> None:
        self.workdir = workdir
        self.pg_url = pg_url
        self._server: Any = None
        self._count = 0

    def __enter__(self) -> Backends:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()

    def target(self, backend: str) -> Any:
        """A fresh location: a Path (SQLite) or a URL (PostgreSQL)."""
        self._count += 1
        if backend == "sqlite":
            return self.workdir / f"bench-{self._count}.db"
        if self.pg_url:
            import psycopg

            with psycopg.connect(self.pg_url, autocommit=True) as conn:
                conn.execute(
                    "DROP TABLE IF EXISTS chat_logs, log_rollups_hourly, log_rollups_minute, log_rollups_daily, "
                    "log_totals_hourly, log_totals_minute, log_totals_daily, "
                    "body_pieces, models, model_aliases, settings, stored_responses, migrations CASCADE"
                )
                conn.execute("DROP FUNCTION IF EXISTS m2c_jsonb_add(jsonb, jsonb) CASCADE")
            return self.pg_url
        if self._server is None:
            from tests.postgres_server import PostgresServer

            self._server = PostgresServer(durable=True, settings={"shared_buffers": "256MB"})
            self._server.start()
        return self._server.create_database(f"bench{self._count}")

    def store(self, backend: str, target: Any, **options: Any) -> Store:
        if backend == "sqlite":
            return SqliteStore(target, **options)
        from mimo2codex.store.postgres import PostgresStore

        return PostgresStore(target, **options)

    def size(self, backend: str, store: Store) -> int:
        if backend == "sqlite":
            import sqlite3

            conn = sqlite3.connect(store.path)  # type: ignore[attr-defined]
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            return sum(p.stat().st_size for p in store.path.parent.glob(store.path.name + "*"))  # type: ignore[attr-defined]
        import psycopg

        with psycopg.connect(store.url) as conn:  # type: ignore[attr-defined]
            conn.execute("CHECKPOINT")
            # every table of the store with its indexes and TOAST (the log, its pieces, the rollups)
            row = conn.execute(
                "SELECT sum(pg_total_relation_size(oid)) FROM pg_class "
                "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
            ).fetchone()
        return int(row[0]) if row else 0


def _policy(mode: str) -> CapturePolicy:
    return CapturePolicy.build(mode, 256 << 10, SECRETS)  # type: ignore[arg-type]


# -- writer ---------------------------------------------------------------------------------------


#: a writer run's records: Codex sessions (distinct bodies sharing what Codex resends), or bodies
#: sharing nothing (the worst case of the piece store and the redaction cache)
BODIES = ("sessions", "unique")
SESSION_TURNS = 20


def writer_records(bodies: str, n: int) -> list[Any]:
    if bodies == "unique":
        return unique_records(n)
    return session_records(max(1, n // SESSION_TURNS), SESSION_TURNS)


def drain(store: Store, records: Sequence[Any]) -> tuple[float, float]:
    """Submit ``records`` at once and wait until the writer has committed them all: (wall, CPU) seconds."""
    cpu0, t0 = time.process_time(), time.perf_counter()
    for record in records:
        store.submit(record)
    assert store.flush(600), "the writer did not finish"
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    state = store.state()
    assert (state.written, state.dropped) == (len(records), 0), state
    return wall, cpu


def check_bodies(store: Store, records: Sequence[Any], log_ids: Iterable[int]) -> None:
    """These rows' request bodies read back as the capture policy renders them."""
    check = _policy("full")
    for log_id in log_ids:
        row = store.log(log_id)
        assert row is not None
        assert row["request_body"] == check.render(records[log_id - 1].request_body)


def bench_writer(backends: Backends, backend: str, n: int, bodies: str = "sessions") -> dict[str, float]:
    records = writer_records(bodies, n)
    n = len(records)
    body_bytes = sum(len(r.request_body) for r in records) / n
    store = backends.store(backend, backends.target(backend), policy=_policy("full"), queue_size=n + 1)
    store.open()
    try:
        before = store.state()
        wall, cpu = drain(store, records)
        state = store.state()
        size = backends.size(backend, store)
        check_bodies(store, records, (1, n // 2, n))
    finally:
        store.close()
    return {
        "rows": n,
        "rows_per_s": n / wall,
        "cpu_us_per_row": cpu / n * 1e6,
        # the writer's two threads (LogWriter's own counts): rendering is bound by the GIL, the
        # database thread mostly waits in sqlite3/libpq without it
        "render_cpu_us_per_row": (state.render_seconds - before.render_seconds) / n * 1e6,
        "database_cpu_us_per_row": (state.database_seconds - before.database_seconds) / n * 1e6,
        "bytes_per_row": size / n,
        "request_body_bytes": body_bytes,
    }


def writer_runs(backends: Backends, backend: str, n: int, bodies: str, runs: int) -> dict[str, Any]:
    """``runs`` writer runs: each run's figures, and the median and best rows/s.

    This VM's speed moves by a third from one minute to the next (other tenants), and that only
    ever slows a run down: the median says what to expect, the best what the code can do.
    """
    each = [bench_writer(backends, backend, n, bodies) for _ in range(runs)]
    rates = sorted(run["rows_per_s"] for run in each)
    return {
        **{f"run {i + 1}": run for i, run in enumerate(each)},
        "rows_per_s_median": statistics.median(rates),
        "rows_per_s_best": rates[-1],
    }


# -- size -----------------------------------------------------------------------------------------


def bench_size(backends: Backends, backend: str, n: int) -> dict[str, float]:
    records = session_records(max(1, n // SESSION_TURNS), SESSION_TURNS)
    now = time.time()
    out: dict[str, float] = {}
    for mode in ("off", "errors-only", "full"):
        store = backends.store(backend, backends.target(backend), policy=_policy(mode), queue_size=len(records) + 1)
        store.open()
        try:
            for i, template in enumerate(records):
                started = now - (len(records) - i) * 0.5
                record = codex_record(i, template.request_body, started=started, failed=i % 50 == 7)
                store.submit(record)
            assert store.flush(900)
            assert store.state().written == len(records)
            out[mode] = backends.size(backend, store) * 100_000 / len(records)
        finally:
            store.close()
    return out


# -- queries --------------------------------------------------------------------------------------


#: what the admin console asks the server for when its dashboard and logs pages open
ADMIN_PATHS = {
    "admin: dashboard page (/admin/)": "/admin/",
    "admin: dashboard?range=24h": "/admin/api/dashboard?range=24h",
    "admin: dashboard?range=30d": "/admin/api/dashboard?range=30d",
    "admin: logs page (/admin/logs)": "/admin/logs",
    "admin: logs?limit=50 (keyset)": "/admin/api/logs?limit=50",
}


@contextlib.contextmanager
def admin_client(store: Store) -> Iterator[Any]:
    """The gateway app on ``store`` (owned by the caller), as an in-process client on a loopback Host."""
    from starlette.testclient import TestClient

    from mimo2codex.server import create_app
    from mimo2codex.settings import load_settings

    settings = load_settings(
        {"GENERIC_BASE_URL": "http://127.0.0.1:9/v1", "GENERIC_API_KEY": "k", "GENERIC_DEFAULT_MODEL": "m"}
    )
    with TestClient(create_app(settings, store=store), base_url="http://127.0.0.1:8788") as client:
        yield client


def _get(client: Any, path: str) -> Callable[[], Any]:
    def get() -> Any:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        return response

    return get


def _timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    fn()  # warm: the first call opens connections and reads pages in
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return {"p50_ms": cuts[49], "p95_ms": cuts[94], "max_ms": max(times)}


@contextlib.contextmanager
def traffic(store: Store, rate: float) -> Iterator[list[int]]:
    """Requests flowing through the writer at ``rate`` per second while the block runs."""
    body = codex_request_body()
    stop = threading.Event()
    sent = [0]

    def run() -> None:
        i = 10**9
        start = time.perf_counter()
        while not stop.is_set():
            store.submit(codex_record(i, body, failed=i % 50 == 7))
            i += 1
            sent[0] += 1
            delay = start + sent[0] / rate - time.perf_counter()
            if delay > 0:
                stop.wait(delay)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join()


def bench_queries(
    backends: Backends, backend: str, rows: int, repeat: int, rate: float, reuse: Any = None, warmup: float = 0.0
) -> dict[str, Any]:
    """``reuse``: a database an earlier run generated (a SQLite path or a PostgreSQL URL): no new log.
    ``warmup``: seconds the traffic flows before the first query, so the newest minute holds its
    rows (a window ending now reads that minute's edge; right after the traffic starts it is empty)."""
    target = reuse or backends.target(backend)
    generated_s = float("nan")
    if reuse is None:
        store = backends.store(backend, target, policy=_policy("errors-only"))
        store.open()  # the schema, through the store's own migrations
        store.close()
        t0 = time.perf_counter()
        generate(target, rows)
        generated_s = time.perf_counter() - t0
    store = backends.store(backend, target, policy=_policy("errors-only"))
    store.open()
    rng = random.Random(3)
    result: dict[str, Any] = {"rows": rows, "generate_s": generated_s, "rows_per_s_generated": rows / generated_s}
    try:
        newest = store.logs(LogQuery(limit=1)).rows[0]["id"]
        with traffic(store, rate) as sent:
            queries: dict[str, Callable[[], Any]] = {
                "stats, last 24 h": lambda: store.stats(_now() - DAY_MS, _now()),
                "timeseries, 24 h hourly": lambda: store.timeseries(_now() - DAY_MS, _now(), "hour"),
                "timeseries, 30 days daily": lambda: store.timeseries(_now() - 30 * DAY_MS, _now(), "day"),
                # the read path before the minute and daily rollups (bench/store_before.py), same log
                "before: stats, last 24 h": lambda: before.stats(store, _now() - DAY_MS, _now()),
                "before: timeseries, 24 h hourly": lambda: before.timeseries(store, _now() - DAY_MS, _now(), "hour"),
                "before: timeseries, 30 days daily": lambda: before.timeseries(
                    store, _now() - 30 * DAY_MS, _now(), "day"
                ),
                "logs list, newest 50": lambda: store.logs(LogQuery(limit=50)),
                "logs list, one provider": lambda: store.logs(LogQuery(provider="qwen", limit=50)),
                "logs list, failed requests": lambda: store.logs(LogQuery(status_class="error", limit=50)),
                "logs list, page 20 (keyset)": lambda: store.logs(LogQuery(limit=50, before_id=newest - 20 * 50)),
                "log detail, random row": lambda: store.log(rng.randint(1, newest)),
            }
            # Issue 9's figure: the admin's dashboard call and the pages, served by the real app on
            # this log (server time: in-process ASGI, no socket).
            with admin_client(store) as admin:
                for label, path in ADMIN_PATHS.items():
                    queries[label] = _get(admin, path)
            time.sleep(warmup)
            warm = sent[0]
            started = time.perf_counter()
            for name, query in queries.items():
                result[name] = _timed(query, repeat)
            elapsed = time.perf_counter() - started
        assert store.flush(30)
        state = store.state()
        result["traffic"] = {
            "submitted": sent[0],
            "per_s": (sent[0] - warm) / elapsed,
            "written": state.written,
            "dropped": state.dropped,
        }
        result["db_bytes"] = backends.size(backend, store)
        result["stats_check"] = store.stats(_now() - 31 * DAY_MS, _now())["requests"]
        # both read paths agree on a fixed window (no request lands in it any more)
        since, until = _now() - 7 * DAY_MS - 1234, _now() - 2 * DAY_MS - 5678
        now_doc, before_doc = store.stats(since, until), before.stats(store, since, until)
        compared = ("requests", "errors", "errors_by_code", "prompt_tokens", "latency_ms", "ttft_ms")
        result["before_agrees"] = all(now_doc[k] == before_doc[k] for k in compared)
    finally:
        store.close()
    return result


def _now() -> int:
    # an hour boundary is not special: windows start mid-hour, so the edges are read from raw rows
    return int(time.time() * 1000)


# -- main -----------------------------------------------------------------------------------------


def _print(title: str, figures: dict[str, Any]) -> None:
    print(f"\n## {title}")
    for key, value in figures.items():
        if isinstance(value, dict):
            print(
                f"  {key:32s} "
                + "  ".join(f"{k}={v:,.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items())
            )
        else:
            print(f"  {key:32s} {value:,.1f}" if isinstance(value, float) else f"  {key:32s} {value}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("writer", "size", "queries", "all"))
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--pg-url", help="an existing PostgreSQL database to use (its tables are dropped)")
    parser.add_argument("--writer-rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3, help="writer: runs of each backend and body kind")
    parser.add_argument(
        "--bodies", choices=(*BODIES, "both"), default="both", help="writer: Codex sessions, bodies sharing nothing"
    )
    parser.add_argument("--size-rows", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the generated log (queries)")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s flowing during the queries")
    parser.add_argument("--warmup", type=float, default=60.0, help="queries: seconds of traffic before the first query")
    parser.add_argument("--workdir", type=Path, help="where SQLite files go (default: a temp dir)")
    parser.add_argument(
        "--reuse", help="queries: measure this generated database again (SQLite path or PostgreSQL URL)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    chosen = BACKENDS if args.backend == "both" else (args.backend,)
    report: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="mimo2codex-store-bench-"))
        )
        backends = stack.enter_context(Backends(workdir, args.pg_url))
        for backend in chosen:
            if args.what in ("writer", "all"):
                for bodies in BODIES if args.bodies == "both" else (args.bodies,):
                    key = f"writer {backend} {bodies}"
                    report[key] = writer_runs(backends, backend, args.writer_rows, bodies, args.runs)
                    _print(f"writer, {backend}, {bodies} bodies", report[key])
            if args.what in ("size", "all"):
                report[f"size {backend}"] = bench_size(backends, backend, args.size_rows)
                _print(f"bytes per 100k requests, {backend}", report[f"size {backend}"])
            if args.what in ("queries", "all"):
                reuse = (Path(args.reuse) if backend == "sqlite" else args.reuse) if args.reuse else None
                report[f"queries {backend}"] = bench_queries(
                    backends, backend, args.rows, args.repeat, args.rate, reuse, args.warmup
                )
                _print(f"queries on {args.rows:,} rows, {backend}", report[f"queries {backend}"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
