"""The log writer's hand-over from the request path (mimo2codex/store/writer.py).

``submit`` is an append: no lock, no condition, and no wake-up of the writer thread per record, only
for the first record after the thread went to sleep. These tests hold it to that, and to what the
rest of the store relies on: a lone record still reaches the database within the group commit's
linger (the kill -9 guarantee of issue 8 is 1 s), ``flush()`` returns at once instead of lingering,
no wake-up is lost when several threads submit, and ``close()`` never hangs on a stuck database.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from mimo2codex.store.writer import LINGER_SECONDS, LogWriter

#: an idle writer's timeout, long enough that a lost wake-up shows as a record not written in time
NEVER = 30.0


class CountingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


class Database:
    """Where the writer's batches go: the rows in order, each batch's size and commit time."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.batches: list[tuple[int, float]] = []
        self.changed = threading.Condition()

    def render(self, items: Sequence[int]) -> list[int]:
        return list(items)

    def write(self, rows: list[int]) -> None:
        with self.changed:
            self.rows.extend(rows)
            self.batches.append((len(rows), time.monotonic()))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.rows) >= count, timeout)


@pytest.fixture
def database() -> Database:
    return Database()


@pytest.fixture
def writer(database: Database) -> Iterator[LogWriter[int, list[int]]]:
    w: LogWriter[int, list[int]] = LogWriter(database.render, database.write, idle_seconds=NEVER)
    w._wake = CountingEvent()  # counted, before the thread starts
    w.start()
    yield w
    w.close(2)


def test_a_lone_record_is_written_within_the_linger_without_a_flush(
    writer: LogWriter[int, list[int]], database: Database
) -> None:
    time.sleep(0.05)  # the thread is asleep on an empty queue
    submitted = time.monotonic()
    assert writer.submit(1)
    assert database.wait_for(1, LINGER_SECONDS + 1.0), "the writer was not woken by the first record"
    _, committed = database.batches[0]
    assert committed - submitted < LINGER_SECONDS + 0.5
    assert committed - submitted >= LINGER_SECONDS * 0.8  # it lingered for company (group commit)


def test_records_do_not_wake_the_writer_one_by_one(writer: LogWriter[int, list[int]], database: Database) -> None:
    wake = writer._wake
    assert isinstance(wake, CountingEvent)
    time.sleep(0.05)
    for n in range(200):
        assert writer.submit(n)
    assert database.wait_for(200, LINGER_SECONDS + 2.0)
    assert wake.sets <= 2  # the first record (and at most one more racing the thread's look)
    assert len(database.batches) <= 2  # one group commit, not a transaction per record
    assert database.rows == list(range(200))


def test_flush_returns_at_once_instead_of_lingering(writer: LogWriter[int, list[int]], database: Database) -> None:
    time.sleep(0.05)
    writer.submit(7)
    started = time.monotonic()
    assert writer.flush(5)
    assert time.monotonic() - started < LINGER_SECONDS / 2
    assert database.rows == [7]
    started = time.monotonic()
    assert writer.flush(5)  # nothing queued: at once too
    assert time.monotonic() - started < LINGER_SECONDS / 2


def test_no_wake_up_is_lost_when_threads_submit_at_once(writer: LogWriter[int, list[int]], database: Database) -> None:
    def submitter(base: int) -> None:
        rng = random.Random(base)
        for n in range(300):
            writer.submit(base + n)
            if rng.random() < 0.02:
                time.sleep(rng.random() * 0.01)  # sometimes the queue runs dry and the writer sleeps

    threads = [threading.Thread(target=submitter, args=(k * 1000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # No flush: with an idle timeout of 30 s, only the wake-ups can bring the last records in.
    assert database.wait_for(1200, LINGER_SECONDS + 2.0)
    assert sorted(database.rows) == sorted(k * 1000 + n for k in range(4) for n in range(300))


def test_a_full_queue_drops_and_counts(database: Database) -> None:
    w: LogWriter[int, list[int]] = LogWriter(database.render, database.write, queue_size=3)
    assert [w.submit(n) for n in range(5)] == [True, True, True, False, False]  # not started: nothing drains
    assert w.dropped == 2
    assert w.depth == 3
    assert not w.flush(0.1)  # the thread is not running: what is queued is not written
    w.start()
    assert w.flush(5)
    assert database.rows == [0, 1, 2]
    w.close()


def test_close_gives_up_on_a_stuck_database_in_time(database: Database) -> None:
    gate = threading.Event()

    def stuck(rows: list[int]) -> None:
        gate.wait(10)
        database.write(rows)

    w: LogWriter[int, list[int]] = LogWriter(database.render, stuck)
    w.start()
    w.submit(1)
    started = time.monotonic()
    assert not w.flush(0.3)
    w.close(0.3)
    assert time.monotonic() - started < 2.0
    gate.set()
    assert database.wait_for(1, 5)


def _thread_cpu_seconds(native_id: int) -> float:
    with open(f"/proc/self/task/{native_id}/schedstat") as stat:  # Linux: ns on the CPU
        return int(stat.read().split()[0]) / 1e9


@pytest.mark.skipif(not hasattr(threading.Thread, "native_id"), reason="needs thread ids")
def test_an_idle_writer_sleeps(writer: LogWriter[int, list[int]], database: Database) -> None:
    writer.submit(1)
    assert writer.flush(5)
    native_id = writer._thread.native_id
    assert native_id is not None
    before = _thread_cpu_seconds(native_id)
    time.sleep(0.5)
    assert _thread_cpu_seconds(native_id) - before < 0.02  # asleep, neither spinning nor polling
