"""Adopting a ``data.db`` written by the Node mimo2codex: back it up, then bring its rows over.

The Node tool kept its schema version in a ``schema_version`` table and its log in ``chat_logs``
(``ts`` ms, ``request_id``, ``provider_id``, ... ``request_body``, ``response_body``,
``tool_call_count``, ``cached_tokens``, ``user_id``; the later columns only from its v2/v3/v5
migrations). Before anything is changed the file is copied (SQLite's online backup, consistent
even with a WAL) to ``data.db.node-backup-<UTC time>``. Then, in one transaction, the tables whose
names the new schema reuses are renamed ``node_*`` and their indexes dropped; the recorded
migration ``0002_import_node_logs`` copies the rows (ids kept), folds them into the hourly rollups,
and drops the renamed log. Tables the new schema does not use (users, providers...) stay untouched.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from mimo2codex.store import histogram, rollup

log = logging.getLogger("mimo2codex.store")

#: the Node tables whose names the new schema reuses
RENAMED = ("chat_logs", "models", "model_aliases", "settings", "schema_version")
_NODE_LOG_COLUMNS = (
    "ts",
    "request_id",
    "provider_id",
    "client_model",
    "upstream_model",
    "endpoint",
    "status_code",
    "duration_ms",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "stream",
    "error_code",
    "error_snippet",
    "request_body",
    "response_body",
    "tool_call_count",
    "cached_tokens",
)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {str(name) for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def is_node_database(conn: sqlite3.Connection) -> bool:
    tables = _tables(conn)
    return {"schema_version", "chat_logs"} <= tables and "migrations" not in tables


def backup_path(path: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    candidate = path.with_name(f"{path.name}.node-backup-{stamp}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.node-backup-{stamp}-{number}")
    return candidate


def adopt_node_database(path: Path, *, now: float | None = None) -> Path | None:
    """Back up and rename aside a Node database's tables; returns the backup (None: not a Node file)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
    try:
        if not is_node_database(conn):
            return None
        target = backup_path(path, time.time() if now is None else now)
        copy = sqlite3.connect(str(target))
        try:
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        finally:
            copy.close()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not is_node_database(conn):  # another worker process adopted it meanwhile
                conn.execute("ROLLBACK")
                target.unlink(missing_ok=True)
                return None
            present = _tables(conn)
            for table in RENAMED:
                if table not in present:
                    continue
                indexes = conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
                ).fetchall()
                for (index,) in indexes:
                    conn.execute(f'DROP INDEX "{index}"')
                conn.execute(f'ALTER TABLE "{table}" RENAME TO "node_{table}"')
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.warning("data.db was written by the Node mimo2codex: backed up to %s; importing its request log", target)
        return target
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(row[1]) for row in conn.execute(f'PRAGMA table_info("{table}")')}


def import_node_tables(conn: sqlite3.Connection) -> None:
    """Inside the migration's transaction: copy the renamed Node tables' rows into the new schema."""
    tables = _tables(conn)
    if "node_chat_logs" in tables:
        _import_logs(conn)
    if "node_model_aliases" in tables:
        upstream = "upstream_id" if "upstream_id" in _columns(conn, "node_model_aliases") else "upstream_model"
        conn.execute(
            "INSERT OR IGNORE INTO model_aliases (alias, provider_id, upstream_model, updated_ms) "
            f"SELECT alias, provider_id, {upstream}, ? FROM node_model_aliases",
            (int(time.time() * 1000),),
        )
    if "node_models" in tables and {"upstream_id", "is_builtin"} <= _columns(conn, "node_models"):
        _import_models(conn)


def _import_logs(conn: sqlite3.Connection) -> None:
    present = _columns(conn, "node_chat_logs")
    select = ", ".join(name if name in present else "NULL" for name in _NODE_LOG_COLUMNS)
    conn.create_function(
        "m2c_bucket", 1, lambda ms: None if ms is None else histogram.bucket_of(ms), deterministic=True
    )
    conn.execute(
        f"INSERT INTO chat_logs (id, {', '.join(_NODE_LOG_COLUMNS)}, outcome, duration_bucket) "
        f"SELECT id, {select}, NULL, NULL FROM node_chat_logs ORDER BY id"
    )
    # The Node tool logged everything it answered; a status says how it ended.
    conn.execute(
        "UPDATE chat_logs SET outcome = CASE WHEN status_code >= 400 THEN 'error' ELSE 'completed' END, "
        "duration_bucket = m2c_bucket(duration_ms), stream = COALESCE(stream, 0), "
        'notes = \'{"imported_from":"node"}\' WHERE outcome IS NULL'
    )
    from mimo2codex.store.sqlite_rollups import edge_rollups  # the same grouping the stats edges use

    def query(sql: str, params: Sequence[Any]) -> Iterator[dict[str, Any]]:
        cursor = conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        for values in cursor:
            yield dict(zip(names, values, strict=True))

    totals = edge_rollups(query, -(1 << 62), 1 << 62)
    for key, total in totals.items():
        columns = total.to_columns()
        names_out = (*rollup.COUNTERS, "errors_by_code", "latency_hist", "ttft_hist")
        conn.execute(
            f"INSERT OR REPLACE INTO log_rollups_hourly (hour, provider_id, client_model, upstream_model, "
            f"{', '.join(names_out)}) VALUES (?, ?, ?, ?, {', '.join('?' * len(names_out))})",
            (*key, *(columns[name] for name in names_out)),
        )
    count = conn.execute("SELECT count(*) FROM node_chat_logs").fetchone()[0]
    conn.execute("DROP TABLE node_chat_logs")
    log.warning("imported %d request-log rows from the Node mimo2codex", count)


def _import_models(conn: sqlite3.Connection) -> None:
    now = int(time.time() * 1000)
    rows = conn.execute(
        "SELECT provider_id, upstream_id, display_name, supports_images, supports_reasoning, context_window "
        "FROM node_models WHERE is_builtin = 0"
    ).fetchall()
    for provider_id, upstream_id, display_name, images, reasoning, context_window in rows:
        data = {
            "supports_images": bool(images),
            "supports_reasoning": bool(reasoning),
            "context_window": context_window,
        }
        conn.execute(
            "INSERT OR IGNORE INTO models (id, provider_id, upstream_model, display_name, data, created_ms, updated_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (upstream_id, provider_id, upstream_id, display_name, orjson.dumps(data).decode(), now, now),
        )
