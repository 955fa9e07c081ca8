"""The PostgreSQL backend: one database shared by every gateway instance (``--database-url``).

psycopg 3 (chosen by measurement, see bench/pg_driver.py and bench/README.md): the store's callers
are blocking (the writer thread, a thread pool, the CLI), and psycopg is a blocking driver with a
thread-safe pool, while asyncpg would need an event loop of its own and a thread hop per read.

- The writer thread owns one connection. Each batch is one transaction of a handful of statements:
  the new body pieces upserted from three arrays, the rows with a binary ``COPY``, then each level's
  rollup deltas upserted from arrays (``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE``
  adding counters and histograms in the server; the levels in one pipeline), pieces in digest order
  and keys in key order so that two instances never deadlock on them.
- Readers (the admin, ``mimo2codex logs``) share a small connection pool, autocommit, with a
  statement timeout: a slow query fails, it never holds a request.
- A database that is down, full or read-only never fails a request: the batch is dropped and counted
  (:class:`~mimo2codex.store.writer.LogWriter`), the state says why, and the next batch reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from mimo2codex.errors import ConfigError
from mimo2codex.store import batch, bodies, pg_rollups, rollup
from mimo2codex.store.base import Bucket, LogPage, LogQuery
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.logfilter import where
from mimo2codex.store.pg_records import DELETE_RESPONSES, PUT_RESPONSES, PgRecordTables, put_responses_params
from mimo2codex.store.pg_rollups import Parts
from mimo2codex.store.pg_schema import PG_TYPES, applied, migrate
from mimo2codex.store.queued import QueuedStore
from mimo2codex.store.row import COLUMN_NAMES, DETAIL_COLUMNS, LIST_COLUMNS, decode_row

try:
    import psycopg
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool
except ImportError as exc:  # pragma: no cover - the test extra installs it
    raise ConfigError(
        "--database-url postgresql://... needs the PostgreSQL driver: pip install 'mimo2codex[postgres]'"
    ) from exc

log = logging.getLogger("mimo2codex.store")

CONNECT_TIMEOUT_S = 5
#: a read that takes longer is cancelled by the server (the dashboards' queries take milliseconds)
READ_TIMEOUT_MS = 10_000
WRITE_TIMEOUT_MS = 30_000
LOCK_TIMEOUT_MS = 2_000
PRUNE_CHUNK = 2000
#: stored responses kept in memory while the database cannot take them
#: rows above which ``db stats`` reports the planner's estimate instead of a full count
EXACT_COUNT_LIMIT = 2_000_000

_COPY = f"COPY chat_logs ({', '.join(COLUMN_NAMES)}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = [PG_TYPES[name] for name in COLUMN_NAMES]
_PRUNE_PIECES = bodies.prune_sql("%s")
#: a row's values in column order
_ROW_VALUES = operator.itemgetter(*COLUMN_NAMES)
#: positions of the int4 columns: a value out of range would fail the whole batch, so it is clamped
_INT4 = tuple(i for i, name in enumerate(COLUMN_NAMES) if PG_TYPES[name] == "int4")
_INT4_MAX = 2**31 - 1

_PASSWORD_PARAM = re.compile(r"([?&]password=)[^&#]*")


def describe_error(exc: BaseException) -> str:
    """A short, stable name for a database problem (the key of warn-once)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def mask_url(url: str) -> str:
    """The URL with its password masked, for the health document and the logs.

    >>> mask_url("postgresql://gw:s3cret@db.internal:5432/log?sslmode=require&password=x")
    'postgresql://gw:***@db.internal:5432/log?sslmode=require&password=***'
    """
    parts = urllib.parse.urlsplit(url)
    masked = url
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        masked = masked.replace(parts.netloc, f"{user.split(':', 1)[0]}:***@{host}", 1)
    return _PASSWORD_PARAM.sub(r"\1***", masked)


def _fit(values: Sequence[Any]) -> list[Any]:
    """A row's values with its int4 columns clamped into range (only those out of it are touched)."""
    out = list(values)
    for at in _INT4:
        value = out[at]
        if isinstance(value, int) and not -_INT4_MAX <= value <= _INT4_MAX:
            out[at] = max(-_INT4_MAX, min(_INT4_MAX, value))
    return out


