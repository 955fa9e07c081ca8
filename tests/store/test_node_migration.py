"""A data.db written by the Node mimo2codex is backed up, then its rows come over: never corrupted or ignored."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from mimo2codex.request_log import RequestRecord
from mimo2codex.store.base import LogQuery
from mimo2codex.store.sqlite import SqliteStore

HOUR = 3_600_000
NOW_MS = int(time.time() * 1000)
T0 = NOW_MS - NOW_MS % HOUR - 10 * HOUR  # an hour boundary, recent enough for the 30-day retention

# The Node tool's schema (its migrations v1, v2, v3, v5, v6), as its src/db/schema.ts creates it.
NODE_V1 = """
CREATE TABLE providers (id TEXT PRIMARY KEY, shortcut TEXT UNIQUE NOT NULL, display_name TEXT NOT NULL,
  base_url TEXT NOT NULL, default_model TEXT NOT NULL, api_key_env TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE models (id INTEGER PRIMARY KEY AUTOINCREMENT, provider_id TEXT NOT NULL REFERENCES providers(id)
  ON DELETE CASCADE, upstream_id TEXT NOT NULL, display_name TEXT, supports_images INTEGER NOT NULL DEFAULT 0,
  supports_reasoning INTEGER NOT NULL DEFAULT 0, supports_web_search INTEGER NOT NULL DEFAULT 0,
  context_window INTEGER, is_builtin INTEGER NOT NULL DEFAULT 0, deprecated_after TEXT,
  sort_order INTEGER NOT NULL DEFAULT 0, UNIQUE(provider_id, upstream_id));
CREATE INDEX idx_models_provider ON models(provider_id, sort_order);
CREATE TABLE model_aliases (alias TEXT PRIMARY KEY, provider_id TEXT NOT NULL REFERENCES providers(id)
  ON DELETE CASCADE, upstream_id TEXT NOT NULL);
CREATE TABLE chat_logs (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, request_id TEXT,
  provider_id TEXT NOT NULL, client_model TEXT NOT NULL, upstream_model TEXT NOT NULL, endpoint TEXT NOT NULL,
  status_code INTEGER NOT NULL, duration_ms INTEGER NOT NULL, prompt_tokens INTEGER, completion_tokens INTEGER,
  total_tokens INTEGER, stream INTEGER NOT NULL DEFAULT 0, error_code TEXT, error_snippet TEXT);
CREATE INDEX idx_chat_logs_ts ON chat_logs(ts DESC);
CREATE INDEX idx_chat_logs_provider ON chat_logs(provider_id, ts DESC);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, username TEXT UNIQUE NOT NULL);
"""
NODE_LATER = """
ALTER TABLE chat_logs ADD COLUMN request_body TEXT;
ALTER TABLE chat_logs ADD COLUMN response_body TEXT;
ALTER TABLE chat_logs ADD COLUMN tool_call_count INTEGER;
ALTER TABLE chat_logs ADD COLUMN cached_tokens INTEGER;
ALTER TABLE chat_logs ADD COLUMN user_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX idx_chat_logs_user ON chat_logs(user_id, ts DESC);
CREATE TABLE chat_stats_hourly (hour_ts INTEGER NOT NULL, provider_id TEXT NOT NULL, client_model TEXT NOT NULL,
  upstream_model TEXT NOT NULL, requests INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (hour_ts, provider_id, client_model, upstream_model));
