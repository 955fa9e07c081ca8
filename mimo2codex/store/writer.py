"""The log writer: two threads draining a bounded queue into batched transactions (backend-neutral).

The request path calls :meth:`LogWriter.submit`, an append to a deque: a full queue drops the record
and counts it, it never waits. No lock, no condition and no wake-up per record: the thread is woken
by the first record after it went to sleep (one ``Event.set`` per batch, not per request) and then
lingers for the batch's other records; ``flush()`` and ``close()`` queue a mark it answers. The
thread takes up to ``batch_size`` records at a time and turns them into what the database takes
(``render``: rows with their bodies redacted and cut into pieces, the rollup deltas).

A second thread (``<name>-db``) owns the database: it runs, in the order they were asked for, the
backend's ``write_batch`` of each rendered batch (rows and rollups in one transaction), the
maintenance steps and the answers to ``flush()``'s marks. So a batch renders while the one before it
is written: sqlite3 and psycopg give up the GIL while the database works (the statements' steps, the
commit's I/O and the checkpoint's fsync), and a batch is a handful of statements, so the two threads
seldom wait for each other. At most :data:`RENDERED_AHEAD` rendered batches wait for the database;
past that, rendering waits, the queue fills and records are dropped and counted.

A failing database (locked, full, read-only, corrupt) drops that batch, counts it, warns once per
kind of problem and keeps going; the first batch that succeeds again clears the problem. A batch
that cannot be rendered is dropped and counted the same way. Between batches, and whenever the queue
is idle, the backend's ``maintain`` step runs (retention and the size cap, in small chunks), every
``idle_seconds`` while rows arrive. Once a step finds nothing to do and no row came since, the
interval doubles, up to :data:`MAINTENANCE_BACKOFF` times ``idle_seconds``: an idle gateway (or one
with the log off, which still keeps stored responses and old rows) does not query its database every
second. A batch, or a step that did something or failed, brings it back to ``idle_seconds``.

Each thread's CPU time is counted (``render_seconds``, ``database_seconds``), for ``/metrics``: how
busy the writer is before its queue fills.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

#: what the queue carries: request records, and whatever else a backend writes off the request path
Item = TypeVar("Item")
#: a batch as rendered for the database
Rendered = TypeVar("Rendered")

log = logging.getLogger("mimo2codex.store")

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_BATCH = 500
#: how often an idle writer runs maintenance (and retries a database that failed)
IDLE_SECONDS = 1.0
#: how long the writer waits for more rows after the first of a batch (group commit). Every batch
#: costs the event loop a few GIL hand-overs (each SQLite call releases it and takes it back), so
#: fewer, larger batches are what keep the log's CPU per request low under load: 50 ms here cost
#: ~0.1 ms per request at 64 concurrent requests, 250 ms about a fifth of that (bench/log_overhead.py).
#: Well inside the 1 s a finished request may take to reach the database; flush() cuts it short.
LINGER_SECONDS = 0.25
#: rendered batches (or other jobs) that may wait for the database thread
RENDERED_AHEAD = 2
#: how far maintenance backs off on an idle writer, in ``idle_seconds`` (a minute by default)
MAINTENANCE_BACKOFF = 60


class _Mark:
    """Queued by flush(): the thread answers it once every record queued before it is handled."""

    __slots__ = ("reached",)

    def __init__(self) -> None:
        self.reached = threading.Event()


class LogWriter(Generic[Item, Rendered]):
    def __init__(
        self,
        render: Callable[[Sequence[Item]], Rendered],
        write_batch: Callable[[Rendered], None],
        *,
        maintain: Callable[[], bool] | None = None,
        describe_error: Callable[[BaseException], str] = str,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        batch_size: int = DEFAULT_BATCH,
        idle_seconds: float = IDLE_SECONDS,
        name: str = "mimo2codex-log-writer",
    ) -> None:
        self._idle = idle_seconds
        self._render = render
        self._write_batch = write_batch
        self._maintain = maintain
        self._describe = describe_error
        # A deque, not a queue.Queue: its append is one C call under the GIL, where Queue.put_nowait
        # is ~15 Python calls, a lock and a condition's notify on the event loop per request.
        self._items: deque[Item | _Mark] = deque()
        self._capacity = queue_size
        self._batch_size = batch_size
        #: set by the first submit() after the thread cleared it: the thread's only wake-up call
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: set by flush() and close(): write what is queued now, do not linger
        self._hurry = threading.Event()
        self._flushes = 0  # flush() calls waiting (under _lock): no lingering meanwhile
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        #: the database thread's work in order (writes, maintenance, flush marks); None ends it
        self._jobs: queue.Queue[Callable[[], object] | None] = queue.Queue(RENDERED_AHEAD)
        self._db_thread = threading.Thread(target=self._db_run, name=f"{name}-db", daemon=True)
        #: a maintenance step waits in _jobs: one at a time, a slow database must not queue many
        self._maintenance_queued = threading.Event()
        #: seconds between maintenance steps: idle_seconds, doubled while there is nothing to do
        self._maintenance_every = idle_seconds
        self._lock = threading.Lock()
        #: CPU seconds spent rendering (render thread) and in the database (writes, maintenance)
        self.render_seconds = 0.0
        self.database_seconds = 0.0
        self.written = 0
        self.dropped = 0
        self.problem: str | None = None
        self._warned: set[str] = set()

    # -- the request path --------------------------------------------------------------------
    def submit(self, item: Item) -> bool:
        """Queue ``item``; False when the queue was full and it was dropped (and counted)."""
        items = self._items
        if len(items) >= self._capacity:
            with self._lock:
                self.dropped += 1
            self._warn_once("queue_full", "request log queue is full: dropping rows (the database is too slow)")
            return False
        items.append(item)
        # The thread clears _wake before it looks at the queue and sleeps only on an empty one, so a
        # record appended after that look finds the event clear and sets it: no wake-up is lost,
        # whichever threads submit, and only the first record of a batch pays for one.
        if not self._wake.is_set():
            self._wake.set()
        return True

    @property
    def depth(self) -> int:
        return len(self._items)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._db_thread.start()
        self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every record submitted before this call is handled; True when it was in time."""
        if not self._thread.is_alive():
            return not any(not isinstance(item, _Mark) for item in list(self._items))
        mark = _Mark()
        with self._lock:
            self._flushes += 1
        try:
            self._items.append(mark)
            self._hurry.set()
            self._wake.set()
            return mark.reached.wait(timeout)
        finally:
            with self._lock:
                self._flushes -= 1

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._hurry.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in (self._thread, self._db_thread):  # the render thread ends the database thread
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    # -- the thread --------------------------------------------------------------------------
    def _lingers(self) -> bool:
        return len(self._items) < self._batch_size and not self._flushes and not self._stop.is_set()

    def _take(self) -> tuple[list[Item], list[_Mark]]:
        items = self._items
        self._wake.clear()  # before looking: a record appended after the look sets it again
        if not items:
            self._wake.wait(self._idle)
            if not items:
                return [], []
        if self._lingers():
            # Group commit: a short wait lets a trickle of requests share one transaction. One
            # commit per request cost over 1 ms of CPU per request at c=1 (bench/log_overhead.py).
            self._hurry.wait(LINGER_SECONDS)
            self._hurry.clear()
        batch: list[Item] = []
        marks: list[_Mark] = []
        while len(batch) < self._batch_size:
            try:
                item = items.popleft()
            except IndexError:
                break
            if isinstance(item, _Mark):
                marks.append(item)
            else:
                batch.append(item)
        return batch, marks

    def _run(self) -> None:
        last_maintenance = 0.0
        while not (self._stop.is_set() and not self._items):
            batch, marks = self._take()
            if batch:
                self._handle(batch)
            for mark in marks:  # answered after the writes before it, in the database thread
                self._jobs.put(mark.reached.set)
            now = time.monotonic()
            if self._maintain is not None and now - last_maintenance >= self._maintenance_every:
                last_maintenance = now
                if not self._maintenance_queued.is_set():
                    self._maintenance_queued.set()
                    self._jobs.put(self._maintain_step)
        for item in list(self._items):  # close() timed out on a stuck database: release its waiters
            if isinstance(item, _Mark):
                item.reached.set()
        self._jobs.put(None)

    def _db_run(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def _maintain_step(self) -> None:
        assert self._maintain is not None
        self._maintenance_queued.clear()
        started = time.thread_time()
        try:
            busy = self._maintain()
        except Exception as exc:  # maintenance failing must not stop the writing
            busy = True  # retried every idle_seconds, like a failing database
            self._warn_once(f"maintain:{type(exc).__name__}", f"request log maintenance failed: {exc}")
        finally:
            self.database_seconds += time.thread_time() - started
        every = self._idle if busy else min(self._maintenance_every * 2, self._idle * MAINTENANCE_BACKOFF)
        self._maintenance_every = every

    def _handle(self, batch: list[Item]) -> None:
        started = time.thread_time()
        try:
            rendered = self._render(batch)
        except Exception as exc:  # a record that cannot be rendered must not stop the log
            self._given_up(len(batch), f"render:{type(exc).__name__}", f"request log: cannot render rows: {exc}")
            return
        finally:
            self.render_seconds += time.thread_time() - started
        self._jobs.put(functools.partial(self._write, rendered, len(batch)))

    def _write(self, rendered: Rendered, size: int) -> None:
        self._maintenance_every = self._idle  # new rows: the size cap may be reached again
        started = time.thread_time()
        try:
            self._write_batch(rendered)
        except Exception as exc:  # any database failure: drop, count, warn once, keep proxying
            problem = self._describe(exc)
            with self._lock:
                self.problem = problem
            self._given_up(size, problem, f"request log: {problem}; dropping rows until it clears")
            return
        finally:
            self.database_seconds += time.thread_time() - started
        with self._lock:
            self.written += size
            recovered = self.problem
            self.problem = None
        if recovered is not None:
            self._warned.discard(recovered)
            log.warning("request log: recovered from %r; %d rows were dropped so far", recovered, self.dropped)

    def _given_up(self, size: int, key: str, message: str) -> None:
        with self._lock:
            self.dropped += size
        self._warn_once(key, message)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", message)