class PostgresStore(PgRecordTables, QueuedStore):
    backend = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        policy: CapturePolicy | None = None,
        instance: str = "",
        log_enabled: bool = True,
        retention_days: int = 30,
        max_mb: int = 0,
        clock: Callable[[], float] = time.time,
        queue_size: int | None = None,
        batch_size: int | None = None,
        maintenance_seconds: float | None = None,
        pool_size: int = 4,
    ) -> None:
        self.url = url
        self.location = mask_url(url)
        self.pool_size = pool_size
        self._set_up_writer(
            policy=policy,
            instance=instance,
            log_enabled=log_enabled,
            retention_days=retention_days,
            max_mb=max_mb,
            clock=clock,
            queue_size=queue_size,
            batch_size=batch_size,
            maintenance_seconds=maintenance_seconds,
            describe_error=describe_error,
        )
        self._wconn: psycopg.Connection[Any] | None = None
        self._pool: ConnectionPool[Any] | None = None
        self._migrated = False

    # -- lifecycle ---------------------------------------------------------------------------
    def _connect(self, *, timeout_ms: int, role: str) -> psycopg.Connection[Any]:
        # lock_timeout: a table locked by someone else (a long migration, a manual LOCK) fails the
        # batch in seconds, dropped and counted, instead of holding the writer for the statement timeout
        return psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name=f"mimo2codex-{role}",
            options=f"-c statement_timeout={timeout_ms} -c lock_timeout={LOCK_TIMEOUT_MS}",
        )

    def _ensure_schema(self) -> None:
        if self._migrated:
            return
        with self._connect(timeout_ms=WRITE_TIMEOUT_MS, role="migrate") as conn:
            done = migrate(conn)
        self._migrated = True
        if done:
            log.info("request log %s: applied migrations %s", self.location, ", ".join(done))

    def open(self) -> None:
        try:
            self._ensure_schema()
        except psycopg.Error as exc:
            self._open_problem = describe_error(exc)
            log.warning(
                "request log database %s cannot be opened (%s): requests are served, rows dropped",
                self.location,
                self._open_problem,
            )
        self._opened = True
        self._writer.start()

    def close(self, timeout: float = 5.0) -> None:
        if self._opened:
            self._writer.close(timeout)
        self._reset_writer()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- the writer thread -------------------------------------------------------------------
    def _writer_conn(self) -> psycopg.Connection[Any]:
        if self._wconn is None or self._wconn.closed:
            self._ensure_schema()
            self._wconn = self._connect(timeout_ms=WRITE_TIMEOUT_MS, role="writer")
        return self._wconn

    def _reset_writer(self) -> None:
        if self._wconn is not None:
            with contextlib.suppress(psycopg.Error):
                self._wconn.close()
            self._wconn = None

    def _begin(self, stack: contextlib.ExitStack) -> psycopg.Connection[Any]:
        """The writer connection, inside a transaction that ``stack`` ends.

        A connection found dead at ``BEGIN`` (the server restarted, the backend was terminated, a
        network cut while idle) is replaced once: nothing of the batch was sent on it, so the batch
        is not lost for it. A failure after ``BEGIN`` is never retried, since a commit whose answer
        was lost may have happened: the batch is dropped and counted instead of written twice.
        """
        for attempt in (1, 2):
            conn = self._writer_conn()
            try:
                stack.enter_context(conn.transaction())
                return conn
            except psycopg.OperationalError:
                if attempt == 2 or not conn.broken:
                    raise
                self._reset_writer()
        raise AssertionError("not reached")

    def _write_batch(self, rendered: batch.Batch) -> None:
        rows, responses, deletions = rendered.rows, rendered.responses, rendered.deletions
        deltas = rendered.deltas
        with self._pieces.writing(rows) as pieces:
            try:
                with contextlib.ExitStack() as stack:
                    conn = self._begin(stack)
                    cur = stack.enter_context(conn.cursor())
                    if pieces:
                        # one statement for the batch's pieces (arrays, in binary), in digest order
                        cur.execute(bodies.UPSERT_ARRAYS_SQL, bodies.upsert_arrays(pieces))
                    if rows:
                        with cur.copy(_COPY) as copy:
                            copy.set_types(_COPY_TYPES)
                            for row in rows:
                                copy.write_row(_fit(_ROW_VALUES(row)))
                        # Key order: two instances upserting the same keys lock them in the same order.
                        pg_rollups.add_levels(conn, deltas)
                    if responses:
                        values = [self._response_values(stored) for stored in responses]
                        cur.execute(PUT_RESPONSES, put_responses_params(values))
                    if deletions:  # after the puts: a response deleted while queued never comes back
                        cur.execute(DELETE_RESPONSES, [[d.id for d in deletions]])
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError) or (self._wconn is not None and self._wconn.broken):
                    self._reset_writer()
                raise
        self._responses.settle(responses, deletions)

    def _maintain(self) -> bool:
        """One step of retention and the size cap; True when it changed something (more may be due)."""
        if not self._migrated:
            return False  # nothing opened yet; the next batch retries
        conn = self._writer_conn()
        now_ms = int(self.clock() * 1000)
        deleted = 0
        if self.retention_days > 0:
            bound = now_ms - self.retention_days * rollup.DAY_MS
            deleted += self._delete_chunk(conn, bound)
            # minute rollups live as long as the raw rows (see mimo2codex.store.levels)
            deleted += pg_rollups.prune_minutes(conn, bound)
        if self.max_mb > 0 and self._live_bytes(conn) > self.max_mb << 20:
            deleted += self._delete_chunk(conn, None)
        oldest = conn.execute("SELECT min(ts) FROM chat_logs").fetchone()
        pieces_bound = bodies.prune_bound(oldest[0] if oldest else None, now_ms)
        if conn.execute(_PRUNE_PIECES, (pieces_bound, PRUNE_CHUNK)).rowcount > 0:
            self._pieces.forget()
            deleted += 1
        deleted += conn.execute(
            "DELETE FROM stored_responses WHERE id IN (SELECT id FROM stored_responses "
            "WHERE expires_ms > 0 AND expires_ms < %s LIMIT %s)",
            (now_ms, PRUNE_CHUNK),
        ).rowcount
        return deleted > 0

    @staticmethod
    def _delete_chunk(conn: psycopg.Connection[Any], before_ms: int | None) -> int:
        if before_ms is None:  # the size cap: the oldest rows
            inner = "SELECT id FROM chat_logs ORDER BY id LIMIT %s"
            params: tuple[Any, ...] = (PRUNE_CHUNK,)
        else:
            inner = "SELECT id FROM chat_logs WHERE ts < %s ORDER BY ts LIMIT %s"
            params = (before_ms, PRUNE_CHUNK)
        cursor = conn.execute(f"DELETE FROM chat_logs WHERE id IN ({inner})", params)
        return int(cursor.rowcount)

    @staticmethod
    def _live_bytes(conn: psycopg.Connection[Any]) -> int:
        # PostgreSQL keeps its files at their high-water mark after deletes (space is reused, not
        # returned), so the cap is measured on the live rows: their count times the average size of
        # the newest ones, bodies (TOAST) included; the same for the body pieces.
        found = conn.execute(
            "SELECT coalesce((SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'chat_logs'), 0) * "
            "coalesce((SELECT avg(pg_column_size(c.*)) FROM "
            "(SELECT * FROM chat_logs ORDER BY id DESC LIMIT 500) AS c), 0) + "
            "coalesce((SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'body_pieces'), 0) * "
            "coalesce((SELECT avg(pg_column_size(b.*)) FROM "
            "(SELECT * FROM body_pieces ORDER BY ts DESC LIMIT 500) AS b), 0)"
        ).fetchone()
        return int(found[0] or 0) if found else 0

    # -- readers -----------------------------------------------------------------------------
    def _readers(self) -> ConnectionPool[Any]:
        if self._pool is None:
            pool: ConnectionPool[Any] = ConnectionPool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                kwargs={
                    "autocommit": True,
                    "row_factory": dict_row,
                    "connect_timeout": CONNECT_TIMEOUT_S,
                    "application_name": "mimo2codex-reader",
                    "options": f"-c statement_timeout={READ_TIMEOUT_MS}",
                },
                open=False,
                timeout=CONNECT_TIMEOUT_S,
                check=ConnectionPool.check_connection,
                name="mimo2codex-readers",
            )
            pool.open(wait=False)
            self._pool = pool
        return self._pool

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._readers().connection() as conn:
            rows: list[dict[str, Any]] = conn.execute(sql, params).fetchall()
            return rows

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._readers().connection() as conn:
            return int(conn.execute(sql, params).rowcount)

    # -- the log -----------------------------------------------------------------------------
    def logs(self, query: LogQuery) -> LogPage:
        clauses, params = where(query, "%s")
        if query.before_id is not None:
            clauses.append("id < %s")
            params.append(query.before_id)
        filtered = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        limit = max(1, min(query.limit, 1000))
        sql = f"SELECT id, {', '.join(LIST_COLUMNS)} FROM chat_logs {filtered} ORDER BY id DESC LIMIT %s"
        rows = [decode_row(row) for row in self._query(sql, [*params, limit + 1])]
        more = len(rows) > limit
        rows = rows[:limit]
        return LogPage(rows=rows, next_before_id=rows[-1]["id"] if more else None)

    def tail(self, query: LogQuery) -> Sequence[dict[str, Any]]:
        clauses, params = where(query, "%s")
        clauses.append("id > %s")
        params.append(query.after_id or 0)
        limit = max(1, min(query.limit, 1000))
        sql = f"SELECT id, {', '.join(LIST_COLUMNS)} FROM chat_logs WHERE {' AND '.join(clauses)} ORDER BY id LIMIT %s"
        return [decode_row(row) for row in self._query(sql, [*params, limit])]

    def log(self, log_id: int) -> dict[str, Any] | None:
        sql = f"SELECT id, {', '.join(DETAIL_COLUMNS)} FROM chat_logs WHERE id = %s"
        for row in self._query(sql, (log_id,)):
            return decode_row(bodies.resolve(row, self._query, "%s"))
        return None

    def delete_logs(self, before_ms: int) -> int:
        total = 0
        with self._readers().connection() as conn:
            while True:
                deleted = self._delete_chunk(conn, before_ms)
                total += deleted
                if deleted < PRUNE_CHUNK:
                    return total

    # -- rollups -----------------------------------------------------------------------------
    def _window(self, since_ms: int, until_ms: int, bucket_ms: int | None) -> Parts:
        with self._readers().connection() as conn:
            return pg_rollups.window(conn, since_ms, until_ms, bucket_ms)

    def stats(self, since_ms: int, until_ms: int) -> dict[str, Any]:
        return rollup.report(self._window(since_ms, until_ms, None), since_ms, until_ms)

    def timeseries(self, since_ms: int, until_ms: int, bucket: Bucket) -> list[dict[str, Any]]:
        size = rollup.HOUR_MS if bucket == "hour" else rollup.DAY_MS
        return rollup.series(self._window(since_ms, until_ms, size), since_ms, until_ms, size)

    # -- maintenance -------------------------------------------------------------------------
    def db_stats(self) -> dict[str, Any]:
        with self._readers().connection() as conn:
            estimate = conn.execute("SELECT reltuples::bigint AS n FROM pg_class WHERE oid = 'chat_logs'::regclass")
            approx = int((estimate.fetchone() or {"n": -1})["n"])
            estimated = approx > EXACT_COUNT_LIMIT
            if not estimated:
                approx = int(conn.execute("SELECT count(*) AS n FROM chat_logs").fetchone()["n"])
            found: Mapping[str, Any] = (
                conn.execute(
                    "SELECT min(ts) AS oldest, max(ts) AS newest, pg_database_size(current_database()) AS size, "
                    "pg_total_relation_size('chat_logs') AS log_size, "
                    "(SELECT count(*) FROM log_rollups_hourly) AS rollup_rows, "
                    "(SELECT count(*) FROM stored_responses) AS stored_responses, "
                    "(SELECT count(*) FROM body_pieces) AS body_pieces FROM chat_logs"
                ).fetchone()
                or {}
            )
            migrations = [{"name": name, "applied_ms": at} for name, at in applied(conn)]
        return {
            "backend": self.backend,
            "location": self.location,
            "rows": approx,
            "rows_estimated": estimated,
            "oldest_ts": found.get("oldest"),
            "newest_ts": found.get("newest"),
            "size_bytes": int(found.get("size") or 0),
            "log_table_bytes": int(found.get("log_size") or 0),
            "rollup_rows": int(found.get("rollup_rows") or 0),
            "stored_responses": int(found.get("stored_responses") or 0),
            "body_pieces": int(found.get("body_pieces") or 0),
            "migrations": migrations,
        }

    def vacuum(self) -> dict[str, Any]:
        # Plain VACUUM marks deleted rows' space reusable in place: it needs no free disk (unlike
        # SQLite's VACUUM or PostgreSQL's VACUUM FULL, which rewrite the table and are not run here).
        with self._connect(timeout_ms=0, role="vacuum") as conn:
            before = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
            conn.execute(
                "VACUUM (ANALYZE) chat_logs, body_pieces, log_rollups_minute, log_rollups_hourly, "
                "log_rollups_daily, log_totals_minute, log_totals_hourly, log_totals_daily, stored_responses"
            )
            after = int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        return {
            "ok": True,
            "size_before": before,
            "size_after": after,
            "message": "VACUUM (ANALYZE): deleted rows' space is reused by new rows; the files keep their size",
        }

    # -- serialization helper for PgRecordTables ---------------------------------------------
    def _scrub_known(self, value: Any) -> str:
        text = orjson.dumps(value).decode()
        for secret in self.policy.secrets:
            text = text.replace(secret, "[REDACTED]")
        return text
