"""The SQLite backend: ``<data dir>/data.db``, WAL, one writer thread, readers on their own connections.

The writer thread owns one connection and writes each batch of rows and its rollup deltas in one
``BEGIN IMMEDIATE`` transaction (several ``--workers`` processes share the file; SQLite's lock
serializes them, and the read-modify-write of a rollup row happens under it). Readers get one
connection per thread. Nothing here raises into the request path: :meth:`SqliteStore.submit` is a
``put_nowait``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import operator
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from mimo2codex.store import batch, bodies, rollup, sqlite_rollups
from mimo2codex.store.base import (
    Bucket,
    LogPage,
    LogQuery,
)
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.logfilter import where
from mimo2codex.store.migrations import applied, migrate
from mimo2codex.store.multirow import MultiRow
from mimo2codex.store.nodedb import adopt_node_database
from mimo2codex.store.queued import QueuedStore
from mimo2codex.store.records import RecordTables, delete_responses_sql, put_responses_sql
from mimo2codex.store.row import COLUMN_NAMES, DETAIL_COLUMNS, LIST_COLUMNS, decode_row

log = logging.getLogger("mimo2codex.store")

BUSY_TIMEOUT_MS = 2000
#: rows deleted per maintenance step: small enough that a step never holds the lock for long
PRUNE_CHUNK = 2000
VACUUM_PAGES = 1000
#: the WAL is cut back to this after a checkpoint: above a batch's frames (~8 MB with full bodies),
#: so that the next batches overwrite the file's pages instead of growing it again block by block
WAL_LIMIT_BYTES = 32 << 20
#: the writer connection's page cache (KiB): a batch with full bodies dirties ~5 MB of pages; with
#: SQLite's default 2 MB they spilled to the WAL mid-transaction and index pages were read again
#: (measured: ~12 % of the writer's CPU per row)
WRITER_CACHE_KIB = 16 << 10
#: page size of new files (an existing file keeps its own). A full-capture row of ~40 KB spans a
#: dozen 4 KiB overflow pages; with 8 KiB pages the writer spends ~15-25 % less CPU on it and the file
#: is no bigger (16 KiB: a little less CPU again, but ~15 % bigger: half a page lost per body).
PAGE_SIZE = 8192

#: a row's values in column order
_ROW_VALUES = operator.itemgetter(*COLUMN_NAMES)
_WIDTH = len(COLUMN_NAMES)


def _insert_sql(left_out: tuple[int, ...]) -> Callable[[int], str]:
    """The INSERT of ``rows`` rows of every column but those at ``left_out`` (they take their
    default: NULL, as no column of ``chat_logs`` has another)."""
    names = [name for at, name in enumerate(COLUMN_NAMES) if at not in left_out]
    one = f"({', '.join('?' * len(names))})"
    head = f"INSERT INTO chat_logs ({', '.join(names)}) VALUES "
    return lambda rows: head + ", ".join([one] * rows)


#: A batch's rows and new body pieces go in as a few multi-row statements, not a step per row or
#: piece (:mod:`mimo2codex.store.multirow`): at 64 concurrent requests, ``executemany`` per row cost
#: the event loop ~0.2 ms of CPU per request (bench/log_overhead.py), the writer taking the GIL back
#: after every step. 128 rows of 38 columns, 512 pieces of 3 values: far below SQLite's limit on
#: bound variables (32766 since 3.32; on older builds the statements hold fewer). The rows' statements
#: are kept per set of columns left out (see SqliteStore._insert_rows): a few sets in practice.
_ROW_INSERTS: dict[tuple[int, ...], MultiRow] = {}
_ROW_INSERT_SETS = 64
_PIECE_UPSERTS = MultiRow(lambda pieces: bodies.upsert_sql("?", pieces), 3, 512)
_RESPONSE_PUTS = MultiRow(put_responses_sql, 6, 64)
_RESPONSE_DELETES = MultiRow(delete_responses_sql, 1, 256)
_PRUNE_PIECES = bodies.prune_sql("?")
#: where a row's blob columns (the body manifests) sit among its values
_BLOB_AT = tuple(at for at, name in enumerate(COLUMN_NAMES) if name in ("request_pieces", "response_pieces"))


def _blob(value: Any) -> Any:
    """``bytes`` as a ``bytearray``, which the sqlite3 module binds at once (the same BLOB): any other
    type but int, float and str first goes through its adapter lookup, ~1 µs a value (Python 3.11)."""
    return bytearray(value) if type(value) is bytes else value


def _piece_values(due: Mapping[bytes, tuple[int, str]]) -> list[Any]:
    """The due pieces' values for ``_PIECE_UPSERTS``, in digest order like on PostgreSQL."""
    values: list[Any] = []
    for digest in sorted(due):
        ts, text = due[digest]
        values += (bytearray(digest), ts, text)
    return values


