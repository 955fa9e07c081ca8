"""The request-log store interface: one contract, two backends (SQLite by default, PostgreSQL).

The request path only calls :meth:`Store.submit`, which enqueues and never blocks; a dedicated
writer drains the queue in batched transactions and keeps the rollups in the same transaction.
Every other method is a blocking read or admin action, called from a worker thread
(``starlette.concurrency.run_in_threadpool``) or the CLI, never on the event loop itself.

Backends: :mod:`mimo2codex.store.sqlite` and :mod:`mimo2codex.store.postgres`; pick one with
:func:`mimo2codex.store.open_store` from the settings (``--database-url``).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mimo2codex.request_log import RequestRecord
from mimo2codex.store.capture import CapturePolicy

StoreStatus = Literal["ok", "degraded", "disabled"]
Bucket = Literal["hour", "day"]


def release_unwanted_bodies(record: RequestRecord, policy: CapturePolicy) -> None:
    """Drop the body references of a finished request whose bodies ``policy`` will not store.

    The request path keeps them until it knows how the request ended (``errors-only`` wants only the
    failed ones); once it has ended, a success's bodies are let go here, as with the log off, instead
    of living on in the queue until the writer discards them (a Codex request is ~45 KB).
    """
    if (record.request_body is not None or record.response_body is not None) and not policy.wants(record):
        record.request_body = record.response_body = None


@dataclass(frozen=True, slots=True)
class StoreState:
    """What health, ``/metrics`` and the admin report about the log itself."""

    backend: str
    #: ok | degraded (locked, full, read-only, corrupt: rows are being dropped) | disabled
    status: StoreStatus
    #: the database path, or the URL with its password masked
    location: str
    queue_depth: int = 0
    #: rows (and stored responses) dropped since start (full queue or failing database); never silently
    dropped: int = 0
    written: int = 0
    #: the last problem, e.g. "database is locked"
    problem: str | None = None
    #: CPU seconds the writer spent since start rendering rows, and in the database (writes and
    #: maintenance): how busy it is before its queue fills
    render_seconds: float = 0.0
    database_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Filters of the logs list, its export and ``mimo2codex logs``; every field optional."""

    provider: str | None = None
    #: client or upstream model
    model: str | None = None
    #: "2xx" | "4xx" | "5xx" | "error" (status >= 400 or an error code)
    status_class: str | None = None
    error_code: str | None = None
    endpoint: str | None = None
    stream: bool | None = None
    #: ms since the epoch, inclusive / exclusive
    since_ms: int | None = None
    until_ms: int | None = None
    #: keyset paging: rows with id < before_id (newest first) / id > after_id (tail, oldest first)
    before_id: int | None = None
    after_id: int | None = None
    limit: int = 50


@dataclass(frozen=True, slots=True)
class LogPage:
    rows: list[dict[str, Any]]
    #: the ``before_id`` of the next page, None at the end
    next_before_id: int | None
    #: exact count of the filtered set when it was cheap to know, else None (never a fake total)
    total: int | None = None


@dataclass(slots=True)
class StoredResponse:
    """A Responses object kept for ``store: true`` (``previous_response_id``, GET/DELETE by id)."""

    id: str
    response: dict[str, Any]
    #: the input items of the request, as the Responses API lists them (``input_items``)
    input_items: list[dict[str, Any]]
    #: the conversation the next ``previous_response_id`` continues: earlier input + output
    history: list[dict[str, Any]] = field(default_factory=list)
    created_ms: int = 0
    expires_ms: int = 0


class Store(abc.ABC):
    backend: str
    #: the body policy the writer applies; the admin may replace it while the store runs, and the
    #: request path reads it to decide whether to keep body references at all
    policy: CapturePolicy
    #: False with ``--no-request-log``: submit() drops nothing and writes nothing
    log_enabled: bool = True

    # -- lifecycle ---------------------------------------------------------------------------
    @abc.abstractmethod
    def open(self) -> None:
        """Apply migrations and start the writer. A database that cannot be opened degrades, never raises."""

    @abc.abstractmethod
    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued (up to ``timeout``) and stop the writer."""

    # -- the request path --------------------------------------------------------------------
    @abc.abstractmethod
    def submit(self, record: RequestRecord) -> None:
        """Enqueue one finished request. Never blocks, never raises; a full queue drops and counts."""

    @abc.abstractmethod
    def state(self) -> StoreState: ...

    @abc.abstractmethod
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is written (tests, shutdown). True when drained."""

    # -- the log -----------------------------------------------------------------------------
    @abc.abstractmethod
    def logs(self, query: LogQuery) -> LogPage: ...

    @abc.abstractmethod
    def log(self, log_id: int) -> dict[str, Any] | None:
        """One row with its bodies."""

    @abc.abstractmethod
    def delete_logs(self, before_ms: int) -> int:
        """Delete rows older than ``before_ms``; returns how many."""

    # -- rollups (never a scan of the raw log) -----------------------------------------------
    @abc.abstractmethod
    def stats(self, since_ms: int, until_ms: int) -> dict[str, Any]:
        """Totals over an exact window: requests, errors by code, tokens (cached, reasoning),
        latency and TTFT p50/p95/p99, and the same per provider / client model / upstream model."""

    @abc.abstractmethod
    def timeseries(self, since_ms: int, until_ms: int, bucket: Bucket) -> list[dict[str, Any]]: ...

    # -- models, aliases, settings (shared by every instance on one database) ----------------
    @abc.abstractmethod
    def models(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def put_model(self, model: Mapping[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def delete_model(self, model_id: str) -> bool: ...

    @abc.abstractmethod
    def aliases(self) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def put_alias(self, alias: str, provider_id: str, upstream_model: str) -> dict[str, Any]: ...

    @abc.abstractmethod
    def delete_alias(self, alias: str) -> bool: ...

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def put_setting(self, key: str, value: Any) -> None: ...

    @abc.abstractmethod
    def delete_setting(self, key: str) -> bool: ...

    # -- stored responses (store: true) ------------------------------------------------------
    @abc.abstractmethod
    def put_response(self, stored: StoredResponse) -> None: ...

    @abc.abstractmethod
    def get_response(self, response_id: str) -> StoredResponse | None:
        """None when unknown or expired."""

    @abc.abstractmethod
    def delete_response(self, response_id: str) -> bool: ...

    # -- maintenance -------------------------------------------------------------------------
    @abc.abstractmethod
    def db_stats(self) -> dict[str, Any]:
        """Rows, size on disk, oldest/newest ts, migrations applied."""

    @abc.abstractmethod
    def vacuum(self) -> dict[str, Any]:
        """Reclaim space; checks free disk first and refuses with a clear message when short."""

    def tail(self, query: LogQuery) -> Sequence[dict[str, Any]]:
        """Rows with id > ``query.after_id``, oldest first: ``mimo2codex logs -f`` polls this."""
        raise NotImplementedError
