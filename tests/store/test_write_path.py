"""The write path's cheap shapes: a batch as a few multi-row INSERTs, unwanted bodies let go at submit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from mimo2codex.request_log import RequestRecord
from mimo2codex.store.base import LogQuery, Store
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.row import COLUMN_NAMES, record_to_row
from mimo2codex.store.sqlite import SqliteStore
from tests.store.conftest import MakeStore


def record(n: int, **changes: object) -> RequestRecord:
    rec = RequestRecord(f"req_{n}", "/v1/responses", time.time(), n % 2 == 0, client_model=f"model-{n % 3}")
    rec.provider, rec.upstream_model = "deepseek", "deepseek-chat"
    rec.bytes_in, rec.bytes_out = 1000 + n, 2000 + n
    rec.duration_ms = float(n)
    for name, value in changes.items():
        setattr(rec, name, value)
    return rec


def all_rows(store: Store) -> list[dict[str, object]]:
    """Every row, oldest first (pages of the newest-first list)."""
    rows: list[dict[str, object]] = []
    before: int | None = None
    while True:
        page = store.logs(LogQuery(limit=100, before_id=before))
        rows += page.rows
        if page.next_before_id is None:
            return rows[::-1]
        before = page.next_before_id


def test_a_batch_of_any_size_lands_whole_and_in_order(make_store: MakeStore) -> None:
    # 139 = 128 + 8 + 2 + 1: every statement size the writer uses beside the largest, in one batch
    store = make_store(batch_size=500)
    count = 139
    for n in range(count):
        store.submit(record(n))
    assert store.flush(10)
    rows = all_rows(store)
    assert [r["request_id"] for r in rows] == [f"req_{n}" for n in range(count)]
    for n, row in enumerate(rows):
        assert (row["bytes_in"], row["bytes_out"], row["duration_ms"]) == (1000 + n, 2000 + n, n)
        assert row["client_model"] == f"model-{n % 3}"
        assert row["stream"] is (n % 2 == 0)
    assert store.stats(0, int(time.time() * 1000) + 1)["requests"] == count


def test_a_build_with_few_bound_variables_gets_smaller_inserts(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db")
    store.open()
    store.close()
    conn = sqlite3.connect(tmp_path / "data.db", isolation_level=None)
    try:
        # room for two rows per statement: like an old SQLite's 999 variables against wide rows
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, len(COLUMN_NAMES) * 2 + 1)
        rows = [record_to_row(record(n), CapturePolicy("off"), "test") for n in range(5)]
        SqliteStore._insert_rows(conn, rows)
        found = [r[0] for r in conn.execute("SELECT request_id FROM chat_logs ORDER BY id")]
    finally:
        conn.close()
    assert found == [f"req_{n}" for n in range(5)]


def test_errors_only_lets_a_success_body_go_at_submit_and_keeps_a_failure(make_store: MakeStore) -> None:
    store = make_store(policy=CapturePolicy.build("errors-only", 256 << 10, []))
    ok = record(1, request_body=b'{"input": "fine"}', response_body={"status": "completed"})
    failed = record(
        2, status=429, outcome="error", error_code="rate_limit_exceeded", request_body=b'{"input": "too fast"}'
    )
    failed.response_body = {"error": {"message": "slow down"}}
    store.submit(ok)
    store.submit(failed)
    # the success's body is not held in the queue: errors-only would never store it
    assert ok.request_body is None
    assert ok.response_body is None
    assert failed.request_body is not None
    assert failed.response_body is not None
    assert store.flush(5)
    rows = {r["request_id"]: r for r in all_rows(store)}
    ok_detail = store.log(int(str(rows["req_1"]["id"])))
    failed_detail = store.log(int(str(rows["req_2"]["id"])))
    assert ok_detail is not None
    assert failed_detail is not None
    assert ok_detail["request_body"] is None
    assert ok_detail["response_body"] is None
    assert "too fast" in str(failed_detail["request_body"])
    assert "slow down" in str(failed_detail["response_body"])


def test_full_capture_keeps_a_success_body(make_store: MakeStore) -> None:
    store = make_store(policy=CapturePolicy.build("full", 256 << 10, []))
    ok = record(1, request_body=b'{"input": "kept"}')
    store.submit(ok)
    assert ok.request_body is not None
    assert store.flush(5)
    (row,) = all_rows(store)
    detail = store.log(int(str(row["id"])))
    assert detail is not None
    assert "kept" in str(detail["request_body"])


def test_a_batch_that_cannot_be_rendered_is_dropped_and_counted(make_store: MakeStore) -> None:
    """A render failure (a bug, or a record no policy can serialize) costs its batch, not the log."""
    store = make_store(batch_size=1)
    render = store._writer._render  # type: ignore[attr-defined]

    def failing_once(items: list[RequestRecord]) -> object:
        if items[0].request_id == "req_1":
            raise RuntimeError("cannot serialize")
        return render(items)

    store._writer._render = failing_once  # type: ignore[attr-defined]
    store.submit(record(1))
    store.submit(record(2))
    assert store.flush(10)
    state = store.state()
    assert (state.written, state.dropped) == (1, 1)
    assert [r["request_id"] for r in all_rows(store)] == ["req_2"]
