"""The log writer's two threads: rendering overlaps the database's work, which stays in order.

Driven with plain functions for ``render``/``write_batch``/``maintain``, so each property is seen
directly: which thread ran what, in which order, and what a slow database does to the queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from mimo2codex.store import writer as writer_module
from mimo2codex.store.writer import LogWriter

WAIT = 5.0


class Recorder:
    """render/write/maintain functions that note the thread and order of every call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, tuple[int, ...]]] = []
        #: writes wait for this (a slow or stuck database)
        self.database_free = threading.Event()
        self.database_free.set()
        self.rendering = threading.Event()

    def render(self, items: Sequence[int]) -> tuple[int, ...]:
        self.rendering.set()
        with self.lock:
            self.calls.append(("render", threading.current_thread().name, tuple(items)))
        return tuple(items)

    def write(self, rendered: tuple[int, ...]) -> None:
        assert self.database_free.wait(WAIT), "the test never let the database go"
        with self.lock:
            self.calls.append(("write", threading.current_thread().name, rendered))

    def maintain(self) -> None:
        with self.lock:
            self.calls.append(("maintain", threading.current_thread().name, ()))

    def of(self, kind: str) -> list[tuple[str, str, tuple[int, ...]]]:
        with self.lock:
            return [call for call in self.calls if call[0] == kind]


def make_writer(recorder: Recorder, **options: object) -> LogWriter[int, tuple[int, ...]]:
    writer: LogWriter[int, tuple[int, ...]] = LogWriter(
        recorder.render,
        recorder.write,
        maintain=recorder.maintain,
        name="test-log-writer",
        **options,  # type: ignore[arg-type]
    )
    writer.start()
    return writer


def test_the_next_batch_renders_while_the_database_writes_the_last() -> None:
    recorder = Recorder()
    writer = make_writer(recorder, batch_size=10)
    try:
        recorder.database_free.clear()
        for i in range(10):
            writer.submit(i)
        deadline = time.monotonic() + WAIT
        while not recorder.of("render") and time.monotonic() < deadline:
            time.sleep(0.01)
        recorder.rendering.clear()
        for i in range(10, 20):
            writer.submit(i)
        # The first batch's write is stuck in the database thread; the second renders all the same.
        assert recorder.rendering.wait(WAIT), "rendering waited for the database"
        assert recorder.of("write") == []
        recorder.database_free.set()
        assert writer.flush(WAIT)
    finally:
        writer.close(WAIT)
    writes = recorder.of("write")
    assert [item for _, _, batch in writes for item in batch] == list(range(20))
    assert {thread for _, thread, _ in writes} == {"test-log-writer-db"}
    assert {thread for _, thread, _ in recorder.of("render")} == {"test-log-writer"}
    assert (writer.written, writer.dropped) == (20, 0)


def test_maintenance_runs_in_the_database_thread_between_writes() -> None:
    recorder = Recorder()
    writer = make_writer(recorder, batch_size=5, idle_seconds=0.02)
    try:
        for i in range(12):
            writer.submit(i)
        assert writer.flush(WAIT)
        deadline = time.monotonic() + WAIT
        while not recorder.of("maintain") and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        writer.close(WAIT)
    maintained = recorder.of("maintain")
    assert maintained, "maintenance never ran"
    assert {thread for _, thread, _ in maintained} == {"test-log-writer-db"}


def test_a_stuck_database_fills_the_queue_and_drops_are_counted() -> None:
    recorder = Recorder()
    writer = make_writer(recorder, batch_size=4, queue_size=8, idle_seconds=0.02)
    try:
        recorder.database_free.clear()
        maintained = len(recorder.of("maintain"))  # an idle tick may have run one before the load
        submitted = [writer.submit(i) for i in range(100)]
        # Rendered batches waiting for the database are bounded: the rest stays queued or is dropped.
        time.sleep(0.3)
        rendered = sum(len(batch) for _, _, batch in recorder.of("render"))
        assert rendered <= 4 * (writer_module.RENDERED_AHEAD + 2)
        # Nothing reaches the stuck database thread meanwhile, maintenance included (at most one step
        # queued before the first write).
        assert len(recorder.of("maintain")) - maintained <= 1
        recorder.database_free.set()
        assert writer.flush(WAIT)
    finally:
        writer.close(WAIT)
    assert writer.dropped == submitted.count(False) > 0
    assert writer.written + writer.dropped == 100
    written = [item for _, _, batch in recorder.of("write") for item in batch]
    assert written == sorted(written)
    assert len(recorder.of("maintain")) < 20


def test_close_writes_everything_submitted_before_it() -> None:
    recorder = Recorder()
    writer = make_writer(recorder, batch_size=3)
    for i in range(50):
        writer.submit(i)
    writer.close(WAIT)
    assert [item for _, _, batch in recorder.of("write") for item in batch] == list(range(50))
    assert (writer.written, writer.dropped) == (50, 0)