#: What binds ``None`` (as NULL, as without it): Python 3.11's sqlite3 looks up an adapter for every
#: value that is not an int, float, str or bytearray, and for a ``None`` finds none after raising and
#: clearing an AttributeError, ~440 ns against ~40 for an int; a row has ~9 (a column NULL in the
#: whole batch is left out of its INSERT, see SqliteStore._insert_rows; the others bind here). An
#: empty dict's ``get`` is a C call that gives back None. Registered once the store opens; the
#: registry is the process's, and what any connection stores for a None stays the same (measured:
#: 6.5 -> 4.0 µs a 38-value row).
_NOTHING: dict[object, None] = {}


def describe_error(exc: BaseException) -> str:
    """A short, stable name for a database problem (the key of warn-once)."""
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    uri = f"{path.as_uri()}?mode=ro" if readonly else str(path)
    conn = sqlite3.connect(
        uri, uri=readonly, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


class SqliteStore(RecordTables, QueuedStore):
    backend = "sqlite"

    def __init__(
        self,
        path: Path,
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
        writer_pragmas: Mapping[str, int | str] | None = None,
    ) -> None:
        #: extra PRAGMAs of the writer's connection (tests: ``max_page_count`` to play a full disk)
        self.writer_pragmas = dict(writer_pragmas or {})
        self.path = path
        self.location = str(path)
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
        self._wconn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        sqlite3.register_adapter(type(None), _NOTHING.get)
        try:
            self._prepare()
        except (sqlite3.Error, OSError) as exc:
            self._open_problem = describe_error(exc)
            log.warning(
                "request log database %s cannot be opened (%s): requests are served, rows dropped",
                self.path,
                self._open_problem,
            )
        self._opened = True
        self._writer.start()

    def _prepare(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        adopt_node_database(self.path)
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        conn = _connect(self.path)
        try:
            if new_file:
                # Before anything reads the file (which fixes its page size): a full-capture row
                # is tens of KB, a dozen overflow pages of 4 KiB; see PAGE_SIZE.
                conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            fresh = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            if fresh:
                # Only possible before the first table exists: lets the maintenance step hand
                # pages deleted by retention back to the file system without a full VACUUM.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            done = migrate(conn)
            if done:
                log.info("request log %s: applied migrations %s", self.path, ", ".join(done))
        finally:
            conn.close()

    def close(self, timeout: float = 5.0) -> None:
        if self._opened:
            self._writer.close(timeout)
        if self._wconn is not None:
            self._wconn.close()
            self._wconn = None
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()

    # -- the writer thread -------------------------------------------------------------------
    def _writer_conn(self) -> sqlite3.Connection:
        if self._wconn is None:
            conn = _connect(self.path)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                if not applied(conn):
                    # the file could not be prepared at open (read-only, corrupt...): try again
                    conn.close()
                    self._prepare()
                    conn = _connect(self.path)
                conn.execute("PRAGMA synchronous = NORMAL")
                # After a checkpoint the WAL is cut back to this, not left at its largest batch.
                conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
                conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
                for name, value in self.writer_pragmas.items():
                    conn.execute(f"PRAGMA {name} = {value}")
            except BaseException:
                conn.close()
                raise
            self._wconn = conn
        return self._wconn

    def _write_batch(self, rendered: batch.Batch) -> None:
        rows, responses, deletions = rendered.rows, rendered.responses, rendered.deletions
        with self._pieces.writing(rows) as pieces:
            try:
                conn = self._writer_conn()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    if pieces:
                        _PIECE_UPSERTS.execute(conn, _piece_values(pieces))
                    if rows:
                        self._insert_rows(conn, rows)
                        sqlite_rollups.add_levels(conn, rendered.deltas)
                    if responses:
                        values: list[Any] = []
                        for stored in responses:
                            values += self._response_values(stored)
                        _RESPONSE_PUTS.execute(conn, values)
                    if deletions:  # after the puts: a response deleted while queued never comes back
                        _RESPONSE_DELETES.execute(conn, [d.id for d in deletions])
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.DatabaseError:
                self._reset_writer()
                raise
        self._responses.settle(responses, deletions)

    @staticmethod
    def _insert_rows(conn: sqlite3.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """``rows`` in order, in a few multi-row INSERTs (see ``_ROW_INSERTS``).

        A column that is NULL in every row of the batch (for successful requests, ~9 of 38: the
        error, the rewrite, the notes...) is left out of the INSERT, so its NULLs are not bound: a
        ``None`` is bound through its adapter (see ``_NOTHING``), ~2k instructions holding the GIL
        each, while the render thread waits for it. Finding them costs a C pass over each column.
        """
        values = list(itertools.chain.from_iterable(map(_ROW_VALUES, rows)))
        width = _WIDTH
        for at in _BLOB_AT:
            values[at::width] = map(_blob, values[at::width])
        count = len(rows)
        left_out = tuple(at for at in range(width) if values[at::width].count(None) == count)
        for at in reversed(left_out):  # from the right: the columns before it keep their places
            del values[at::width]
            width -= 1
        inserts = _ROW_INSERTS.get(left_out)
        if inserts is None:
            if len(_ROW_INSERTS) >= _ROW_INSERT_SETS:
                _ROW_INSERTS.clear()
            inserts = _ROW_INSERTS[left_out] = MultiRow(_insert_sql(left_out), width, 128)
        inserts.execute(conn, values)

    def _reset_writer(self) -> None:
        # A connection that saw a corrupt or vanished file is not trusted again.
        if self._wconn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._wconn.close()
            self._wconn = None

    def _maintain(self) -> bool:
        try:
            return self._maintain_step()
        except sqlite3.DatabaseError:
            # As after a failed batch, the connection is opened afresh: one opened while the file
            # was read-only stays read-only after it is writable again (SQLite falls back silently).
            self._reset_writer()
            raise

    def _maintain_step(self) -> bool:
        """One step of retention and the size cap; True when it changed something (more may be due)."""
        if self._wconn is None and self._open_problem is not None and self._writer.written == 0:
            return False  # nothing opened yet; the next batch retries the open
        conn = self._writer_conn()
        now_ms = int(self.clock() * 1000)
        deleted = 0
        if self.retention_days > 0:
            bound = now_ms - self.retention_days * rollup.DAY_MS
            deleted += self._delete_chunk(conn, "ts < ?", bound)
            # minute rollups live as long as the raw rows (see mimo2codex.store.levels)
            deleted += sqlite_rollups.prune_minutes(conn, bound)
        if self.max_mb > 0 and self._data_bytes(conn) > self.max_mb << 20:
            # A twentieth of the rows per step (ids estimate the count without a scan): over the
            # cap, the oldest go first, a few steps at a time, never the whole log at once.
            low, high = conn.execute("SELECT min(id), max(id) FROM chat_logs").fetchone()
            if low is not None:
                deleted += self._delete_chunk(conn, "1", None, max(1, min(PRUNE_CHUNK, (high - low + 1) // 20)))
        pieces_bound = bodies.prune_bound(conn.execute("SELECT min(ts) FROM chat_logs").fetchone()[0], now_ms)
        if conn.execute(_PRUNE_PIECES, (pieces_bound, PRUNE_CHUNK)).rowcount > 0:
            self._pieces.forget()
            deleted += 1
        deleted += conn.execute(
            "DELETE FROM stored_responses WHERE id IN "
            "(SELECT id FROM stored_responses WHERE expires_ms > 0 AND expires_ms < ? LIMIT ?)",
            (now_ms, PRUNE_CHUNK),
        ).rowcount
        if deleted or conn.execute("PRAGMA freelist_count").fetchone()[0] > 0:
            # executescript steps the pragma to its end (execute() frees a single page per call).
            conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
            # In WAL mode the file only shrinks when the truncation is checkpointed into it.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            return True
        return False

    @staticmethod
    def _delete_chunk(conn: sqlite3.Connection, where: str, bound: int | None, limit: int = PRUNE_CHUNK) -> int:
        """Delete up to ``limit`` of the oldest rows matching ``where`` (``ts < bound`` or all)."""
        params: tuple[Any, ...] = (bound, limit) if bound is not None else (limit,)
        # Ordered by the column the condition uses, so the index finds the chunk (ORDER BY id with
        # a ts condition scans the whole table when no row qualifies, every maintenance step).
        order = "ts" if bound is not None else "id"
        cursor = conn.execute(
            f"DELETE FROM chat_logs WHERE id IN (SELECT id FROM chat_logs WHERE {where} ORDER BY {order} LIMIT ?)",
            params,
        )
        return int(cursor.rowcount)

    @staticmethod
    def _data_bytes(conn: sqlite3.Connection) -> int:
        pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])

    # -- readers -----------------------------------------------------------------------------
    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        for row in self._reader().execute(sql, params):
            yield dict(row)

    def _admin(self) -> sqlite3.Connection:
        """A short-lived connection for writes outside the writer thread (admin, CLI)."""
        return _connect(self.path)

    # -- the log -----------------------------------------------------------------------------
    @staticmethod
    def _where(query: LogQuery) -> tuple[list[str], list[Any]]:
        return where(query, "?")

    def logs(self, query: LogQuery) -> LogPage:
        clauses, params = self._where(query)
        if query.before_id is not None:
            clauses.append("id < ?")
            params.append(query.before_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        limit = max(1, min(query.limit, 1000))
        sql = f"SELECT id, {', '.join(LIST_COLUMNS)} FROM chat_logs {where} ORDER BY id DESC LIMIT ?"
        rows = [decode_row(row) for row in self._rows(sql, [*params, limit + 1])]
        more = len(rows) > limit
        rows = rows[:limit]
        return LogPage(rows=rows, next_before_id=rows[-1]["id"] if more else None)

    def tail(self, query: LogQuery) -> Sequence[dict[str, Any]]:
        clauses, params = self._where(query)
        clauses.append("id > ?")
        params.append(query.after_id or 0)
        limit = max(1, min(query.limit, 1000))
        sql = f"SELECT id, {', '.join(LIST_COLUMNS)} FROM chat_logs WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?"
        return [decode_row(row) for row in self._rows(sql, [*params, limit])]

    def log(self, log_id: int) -> dict[str, Any] | None:
        sql = f"SELECT id, {', '.join(DETAIL_COLUMNS)} FROM chat_logs WHERE id = ?"
        for row in self._rows(sql, (log_id,)):
            return decode_row(bodies.resolve(row, self._rows, "?"))
        return None

    def delete_logs(self, before_ms: int) -> int:
        conn = self._admin()
        try:
            total = 0
            while True:
                deleted = self._delete_chunk(conn, "ts < ?", before_ms)
                total += deleted
                if deleted < PRUNE_CHUNK:
                    return total
        finally:
            conn.close()

    # -- rollups -----------------------------------------------------------------------------
    def stats(self, since_ms: int, until_ms: int) -> dict[str, Any]:
        return rollup.report(sqlite_rollups.window(self._rows, since_ms, until_ms, None), since_ms, until_ms)

    def timeseries(self, since_ms: int, until_ms: int, bucket: Bucket) -> list[dict[str, Any]]:
        size = rollup.HOUR_MS if bucket == "hour" else rollup.DAY_MS
        return rollup.series(sqlite_rollups.window(self._rows, since_ms, until_ms, size), since_ms, until_ms, size)

    # -- maintenance -------------------------------------------------------------------------
    def _file_bytes(self) -> int:
        return sum(
            p.stat().st_size for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")) if p.exists()
        )

    def db_stats(self) -> dict[str, Any]:
        conn = self._reader()
        count, oldest, newest = conn.execute("SELECT count(*), min(ts), max(ts) FROM chat_logs").fetchone()
        return {
            "backend": self.backend,
            "location": str(self.path),
            "rows": int(count),
            "oldest_ts": oldest,
            "newest_ts": newest,
            "size_bytes": self._file_bytes(),
            "file_bytes": self.path.stat().st_size if self.path.exists() else 0,
            "rollup_rows": int(conn.execute("SELECT count(*) FROM log_rollups_hourly").fetchone()[0]),
            "body_pieces": int(conn.execute("SELECT count(*) FROM body_pieces").fetchone()[0]),
            "stored_responses": int(conn.execute("SELECT count(*) FROM stored_responses").fetchone()[0]),
            "auto_vacuum": {0: "none", 1: "full", 2: "incremental"}.get(
                int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]), "unknown"
            ),
            "migrations": [{"name": name, "applied_ms": at} for name, at in applied(conn)],
        }

    def vacuum(self) -> dict[str, Any]:
        size = self._file_bytes()
        free = shutil.disk_usage(self.path.parent).free
        # VACUUM writes a complete copy of the database (and its WAL) before replacing the old one.
        needed = 2 * size
        if free < needed:
            return {
                "ok": False,
                "message": f"not enough free disk for VACUUM: {free >> 20} MiB free, about {needed >> 20} MiB needed "
                f"for a {size >> 20} MiB database; free space or prune first (mimo2codex db prune --before ...)",
                "size_bytes": size,
            }
        conn = self._admin()
        try:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return {"ok": True, "size_before": size, "size_after": self._file_bytes()}

    # -- serialization helpers for RecordTables ----------------------------------------------
    def _scrub_known(self, value: Any) -> str:
        text = orjson.dumps(value).decode()
        for secret in self.policy.secrets:
            text = text.replace(secret, "[REDACTED]")
        return text
