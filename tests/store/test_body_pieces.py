"""Captured bodies stored as shared pieces (mimo2codex.store.bodies), on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson

from bench.sessions import session_records
from mimo2codex.request_log import RequestRecord
from mimo2codex.store import bodies
from mimo2codex.store.base import Store
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.sqlite import SqliteStore
from tests.store.conftest import INBOUND_TOKEN, UPSTREAM_KEY, MakeStore
from tests.store.test_sqlite_maintenance import wait_until

DAY_S = 86_400


def _policy() -> CapturePolicy:
    return CapturePolicy.build("full", 256 << 10, [UPSTREAM_KEY, INBOUND_TOKEN])


def _count(store: Store, sql: str) -> int:
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    rows = store._query(sql)  # type: ignore[attr-defined]
    return int(next(iter(rows[0].values())))


def _with_secrets(records: list[RequestRecord]) -> list[RequestRecord]:
    """Every fifth request carries the upstream key and an inbound token in a new item."""
    for n, record in enumerate(records):
        if n % 5 == 0:
            body = orjson.loads(record.request_body)
            body["input"].append(
                {"type": "message", "role": "user", "content": f"key {UPSTREAM_KEY} and Bearer {INBOUND_TOKEN}"}
            )
            record.request_body = orjson.dumps(body)
    return records


def test_session_bodies_read_back_exactly_and_are_stored_once(make_store: MakeStore) -> None:
    records = _with_secrets(session_records(sessions=3, turns=8))
    store = make_store(policy=_policy())
    for record in records:
        store.submit(record)
    assert store.flush(30)
    expect = _policy()
    for log_id, record in enumerate(records, start=1):
        row = store.log(log_id)
        assert row is not None
        assert row["request_body"] == expect.render(record.request_body)
        assert row["response_body"] == expect.render(record.response_body)
        assert "request_pieces" not in row  # the manifest stays inside the store
        assert UPSTREAM_KEY not in row["request_body"]
        assert INBOUND_TOKEN not in row["request_body"]
    pieced = _count(store, "SELECT count(*) FROM chat_logs WHERE request_pieces IS NOT NULL")
    assert pieced == len(records)  # ~40-60 KB requests: pieced; ~2 KB responses: whole
    assert _count(store, "SELECT count(*) FROM chat_logs WHERE response_pieces IS NOT NULL") == 0
    stored = _count(store, "SELECT sum(length(body)) FROM body_pieces")
    sent = sum(len(record.request_body) for record in records)
    assert stored < sent / 4, (stored, sent)  # 8 turns of 3 sessions: each shared byte kept once


def test_pieces_outlive_old_rows_only_while_a_row_needs_them(make_store: MakeStore) -> None:
    now = [time.time() - 40 * DAY_S]
    store = make_store(policy=_policy(), retention_days=30, maintenance_seconds=0.05, clock=lambda: now[0])
    early = session_records(sessions=2, turns=3)
    for record in early:
        record.started_at = now[0]
        store.submit(record)
    assert store.flush(30)
    before = _count(store, "SELECT count(*) FROM body_pieces")
    # Forty days later the first session goes on: its old pieces are touched again, not re-sent.
    now[0] += 40 * DAY_S
    later = session_records(sessions=1, turns=4)[3:]
    for record in later:
        record.started_at = now[0]
        store.submit(record)
    assert store.flush(30)
    wait_until(lambda: store.db_stats()["rows"] == len(later), timeout=20)
    wait_until(lambda: _count(store, "SELECT count(*) FROM body_pieces") < before, timeout=20)
    row = store.log(len(early) + 1)
    assert row is not None
    assert row["request_body"] == _policy().render(later[0].request_body)
    assert bodies.MISSING not in row["request_body"]
    # what only the second session's old rows used is gone
    assert _count(store, "SELECT count(*) FROM body_pieces") <= len(
        _policy().render_pieces(later[0].request_body) or []
    )


def test_a_lost_piece_reads_as_a_marker_not_as_other_text(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db", policy=_policy())
    store.open()
    try:
        record = session_records(sessions=1, turns=2)[1]
        store.submit(record)
        assert store.flush(10)
        conn = sqlite3.connect(store.path)
        conn.execute("DELETE FROM body_pieces WHERE rowid = (SELECT min(rowid) FROM body_pieces)")
        conn.commit()
        conn.close()
        row = store.log(1)
        assert row is not None
        assert bodies.MISSING in row["request_body"]
        whole = _policy().render(record.request_body)
        assert whole is not None
        assert len(row["request_body"]) < len(whole) + len(bodies.MISSING)
    finally:
        store.close()


def test_pieces_of_a_batch_that_failed_are_written_with_the_next(tmp_path: Path, monkeypatch: Any) -> None:
    """The ledger marks a batch's pieces when it plans them: a batch that fails (dropped, counted)
    must not leave the next turns of its sessions pointing at pieces that were never written."""
    records = session_records(sessions=2, turns=6)
    store = SqliteStore(tmp_path / "data.db", policy=_policy())
    store.open()
    try:
        real = store._insert_rows
        calls = [0]

        def fail_once(conn: sqlite3.Connection, rows: Any) -> None:
            calls[0] += 1
            if calls[0] == 2:  # the second batch: its pieces were planned, then the write fails
                raise sqlite3.OperationalError("database is locked")
            real(conn, rows)

        monkeypatch.setattr(store, "_insert_rows", fail_once)
        for at in range(0, len(records), 4):  # a batch per flush: 4 rows, two turns of each session
            for record in records[at : at + 4]:
                store.submit(record)
            store.flush(10)
        state = store.state()
        assert (state.written, state.dropped) == (len(records) - 4, 4)
        expect = _policy()
        for log_id, record in enumerate([*records[:4], *records[8:]], start=1):
            row = store.log(log_id)
            assert row is not None
            assert row["request_body"] == expect.render(record.request_body)
    finally:
        store.close()


def test_a_database_from_before_the_pieces_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    store = SqliteStore(path, policy=CapturePolicy.build("full", 256 << 10, []))
    store.open()
    small = RequestRecord("req_old", "/v1/responses", time.time(), False, client_model="m", status=200)
    small.request_body = b'{"input": "hello from before"}'
    store.submit(small)
    assert store.flush(10)
    store.close()
    conn = sqlite3.connect(path)  # as the previous version left it
    conn.executescript(
        "ALTER TABLE chat_logs DROP COLUMN request_pieces; ALTER TABLE chat_logs DROP COLUMN response_pieces; "
        "DROP TABLE body_pieces; DELETE FROM migrations WHERE name = '0004_body_pieces';"
    )
    conn.close()
    reopened = SqliteStore(path, policy=_policy())
    reopened.open()
    try:
        assert "0004_body_pieces" in [m["name"] for m in reopened.db_stats()["migrations"]]
        old = reopened.log(1)
        assert old is not None
        assert old["request_body"] == '{"input": "hello from before"}'
        record: Any = session_records(sessions=1, turns=2)[1]
        reopened.submit(record)
        assert reopened.flush(10)
        new = reopened.log(2)
        assert new is not None
        assert new["request_body"] == _policy().render(record.request_body)
    finally:
        reopened.close()


def test_keys_in_pieced_bodies_never_reach_the_database(
    tmp_path: Path, postgres_server: Any, postgres_url: str
) -> None:
    """Acceptance 4 with long bodies: the keys sit inside pieces shared across a session's turns."""
    from mimo2codex.store.postgres import PostgresStore

    records = _with_secrets(session_records(sessions=2, turns=4))
    for record in records:  # the keys in every request this time, also where an earlier turn had none
        body = orjson.loads(record.request_body)
        body["input"].insert(1, {"type": "message", "role": "user", "content": f"use {UPSTREAM_KEY}"})
        record.request_body = orjson.dumps(body)
    sqlite = SqliteStore(tmp_path / "data.db", policy=_policy())
    postgres = PostgresStore(postgres_url, policy=_policy())
    for store in (sqlite, postgres):
        store.open()
        try:
            for record in records:
                store.submit(record)
            assert store.flush(30)
            assert store.state().written == len(records)
            assert _count(store, "SELECT count(*) FROM body_pieces") > 0
        finally:
            store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("data.db*"))
    assert b"[REDACTED]" in raw
    assert UPSTREAM_KEY.encode() not in raw
    assert INBOUND_TOKEN.encode() not in raw
    dump = postgres_server.dump(postgres_url.rsplit("/", 1)[1])
    assert "[REDACTED]" in dump
    assert UPSTREAM_KEY not in dump
    assert INBOUND_TOKEN not in dump
