"""The log writer: one thread draining a bounded queue into batched transactions (backend-neutral).

The request path calls :meth:`LogWriter.submit`, a ``put_nowait``: a full queue drops the record and
counts it, it never waits. The thread takes up to ``batch_size`` records at a time, turns them into
what the database takes (``render``: rows with their bodies redacted and cut into pieces, the rollup
deltas) and hands that to the backend's ``write_batch`` (rows and rollups in one transaction).

Rendering and writing in one thread, one after the other: a render thread beside the writer was
measured (bench/README.md) and gained nothing, since rendering holds the GIL and the database's
GIL-free part is small, while the two threads' hand-overs cost CPU.

A failing database (locked, full, read-only, corrupt) drops that batch, counts it, warns once per
kind of problem and keeps going; the first batch that succeeds again clears the problem. A batch
that cannot be rendered is dropped and counted the same way. Between batches, and whenever the queue
is idle, the backend's ``maintain`` step runs (retention and the size cap, in small chunks).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
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


class LogWriter(Generic[Item, Rendered]):
    def __init__(
        self,
        render: Callable[[Sequence[Item]], Rendered],
        write_batch: Callable[[Rendered], None],
        *,
        maintain: Callable[[], None] | None = None,
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
        #: None is the wake-up call of close()
        self._queue: queue.Queue[Item | None] = queue.Queue(queue_size)
        self._batch_size = batch_size
        self._stop = threading.Event()
        #: set by flush() and close(): write what is queued now, do not linger
        self._hurry = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self.submitted = 0
        #: records written, or given up (dropped) by the thread: flush waits for this
        self.handled = 0
        self.written = 0
        self.dropped = 0
        self.problem: str | None = None
        self._warned: set[str] = set()

    # -- the request path --------------------------------------------------------------------
    def submit(self, item: Item) -> bool:
        """Queue ``item``; False when the queue was full and it was dropped (and counted)."""
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            self._warn_once("queue_full", "request log queue is full: dropping rows (the database is too slow)")
            return False
        with self._lock:
            self.submitted += 1
        return True

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        with self._done:
            target = self.submitted
            self._hurry.set()
            return self._done.wait_for(lambda: self.handled >= target, timeout)

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._hurry.set()
        with contextlib.suppress(queue.Full):  # full: the thread is busy and sees the stop soon
            self._queue.put_nowait(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the thread --------------------------------------------------------------------------
    def _take(self) -> list[Item]:
        try:
            first = self._queue.get(timeout=self._idle)
        except queue.Empty:
            return []
        batch = [] if first is None else [first]
        if first is not None and self._queue.qsize() < self._batch_size and not self._stop.is_set():
            # Group commit: a short wait lets a trickle of requests share one transaction. One
            # commit per request cost over 1 ms of CPU per request at c=1 (bench/log_overhead.py).
            self._hurry.wait(LINGER_SECONDS)
            self._hurry.clear()
        while len(batch) < self._batch_size:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batch.append(item)
        return batch

    def _run(self) -> None:
        last_maintenance = 0.0
        while not (self._stop.is_set() and self._queue.empty()):
            batch = self._take()
            if batch:
                self._handle(batch)
            now = time.monotonic()
            if self._maintain is not None and (not batch or now - last_maintenance > self._idle):
                last_maintenance = now
                try:
                    self._maintain()
                except Exception as exc:  # maintenance failing must not stop the writing
                    self._warn_once(f"maintain:{type(exc).__name__}", f"request log maintenance failed: {exc}")

    def _handle(self, batch: list[Item]) -> None:
        try:
            rendered = self._render(batch)
        except Exception as exc:  # a record that cannot be rendered must not stop the log
            self._given_up(len(batch), f"render:{type(exc).__name__}", f"request log: cannot render rows: {exc}")
            return
        self._write(rendered, len(batch))

    def _write(self, rendered: Rendered, size: int) -> None:
        try:
            self._write_batch(rendered)
        except Exception as exc:  # any database failure: drop, count, warn once, keep proxying
            problem = self._describe(exc)
            with self._done:  # before the rows count as handled: flush() returns with the state set
                self.problem = problem
            self._given_up(size, problem, f"request log: {problem}; dropping rows until it clears")
            return
        with self._done:
            self.written += size
            self.handled += size
            recovered = self.problem
            self.problem = None
            self._done.notify_all()
        if recovered is not None:
            self._warned.discard(recovered)
            log.warning("request log: recovered from %r; %d rows were dropped so far", recovered, self.dropped)

    def _given_up(self, size: int, key: str, message: str) -> None:
        with self._done:
            self.dropped += size
            self.handled += size
            self._done.notify_all()
        self._warn_once(key, message)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("%s", message)
