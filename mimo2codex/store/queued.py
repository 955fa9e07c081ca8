"""What both backends share around the log writer: its options, the request path, the state.

A backend (:mod:`mimo2codex.store.sqlite`, :mod:`mimo2codex.store.postgres`) brings its database:
``_write_batch`` (one rendered batch in one transaction), ``_maintain`` (retention and the size cap
in small chunks), how to name a database error, and the stored-response reads. Everything the
request path touches is here, the same for both: :meth:`QueuedStore.submit` only enqueues.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from mimo2codex.request_log import RequestRecord
from mimo2codex.store import batch, bodies
from mimo2codex.store.base import Store, StoredResponse, StoreState, StoreStatus, release_unwanted_bodies
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.pending import PENDING_RESPONSES, PendingResponses
from mimo2codex.store.writer import LogWriter


class QueuedStore(Store):
    #: the database path, or the URL with its password masked (health, logs, the admin)
    location: str
    #: why the database could not be opened at start (reported until a batch gets through)
    _open_problem: str | None = None
    _opened = False

    def _set_up_writer(
        self,
        *,
        policy: CapturePolicy | None,
        instance: str,
        log_enabled: bool,
        retention_days: int,
        max_mb: int,
        clock: Callable[[], float],
        queue_size: int | None,
        batch_size: int | None,
        maintenance_seconds: float | None,
        describe_error: Callable[[BaseException], str],
    ) -> None:
        self.policy = policy or CapturePolicy()
        self.instance = instance or f"{os.uname().nodename}:{os.getpid()}"
        self.log_enabled = log_enabled
        self.retention_days = retention_days
        self.max_mb = max_mb
        self.clock = clock
        options: dict[str, Any] = {}
        if queue_size is not None:
            options["queue_size"] = queue_size
        if batch_size is not None:
            options["batch_size"] = batch_size
        if maintenance_seconds is not None:
            options["idle_seconds"] = maintenance_seconds
        self._writer: LogWriter[batch.QueueItem, batch.Batch] = LogWriter(
            self._render, self._write_batch, maintain=self._maintain, describe_error=describe_error, **options
        )
        #: stored responses on their way to the database (readable at once, deleted in order)
        self._responses = PendingResponses(PENDING_RESPONSES)
        #: body pieces this writer wrote (see mimo2codex.store.bodies)
        self._pieces = bodies.PieceLedger()

    # -- provided by the backend -------------------------------------------------------------
    def _write_batch(self, rendered: batch.Batch) -> None:
        raise NotImplementedError

    def _maintain(self) -> bool:
        """A maintenance step; True when it changed something (the writer backs off when not)."""
        raise NotImplementedError

    def _stored_response(self, response_id: str) -> StoredResponse | None:
        raise NotImplementedError

    def _delete_stored_response(self, response_id: str) -> bool:
        raise NotImplementedError

    # -- the writer's render thread ----------------------------------------------------------
    def _render(self, items: Sequence[batch.QueueItem]) -> batch.Batch:
        return batch.render(items, self.policy, self.instance)

    # -- the request path --------------------------------------------------------------------
    def submit(self, record: RequestRecord) -> None:
        if self.log_enabled:
            release_unwanted_bodies(record, self.policy)
            self._writer.submit(record)

    def flush(self, timeout: float = 5.0) -> bool:
        return self._writer.flush(timeout)

    def state(self) -> StoreState:
        writer = self._writer
        problem = writer.problem or (self._open_problem if writer.written == 0 else None)
        status: StoreStatus = "disabled" if not self.log_enabled else "degraded" if problem else "ok"
        return StoreState(
            backend=self.backend,
            status=status,
            location=self.location,
            queue_depth=writer.depth,
            dropped=writer.dropped,
            written=writer.written,
            problem=problem,
            render_seconds=writer.render_seconds,
            database_seconds=writer.database_seconds,
        )

    # -- stored responses: written by the writer thread, so a slow database never delays a turn --
    def _clock_ms(self) -> int:
        return int(self.clock() * 1000)

    def put_response(self, stored: StoredResponse) -> None:
        self._responses.put(stored, self._clock_ms(), self._writer.submit)

    def get_response(self, response_id: str) -> StoredResponse | None:
        return self._responses.get(response_id, self._clock_ms(), self._stored_response)

    def delete_response(self, response_id: str) -> bool:
        return self._responses.delete(response_id, self._writer.submit, self._delete_stored_response)
