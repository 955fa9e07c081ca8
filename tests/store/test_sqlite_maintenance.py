"""SQLite maintenance off the request path: retention, the size cap, incremental vacuum, VACUUM's disk check."""

from __future__ import annotations

import time
from pathlib import Path

from mimo2codex.request_log import RequestRecord
from mimo2codex.store.base import LogQuery
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.rollup import DAY_MS
from mimo2codex.store.sqlite import SqliteStore


def wait_until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


def record(n: int, started: float, body: bytes = b"") -> RequestRecord:
    rec = RequestRecord(f"req_{n}", "/v1/responses", started, False, client_model="m", status=200)
    rec.request_body = body or None
    return rec


def test_retention_deletes_old_rows_and_keeps_rollups(tmp_path: Path) -> None:
    now = time.time()
    store = SqliteStore(tmp_path / "data.db", retention_days=2, maintenance_seconds=0.05)
    store.open()
    try:
        for n in range(30):
            store.submit(record(n, now - 5 * 86400 + n))  # five days old
        store.submit(record(99, now - 60))
        assert store.flush(5)
        wait_until(lambda: store.db_stats()["rows"] == 1)
        assert store.logs(LogQuery()).rows[0]["request_id"] == "req_99"
        old = store.stats(int(now * 1000) - 6 * DAY_MS, int(now * 1000) - 4 * DAY_MS)
        assert old["requests"] == 30  # whole hours come from the rollups
    finally:
        store.close()


def test_size_cap_deletes_oldest_first_and_shrinks_the_file(tmp_path: Path) -> None:
    now = time.time()
    policy = CapturePolicy.build("full", 256 << 10, [])
    path = tmp_path / "data.db"
    store = SqliteStore(path, policy=policy, max_mb=1, maintenance_seconds=0.02)
    store.open()
    try:
        noise = bytes(range(256)) * 80  # ~20 KiB, incompressible enough
        for n in range(200):  # ~4 MiB of bodies
            store.submit(record(n, now - 200 + n, noise))
        assert store.flush(10)
        wait_until(lambda: store.db_stats()["file_bytes"] < 5 << 19, timeout=20)
        rows = store.tail(LogQuery(after_id=0, limit=1000))
        assert rows
        assert rows[-1]["request_id"] == "req_199"
        assert rows[0]["request_id"] != "req_0"
        assert store.db_stats()["auto_vacuum"] == "incremental"
    finally:
        store.close()


def test_vacuum_checks_free_disk_first(tmp_path: Path, monkeypatch: object) -> None:
    import shutil

    store = SqliteStore(tmp_path / "data.db")
    store.open()
    try:
        store.submit(record(1, time.time()))
        assert store.flush(5)
        done = store.vacuum()
        assert done["ok"] is True
        real = shutil.disk_usage

        def tiny(path: object) -> object:
            usage = real(path)  # type: ignore[arg-type]
            return usage._replace(free=1024)

        monkeypatch.setattr(shutil, "disk_usage", tiny)  # type: ignore[attr-defined]
        refused = store.vacuum()
        assert refused["ok"] is False
        assert "not enough free disk" in refused["message"]
    finally:
        store.close()
