"""The log writer's maintenance backs off while there is nothing to do, and its CPU is counted.

An idle gateway, or one with the log off (which still keeps stored responses and old rows), must not
query its database every ``idle_seconds``: a step that changed nothing doubles the interval, up to
``MAINTENANCE_BACKOFF`` times ``idle_seconds``; a written batch, a step that did something and a
failing step bring it back. The store's own steps say whether they did something, on both backends.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence

import pytest

from mimo2codex.request_log import RequestRecord
from mimo2codex.store import writer as writer_module
from mimo2codex.store.base import LogQuery, Store
from mimo2codex.store.writer import LogWriter
from tests.store.conftest import MakeStore

IDLE = 0.01
WAIT = 10.0


class Maintenance:
    """A maintain() that counts its calls and answers what the test says."""

    def __init__(self, answer: Callable[[], bool]) -> None:
        self.answer = answer
        self.calls: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> bool:
        with self.lock:
            self.calls.append(time.monotonic())
        return self.answer()

    def count(self) -> int:
        with self.lock:
            return len(self.calls)

    def since(self, moment: float) -> int:
        with self.lock:
            return sum(1 for call in self.calls if call >= moment)


def make_writer(maintain: Maintenance, written: list[int] | None = None) -> LogWriter[int, list[int]]:
    def render(items: Sequence[int]) -> list[int]:
        return list(items)

    def write(rendered: list[int]) -> None:
        if written is not None:
            written.extend(rendered)

    writer: LogWriter[int, list[int]] = LogWriter(
        render, write, maintain=maintain, idle_seconds=IDLE, name="test-backoff-writer"
    )
    writer.start()
    return writer


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_nothing_to_do_backs_off_and_a_batch_brings_maintenance_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "MAINTENANCE_BACKOFF", 100)  # at most 1 s apart
    maintenance = Maintenance(lambda: False)
    written: list[int] = []
    writer = make_writer(maintenance, written)
    try:
        time.sleep(1.2)
        # every 10 ms without the backoff (~120 steps); with it 10, 20, 40, ... 640 ms apart
        idle_steps = maintenance.count()
        assert 3 <= idle_steps <= 15, idle_steps
        quiet = time.monotonic()
        time.sleep(0.6)
        assert maintenance.since(quiet) <= 2
        # a batch: new rows may reach the size cap, so the next step comes within idle_seconds again
        # (well before the backed-off second)
        submitted = time.monotonic()
        assert writer.submit(1)
        assert writer.flush()
        assert written == [1]
        assert wait_until(lambda: maintenance.since(submitted) >= 1, timeout=0.5)
    finally:
        writer.close()


@pytest.mark.parametrize("outcome", ["busy", "failing"])
def test_a_step_that_did_something_or_failed_keeps_the_interval(outcome: str) -> None:
    def answer() -> bool:
        if outcome == "failing":
            raise RuntimeError("database is locked")
        return True

    maintenance = Maintenance(answer)
    writer = make_writer(maintenance)
    try:
        time.sleep(0.6)
        # every 10 ms (~60 steps): a failing database is retried as often as before, and a prune
        # that deleted a chunk goes on with the next one
        assert maintenance.count() >= 15, maintenance.count()
    finally:
        writer.close()


def test_the_writer_counts_its_cpu_per_thread() -> None:
    maintenance = Maintenance(lambda: False)
    writer = make_writer(maintenance)
    try:
        for item in range(2000):
            writer.submit(item)
        assert writer.flush()
        assert writer.render_seconds > 0
        assert writer.database_seconds > 0
    finally:
        writer.close()


def _in_database_thread(store: Store, step: Callable[[], bool]) -> bool:
    """Run ``step`` as the writer's database thread runs its jobs (in order, on its connection)."""
    answers: queue.Queue[bool | BaseException] = queue.Queue()

    def job() -> None:
        try:
            answers.put(step())
        except BaseException as exc:  # handed to the test
            answers.put(exc)

    store._writer._jobs.put(job)  # type: ignore[attr-defined]
    answer = answers.get(timeout=WAIT)
    if isinstance(answer, BaseException):
        raise answer
    return answer


def _settle(store: Store) -> int:
    """Maintenance steps until one finds nothing to do; how many did something."""
    maintain: Callable[[], bool] = store._maintain  # type: ignore[attr-defined]
    for busy_steps in range(20):
        if not _in_database_thread(store, maintain):
            return busy_steps
    raise AssertionError("maintenance never settled")


def test_the_stores_steps_say_whether_they_did_something(make_store: MakeStore) -> None:
    now = [time.time()]
    store = make_store(retention_days=1, clock=lambda: now[0], maintenance_seconds=3600)
    for i in range(30):
        record = RequestRecord(f"req_{i}", "/v1/responses", now[0] - 7200 + i, True)
        record.request_body = b'{"model":"m","input":"' + b"x" * 5000 + b'"}'
        store.submit(record)
    assert store.flush(WAIT)
    _settle(store)
    # nothing old enough: an idle step changes nothing, and says so
    assert not _in_database_thread(store, store._maintain)  # type: ignore[attr-defined]
    assert len(store.logs(LogQuery(limit=100)).rows) == 30
    # three days later every row is past retention: the steps delete them, then settle again
    now[0] += 3 * 86400
    assert _settle(store) >= 1
    assert store.logs(LogQuery(limit=100)).rows == []
    assert not _in_database_thread(store, store._maintain)  # type: ignore[attr-defined]
