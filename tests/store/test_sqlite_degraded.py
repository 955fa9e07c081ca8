"""Acceptance 3: a locked, full, read-only or corrupt database never fails or delays a request.

The gateway serves a steady load on a loopback socket while the database goes bad; every request
must succeed, the dropped rows must be counted and reported (store state, ``GET /``), and writing
must resume once the problem clears.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mimo2codex.settings import load_settings
from mimo2codex.store import sqlite as sqlite_backend
from mimo2codex.store.sqlite import SqliteStore
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply
from tests.live import upstream_settings

pytestmark = pytest.mark.live

BODY = {"model": "fake-model", "input": "hi", "stream": False}


def always_ok(body: dict[str, Any], number: int) -> Reply:
    return Reply.text("ok")


def load(url: str, count: int, workers: int = 8) -> list[tuple[int, float]]:
    """``count`` requests, ``workers`` at a time: (status, seconds) of each."""

    def one(_: int) -> tuple[int, float]:
        started = time.monotonic()
        response = client.post(f"{url}/responses", json=BODY)
        return response.status_code, time.monotonic() - started

    with httpx.Client(timeout=20) as client, concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(count)))


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


@pytest.fixture
def stack(
    tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT_MS", int(BUSY_SECONDS * 1000))

    def make(**store_options: Any) -> tuple[SqliteStore, Any]:
        upstream = start_upstream(always_ok)
        store = SqliteStore(tmp_path / "data.db", maintenance_seconds=0.05, **store_options)
        store.open()
        live = start_gateway(upstream_settings(upstream), store=store)
        opened.append(store)
        return store, live

    opened: list[SqliteStore] = []
    yield make
    for store in opened:
        store.close()


#: the database's busy wait in these tests: a request that waited on the database would take this long
BUSY_SECONDS = 4.0


def assert_served(results: list[tuple[int, float]]) -> None:
    assert [status for status, _ in results] == [200] * len(results)
    # Never delayed by the database: a wait on its lock would show as a request of BUSY_SECONDS or more
    # (the margin below it is for a loaded test machine).
    assert max(seconds for _, seconds in results) < BUSY_SECONDS - 1.5


def test_locked_database(stack: Any) -> None:
    store, live = stack()
    assert_served(load(live.url, 20))
    assert store.flush(5)
    assert store.db_stats()["rows"] == 20
    # a wait of its own: the writer's maintenance step may hold the lock for a moment right now
    blocker = sqlite3.connect(store.path, isolation_level=None, timeout=BUSY_SECONDS)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        assert_served(load(live.url, 40))
        wait_until(lambda: store.state().dropped > 0, timeout=3 * BUSY_SECONDS)
        state = store.state()
        assert state.status == "degraded"
        assert "locked" in (state.problem or "")
        status = httpx.get(live.url.removesuffix("/v1") + "/").json()["store"]
        assert status["status"] == "degraded"
        assert status["dropped"] > 0
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert_served(load(live.url, 10))
    assert store.flush(10)
    wait_until(lambda: store.state().status == "ok", timeout=3 * BUSY_SECONDS)
    assert 30 <= store.db_stats()["rows"] < 70


def test_full_database(stack: Any, caplog: pytest.LogCaptureFixture) -> None:
    # The file may not grow by a single page: what still fits in its free space is written. So a
    # later, smaller batch may fit again and clear the problem (the writer renders the next batch
    # while one is written, so that can be at once): what must hold is that the failure was
    # reported when it happened, and that the dropped rows stay counted and shown.
    store, live = stack(writer_pragmas={"max_page_count": 1})
    with caplog.at_level(logging.WARNING, logger="mimo2codex.store"):
        assert_served(load(live.url, 60))
        assert store.flush(10)
    state = store.state()
    assert state.dropped > 0
    assert store.db_stats()["rows"] < 60
    warnings = [r.getMessage() for r in caplog.records if "dropping rows" in r.getMessage()]
    assert warnings
    assert all("full" in message for message in warnings), warnings
    status = httpx.get(live.url.removesuffix("/v1") + "/").json()["store"]
    assert status["dropped"] == state.dropped


def _immutable(paths: list[Path], on: bool) -> bool:
    flag = "+i" if on else "-i"
    existing = [str(p) for p in paths if p.exists()]
    return subprocess.run(["chattr", flag, *existing], capture_output=True).returncode == 0


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The database and its WAL files made unwritable: by mode bits, or as root by the immutable flag."""
    # Not the -shm file: SQLite maps it into memory, and a write to an unwritable mapping is SIGBUS.
    files = [path, Path(f"{path}-wal")]
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in files if p.exists()}
        for p in modes:
            p.chmod(0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    if not _immutable(files, True):
        pytest.skip("cannot make a file read-only here (root without chattr support)")
    try:
        yield
    finally:
        _immutable(files, False)


def test_read_only_database(stack: Any) -> None:
    store, live = stack()
    assert_served(load(live.url, 10))
    assert store.flush(5)
    with read_only(store.path):
        assert_served(load(live.url, 30))
        wait_until(lambda: store.state().dropped > 0)
        assert store.state().status == "degraded"
    assert_served(load(live.url, 10))
    wait_until(lambda: store.state().status == "ok" and store.db_stats()["rows"] > 10)


def test_corrupt_database_at_start(tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    (tmp_path / "data.db").write_bytes(b"this is not a database file " * 200)
    upstream = start_upstream(always_ok)
    settings = load_settings(
        {
            "GENERIC_BASE_URL": upstream.url,
            "GENERIC_API_KEY": upstream.api_key,
            "GENERIC_DEFAULT_MODEL": "fake-model",
            "MIMO2CODEX_DATA_DIR": str(tmp_path),
        }
    )
    live = start_gateway(settings)  # the store opened from the settings, as in production
    assert_served(load(live.url, 10))
    status = httpx.get(live.url.removesuffix("/v1") + "/").json()["store"]
    assert status["status"] == "degraded"
    assert "not a database" in status["problem"]
    wait_until(lambda: httpx.get(live.url.removesuffix("/v1") + "/").json()["store"]["dropped"] >= 10)
    assert (tmp_path / "data.db").read_bytes().startswith(b"this is not a database file")  # left for the user


def test_a_full_queue_drops_and_counts_without_blocking(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data.db", queue_size=5, batch_size=1)
    store.open()
    gate = threading.Event()
    original = store._write_batch

    def slow(records: Any) -> None:
        gate.wait(5)
        original(records)

    store._writer._write_batch = slow  # the database stalls; the request path must not
    try:
        from tests.store.test_store_basics import record

        started = time.monotonic()
        for n in range(50):
            store.submit(record(n))
        assert time.monotonic() - started < 0.5
        assert store.state().dropped >= 40
    finally:
        gate.set()
        store.close()


def test_stored_responses_never_wait_for_a_locked_database(tmp_path: Path) -> None:
    from mimo2codex.store.base import StoredResponse

    store = SqliteStore(tmp_path / "data.db")
    store.open()
    blocker = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        store.put_response(StoredResponse("resp_locked", {"id": "resp_locked"}, [{"role": "user"}]))
        found = store.get_response("resp_locked")
        assert time.monotonic() - started < 0.5
        assert found is not None
        assert found.input_items == [{"role": "user"}]
        blocker.execute("ROLLBACK")
        assert store.flush(10)
        with sqlite3.connect(store.path) as reader:
            assert reader.execute("SELECT id FROM stored_responses").fetchall() == [("resp_locked",)]
        assert store.delete_response("resp_locked")
        assert store.get_response("resp_locked") is None
    finally:
        blocker.close()
        store.close()