CREATE INDEX idx_chat_logs_errors ON chat_logs(ts) WHERE status_code >= 400;
"""


def node_database(path: Path, *, full: bool = True, rows: int = 50) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(NODE_V1 + (NODE_LATER if full else ""))
    versions = (1, 2, 3, 4, 5, 6) if full else (1,)
    conn.executemany("INSERT INTO schema_version VALUES (?, 1)", [(v,) for v in versions])
    conn.execute(
        "INSERT INTO providers VALUES ('mimo', 'mimo', 'MiMo', 'https://x', 'mimo-v2.5-pro', 'MIMO_API_KEY', 1)"
    )
    conn.execute("INSERT INTO models (provider_id, upstream_id, is_builtin) VALUES ('mimo', 'mimo-v2.5-pro', 1)")
    conn.execute(
        "INSERT INTO models (provider_id, upstream_id, display_name, context_window, is_builtin) "
        "VALUES ('mimo', 'my-custom', 'Mine', 32000, 0)"
    )
    conn.execute("INSERT INTO model_aliases VALUES ('gpt-5.5', 'mimo', 'mimo-v2.5-pro')")
    conn.execute("INSERT INTO settings VALUES ('logging.bodyMode', 'full', 1)")
    conn.execute("INSERT INTO users (username) VALUES ('alice')")
    for n in range(rows):
        status = 429 if n % 10 == 0 else 200
        values = [T0 + n * 150_000, f"req-{n}", "mimo", "gpt-5.5", "mimo-v2.5-pro", "/v1/responses", status,
                  100 + n, 10, 5, 15, n % 2, "rate_limit_exceeded" if status == 429 else None,
                  "slow down" if status == 429 else None]  # fmt: skip
        if full:
            columns = "ts, request_id, provider_id, client_model, upstream_model, endpoint, status_code, duration_ms, prompt_tokens, completion_tokens, total_tokens, stream, error_code, error_snippet, request_body, response_body, tool_call_count, cached_tokens"
            values += ['{"input": "hi"}', None, 1, 4]
        else:
            columns = "ts, request_id, provider_id, client_model, upstream_model, endpoint, status_code, duration_ms, prompt_tokens, completion_tokens, total_tokens, stream, error_code, error_snippet"
        conn.execute(f"INSERT INTO chat_logs ({columns}) VALUES ({', '.join('?' * len(values))})", values)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("full", [True, False], ids=["node-v6", "node-v1"])
def test_node_database_is_backed_up_and_imported(tmp_path: Path, full: bool) -> None:
    path = tmp_path / "data.db"
    node_database(path, full=full)
    store = SqliteStore(path)
    store.open()
    try:
        backups = list(tmp_path.glob("data.db.node-backup-*"))
        assert len(backups) == 1
        with sqlite3.connect(backups[0]) as backup:
            assert backup.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert backup.execute("SELECT count(*) FROM chat_logs").fetchone() == (50,)
            assert backup.execute("SELECT max(version) FROM schema_version").fetchone() == (6 if full else 1,)

        rows = store.tail(LogQuery(after_id=0, limit=100))
        assert [r["id"] for r in rows] == list(range(1, 51))  # ids kept
        first = store.log(1)
        assert first is not None
        assert (first["request_id"], first["status_code"], first["outcome"], first["error_code"]) == (
            "req-0",
            429,
            "error",
            "rate_limit_exceeded",
        )
        assert first["cached_tokens"] == (4 if full else None)
        assert first["request_body"] == ('{"input": "hi"}' if full else None)
        assert first["notes"] == {"imported_from": "node"}

        stats = store.stats(T0, T0 + 50 * 150_000)
        assert (stats["requests"], stats["errors"], stats["errors_by_code"]) == (50, 5, {"rate_limit_exceeded": 5})
        assert stats["prompt_tokens"] == 500
        assert stats["latency_ms"]["p50"] is not None

        assert store.aliases()[0]["alias"] == "gpt-5.5"
        assert [m["id"] for m in store.models()] == ["my-custom"]  # built-ins come from the code
        db = store.db_stats()
        assert [m["name"] for m in db["migrations"]] == [
            "0001_initial",
            "0002_import_node_logs",
            "0003_rollup_levels",
            "0004_body_pieces",
            "0005_rollup_totals",
        ]

        store.submit(_record())
        assert store.flush(5)
        assert store.tail(LogQuery(after_id=50))[0]["id"] == 51
    finally:
        store.close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT username FROM users").fetchall() == [("alice",)]  # untouched
        assert conn.execute("SELECT value FROM node_settings").fetchall() == [("full",)]
    again = SqliteStore(path)
    again.open()
    try:  # a second start neither backs up nor imports again
        assert len(list(tmp_path.glob("data.db.node-backup-*"))) == 1
        assert again.db_stats()["rows"] == 51
    finally:
        again.close()


def _record() -> RequestRecord:
    return RequestRecord("req_new", "/v1/responses", time.time(), False)


def test_a_new_database_is_not_mistaken_for_a_node_one(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db")
    store.open()
    store.close()
    store = SqliteStore(tmp_path / "data.db")
    store.open()
    store.close()
    assert list(tmp_path.glob("*.node-backup-*")) == []
    with sqlite3.connect(tmp_path / "data.db") as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental on new files
