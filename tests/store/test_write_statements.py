"""A batch written as a handful of statements: body pieces and rollups in multi-row statements (SQLite)
or arrays (PostgreSQL), with the same rows, pieces and rollup totals as one statement per item."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.sessions import unique_records
from mimo2codex.store import batch, bodies, levels, rollup, sqlite_rollups
from mimo2codex.store import sqlite as sqlite_store
from mimo2codex.store.base import Store, StoredResponse
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.multirow import MultiRow
from mimo2codex.store.pending import ResponseDeletion
from mimo2codex.store.redaction_cache import Piece
from mimo2codex.store.row import COLUMN_NAMES, record_to_row
from mimo2codex.store.sqlite import SqliteStore
from tests.store.conftest import INBOUND_TOKEN, UPSTREAM_KEY, MakeStore
from tests.store.test_write_path import record

MINUTE_S = 60


def _policy() -> CapturePolicy:
    return CapturePolicy.build("full", 256 << 10, [UPSTREAM_KEY, INBOUND_TOKEN])


def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in conn.execute(sql)]
        finally:
            conn.close()
    return list(store._query(sql))  # type: ignore[attr-defined]


def _stored_levels(store: Store) -> dict[str, dict[rollup.RollupKey, rollup.Rollup]]:
    out: dict[str, dict[rollup.RollupKey, rollup.Rollup]] = {}
    for level in levels.STORED:
        out[level.table] = {
            (
                int(r[level.column]),
                r["provider_id"],
                r["client_model"],
                r["upstream_model"],
            ): rollup.Rollup.from_columns(r)
            for r in _rows(store, f"SELECT * FROM {level.table}")
        }
    return out


def _expected_levels(rows: list[dict[str, Any]]) -> dict[str, dict[rollup.RollupKey, rollup.Rollup]]:
    return {level.table: dict(deltas) for level, deltas in levels.fold_levels(rows).items()}


def test_multirow_writes_any_count_in_order_in_one_statement_per_power_of_two() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    insert = MultiRow(lambda n: f"INSERT INTO t VALUES {', '.join(['(?, ?)'] * n)}", 2, 64)
    for count, limit, expected in ((0, 999, 0), (1, 999, 1), (139, 999, 5), (200, 999, 4), (13, 9, 4)):
        # (139: 64 + 64 + 8 + 2 + 1; 200: 64 x 3 + 8; a limit of 9 variables holds 4 rows: 4 x 3 + 1)
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
        conn.execute("DELETE FROM t")
        statements.clear()
        values: list[Any] = []
        for n in range(count):
            values += (n, f"row {n}")
        assert insert.execute(conn, values) == expected
        assert len(statements) == expected
        assert conn.execute("SELECT a, b FROM t ORDER BY rowid").fetchall() == [(n, f"row {n}") for n in range(count)]


def test_a_batch_with_more_pieces_than_one_statement_holds_reads_back(make_store: MakeStore) -> None:
    records = unique_records(70, size=30_000)
    policy = _policy()
    rendered = batch.render(records, policy, "t")
    due = bodies.PieceLedger().due(rendered.rows)
    assert len(due) > 512  # more than one SQLite statement's pieces
    store = make_store(policy=policy, maintenance_seconds=3600)
    store._write_batch(rendered)  # type: ignore[attr-defined]  # one batch, whatever the writer's timing
    assert _rows(store, "SELECT count(*) AS n FROM body_pieces")[0]["n"] == len(due)
    for log_id, rec in enumerate(records, start=1):
        row = store.log(log_id)
        assert row is not None
        assert row["request_body"] == policy.render(rec.request_body)


def test_a_piece_in_two_rows_of_a_batch_keeps_the_newest_ts_and_never_moves_down(make_store: MakeStore) -> None:
    policy = _policy()
    now = time.time()
    records = unique_records(2, size=20_000)
    same = records[0].request_body
    early, late = record(1, started_at=now - 300), record(2, started_at=now - 100)
    early.request_body = late.request_body = same
    store = make_store(policy=policy, maintenance_seconds=3600)
    store._write_batch(batch.render([late, early], policy, "t"))  # type: ignore[attr-defined]
    digests = bodies.digests(
        bytes(_rows(store, "SELECT request_pieces FROM chat_logs WHERE id = 1")[0]["request_pieces"])
    )
    assert len(digests) > 1

    def piece_ts() -> set[int]:
        return {int(r["ts"]) for r in _rows(store, "SELECT ts FROM body_pieces")}

    assert piece_ts() == {int(late.started_at * 1000)}
    # another writer (an empty ledger) writes the same pieces for an older row: their ts stays
    store._pieces.forget()  # type: ignore[attr-defined]
    store._write_batch(batch.render([record(3, started_at=now - 900, request_body=same)], policy, "t"))  # type: ignore[attr-defined]
    assert piece_ts() == {int(late.started_at * 1000)}
    # and for a newer one it moves up, with a piece of another body inserted beside them
    store._pieces.forget()  # type: ignore[attr-defined]
    newer = [
        record(4, started_at=now, request_body=same),
        record(5, started_at=now, request_body=records[1].request_body),
    ]
    store._write_batch(batch.render(newer, policy, "t"))  # type: ignore[attr-defined]
    assert piece_ts() == {int(now * 1000)}
    assert len(_rows(store, "SELECT digest FROM body_pieces")) > len(digests)
    for log_id, body in enumerate((same, same, same, same, records[1].request_body), start=1):
        row = store.log(log_id)
        assert row is not None
        assert row["request_body"] == policy.render(body)


def test_rollups_of_a_batch_with_stored_and_new_keys_add_up_exactly(make_store: MakeStore) -> None:
    # 300 routes per batch: more keys than one lookup (128) or one write statement (64) holds
    store = make_store(batch_size=1000, maintenance_seconds=3600)
    now = time.time()
    policy = CapturePolicy("off")

    def records(numbers: range, minute: int) -> list[Any]:
        out = []
        for n in numbers:
            rec = record(n, started_at=now - minute * MINUTE_S - n % 7, client_model=f"model-{n}")
            if n % 5 == 0:
                rec.status, rec.error_code = 429, "rate_limited"
            out.append(rec)
        return out

    first = records(range(300), 3)
    second = records(range(150, 450), 3) + records(range(0, 20), 0)  # half stored, half new, a new minute
    logged: list[dict[str, Any]] = []
    for part in (first, second):
        rendered = batch.render(part, policy, "t")
        store._write_batch(rendered)  # type: ignore[attr-defined]
        logged += [record_to_row(rec, policy, "t") for rec in part]
    assert _stored_levels(store) == _expected_levels(logged)
    assert store.stats(0, int(now * 1000) + 1)["requests"] == len(logged)


def test_sqlite_rollups_fit_a_build_with_few_bound_variables(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db")
    store.open()
    store.close()
    now = time.time()
    policy = CapturePolicy("off")
    rows = [record_to_row(record(n, started_at=now - n, client_model=f"m-{n % 90}"), policy, "t") for n in range(400)]
    conn = sqlite3.connect(tmp_path / "data.db", isolation_level=None)
    try:
        # 100 variables: 16 keys per lookup part, 5 rows of 19 columns per write (4 per statement)
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)
        for half in (rows[:250], rows[150:]):
            conn.execute("BEGIN IMMEDIATE")
            sqlite_rollups.add_levels(conn, levels.fold_levels(half))
            conn.execute("COMMIT")
    finally:
        conn.close()
    assert _stored_levels(store) == _expected_levels(rows[:250] + rows[150:])


def test_stored_responses_of_a_batch_go_in_order_last_put_wins_then_deletes(make_store: MakeStore) -> None:
    store = make_store(maintenance_seconds=3600)
    now_ms = int(time.time() * 1000)

    def stored(response_id: str, text: str) -> StoredResponse:
        return StoredResponse(response_id, {"id": response_id, "output_text": text}, [], created_ms=now_ms)

    items: list[batch.QueueItem] = [stored(f"resp_{n}", "first") for n in range(100)]  # more than one statement
    items += [stored("resp_7", "second"), ResponseDeletion("resp_8"), stored("resp_8", "late")]
    store._write_batch(batch.render(items, CapturePolicy("off"), "t"))  # type: ignore[attr-defined]
    found = {n: store.get_response(f"resp_{n}") for n in range(100)}
    assert found[7] is not None
    assert found[7].response["output_text"] == "second"
    assert found[8] is None  # a deletion goes after every put of its batch
    assert [n for n, got in found.items() if got is None or got.response["output_text"] != "first"] == [7, 8]
    store._write_batch(batch.render([ResponseDeletion(f"resp_{n}") for n in range(50)], CapturePolicy("off"), "t"))  # type: ignore[attr-defined]
    assert [n for n in range(100) if store.get_response(f"resp_{n}") is not None] == [
        n for n in range(50, 100) if n != 8
    ]


def _ledger_rows(ts: int, pieces: list[Piece]) -> list[dict[str, Any]]:
    return [{"ts": ts, bodies.PIECES: pieces}]


def test_the_ledger_marks_the_pieces_it_knows_written_and_trusts_only_its_own_marks_of_its_epoch() -> None:
    first, second = Piece("a" * 3000), Piece("b" * 3000)
    pieces = [first, second]
    ledger = bodies.PieceLedger(size=2)
    due = ledger.due(_ledger_rows(1_000, pieces))
    assert set(due) == {first.digest, second.digest}
    ledger.note(due)
    assert ledger.due(_ledger_rows(2_000, pieces)) == {}  # marked when they were due
    assert first.written
    assert second.written
    # a third piece pushes the first out of the (2-entry) ledger: its mark still answers for it
    ledger.note({b"\x00" * bodies.DIGEST_BYTES: (2_000, "another piece")})
    assert ledger.due(_ledger_rows(3_000, pieces)) == {}
    # another store's ledger (the capture policy, and so the pieces, may be shared) writes its own
    other = bodies.PieceLedger()
    assert set(other.due(_ledger_rows(3_000, pieces))) == {first.digest, second.digest}
    # a row more than TOUCH_MS newer than the pieces' ts moves it up, marks or not
    later = 1_000 + bodies.TOUCH_MS + 1
    due = ledger.due(_ledger_rows(later, pieces))
    assert due == {first.digest: (later, first.text), second.digest: (later, second.text)}
    ledger.note(due)
    assert ledger.due(_ledger_rows(later, pieces)) == {}
    # after a prune, what the marks say may be gone: every piece is upserted again
    ledger.forget()
    assert set(ledger.due(_ledger_rows(later, pieces))) == {first.digest, second.digest}


def test_pieces_due_in_a_write_that_failed_are_due_again() -> None:
    first, second = Piece("a" * 3000), Piece("b" * 3000)
    ledger = bodies.PieceLedger()
    with contextlib.suppress(sqlite3.OperationalError), ledger.writing(_ledger_rows(1_000, [first])) as due:
        assert set(due) == {first.digest}
        raise sqlite3.OperationalError("database is locked")
    # the next batch: the piece marked for the failed write is due again, with the new one
    with ledger.writing(_ledger_rows(2_000, [first, second])) as due:
        assert set(due) == {first.digest, second.digest}
    assert ledger.due(_ledger_rows(3_000, [first, second])) == {}  # written: passed over


def test_a_none_binds_as_null_on_any_connection_once_a_sqlite_store_is_open(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db", maintenance_seconds=3600)
    store.open()  # registers the faster None binding, for the whole process
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE TABLE t (a, b)")
        conn.execute("INSERT INTO t VALUES (?, ?)", (None, 1))
        assert conn.execute("SELECT typeof(a), a IS NULL, b FROM t").fetchone() == ("null", 1, 1)
        store.submit(record(1))
        assert store.flush()
        row = store.log(1)
        assert row is not None
        assert (row["error_code"], row["rewritten_from"]) == (None, None)
    finally:
        conn.close()
        store.close()


def test_columns_null_in_a_whole_batch_are_left_out_and_read_back_null_as_in_a_mixed_batch(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db", maintenance_seconds=3600, batch_size=500)
    store.open()
    try:
        # no column of the log has a default but NULL: a column left out of an INSERT reads NULL
        conn = sqlite3.connect(store.path)
        try:
            columns = conn.execute("PRAGMA table_info(chat_logs)").fetchall()
        finally:
            conn.close()
        assert [(name, default, notnull) for _, name, _, notnull, default, _ in columns if name != "id"] == [
            (name, None, 0) for name in COLUMN_NAMES
        ]
        # batch 1: no row has an error code or a rewrite (those columns are left out); batch 2:
        # one row has both, the others NULL in the same statement
        store.submit(record(1))
        store.submit(record(2))
        assert store.flush()
        error_code = COLUMN_NAMES.index("error_code")
        assert any(error_code in left_out for left_out in sqlite_store._ROW_INSERTS)
        store.submit(record(3))
        store.submit(record(4, error_code="upstream_429", status=429, rewritten_from="gpt-x", rewrite_reason="alias"))
        store.submit(record(5))
        assert store.flush()
        rows = {row["request_id"]: row for row in _rows(store, "SELECT * FROM chat_logs ORDER BY id")}
        assert list(rows) == ["req_1", "req_2", "req_3", "req_4", "req_5"]
        for n in (1, 2, 3, 5):
            row = rows[f"req_{n}"]
            assert (row["error_code"], row["rewritten_from"], row["rewrite_reason"]) == (None, None, None)
            # the columns after a left-out one hold their own values
            assert (row["client_model"], row["bytes_in"], row["bytes_out"]) == (f"model-{n % 3}", 1000 + n, 2000 + n)
        assert (rows["req_4"]["error_code"], rows["req_4"]["status_code"]) == ("upstream_429", 429)
        assert (rows["req_4"]["rewritten_from"], rows["req_4"]["rewrite_reason"]) == ("gpt-x", "alias")
    finally:
        store.close()
