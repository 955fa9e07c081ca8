"""The SQLite schema as named, recorded migrations.

Each step runs once, in its own transaction, and is recorded in the ``migrations`` table with the
time it was applied; ``mimo2codex db stats`` lists them. New steps are appended, never edited: a
database in the field has already run the old ones. Node mimo2codex databases are adopted by
:mod:`mimo2codex.store.nodedb` before these run (their tables renamed aside), and the
``import_node_logs`` step then brings their rows over.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from mimo2codex.store.row import LOG_COLUMNS

_SQL_TYPES = {"int": "INTEGER", "text": "TEXT", "blob": "BLOB"}


def _log_table() -> str:
    columns = ",\n  ".join(f"{name} {_SQL_TYPES[kind]}" for name, kind in LOG_COLUMNS)
    return f"CREATE TABLE chat_logs (\n  id INTEGER PRIMARY KEY AUTOINCREMENT,\n  {columns}\n)"


def _initial(conn: sqlite3.Connection) -> None:
    statements = [
        _log_table(),
        "CREATE INDEX idx_chat_logs_ts ON chat_logs(ts)",
        "CREATE INDEX idx_chat_logs_provider ON chat_logs(provider_id, id)",
        "CREATE INDEX idx_chat_logs_client_model ON chat_logs(client_model, id)",
        "CREATE INDEX idx_chat_logs_upstream_model ON chat_logs(upstream_model, id)",
        "CREATE INDEX idx_chat_logs_errors ON chat_logs(id) WHERE status_code >= 400 OR error_code IS NOT NULL",
        """CREATE TABLE log_rollups_hourly (
  hour INTEGER NOT NULL,
  provider_id TEXT NOT NULL,
  client_model TEXT NOT NULL,
  upstream_model TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  prompt_tokens INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  total_tokens INTEGER NOT NULL DEFAULT 0,
  cached_tokens INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens INTEGER NOT NULL DEFAULT 0,
  duration_sum INTEGER NOT NULL DEFAULT 0,
  ttft_sum INTEGER NOT NULL DEFAULT 0,
  bytes_in INTEGER NOT NULL DEFAULT 0,
  bytes_out INTEGER NOT NULL DEFAULT 0,
  errors_by_code TEXT NOT NULL DEFAULT '{}',
  latency_hist TEXT NOT NULL DEFAULT '{}',
  ttft_hist TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (hour, provider_id, client_model, upstream_model)
) WITHOUT ROWID""",
        """CREATE TABLE models (
  id TEXT PRIMARY KEY,
  provider_id TEXT NOT NULL,
  upstream_model TEXT NOT NULL,
  display_name TEXT,
  data TEXT NOT NULL DEFAULT '{}',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
)""",
        """CREATE TABLE model_aliases (
  alias TEXT PRIMARY KEY,
  provider_id TEXT NOT NULL,
  upstream_model TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
)""",
        """CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_ms INTEGER NOT NULL
)""",
        """CREATE TABLE stored_responses (
  id TEXT PRIMARY KEY,
  response TEXT NOT NULL,
  input_items TEXT NOT NULL,
  history TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
)""",
        "CREATE INDEX idx_stored_responses_expires ON stored_responses(expires_ms)",
    ]
    for statement in statements:
        conn.execute(statement)


def _import_node_logs(conn: sqlite3.Connection) -> None:
    from mimo2codex.store.nodedb import import_node_tables  # only databases the Node tool wrote need it

    import_node_tables(conn)


def _rollup_levels(conn: sqlite3.Connection) -> None:
    from mimo2codex.store.sqlite_rollups import create_levels

    create_levels(conn)


def _body_pieces(conn: sqlite3.Connection) -> None:
    """Long captured bodies as shared pieces (:mod:`mimo2codex.store.bodies`); old rows keep their text."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(chat_logs)")}
    for name in ("request_pieces", "response_pieces"):
        if name not in present:  # a file created from this version's LOG_COLUMNS has them already
            conn.execute(f"ALTER TABLE chat_logs ADD COLUMN {name} BLOB")
    conn.execute("CREATE TABLE body_pieces (digest BLOB PRIMARY KEY, ts INTEGER NOT NULL, body TEXT NOT NULL)")
    conn.execute("CREATE INDEX idx_body_pieces_ts ON body_pieces(ts)")


def _rollup_totals(conn: sqlite3.Connection) -> None:
    from mimo2codex.store.sqlite_rollups import create_totals

    create_totals(conn)


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", _initial),
    Migration("0002_import_node_logs", _import_node_logs),
    Migration("0003_rollup_levels", _rollup_levels),
    Migration("0004_body_pieces", _body_pieces),
    Migration("0005_rollup_totals", _rollup_totals),
)


def applied(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    try:
        return [(str(n), int(t)) for n, t in conn.execute("SELECT name, applied_ms FROM migrations ORDER BY name")]
    except sqlite3.OperationalError:
        return []


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the missing steps; returns their names. Safe with several processes opening at once."""
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL)")
    done: list[str] = []
    for migration in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = conn.execute("SELECT 1 FROM migrations WHERE name = ?", (migration.name,)).fetchone()
            if exists is None:
                migration.apply(conn)
                conn.execute(
                    "INSERT INTO migrations (name, applied_ms) VALUES (?, ?)", (migration.name, int(time.time() * 1000))
                )
                done.append(migration.name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return done
