"""Stored responses on their way to the database, shared by both backends.

``store: true`` must not wait for a database write (the request path only enqueues), yet the next
request's ``previous_response_id`` and a ``GET /v1/responses/{id}`` right after the stream must find
the response. So a put is kept here until the writer has committed it. A delete of a response that
is still on its way is queued *behind* its put (:class:`ResponseDeletion`), and the id is hidden
until the writer has applied the delete: a deleted response never comes back, whatever the timing.

>>> pending = PendingResponses()
>>> pending.add(StoredResponse("resp_1", {}, []))
>>> pending.lookup("resp_1") is not None, pending.take("resp_1"), pending.lookup("resp_1")
(True, True, None)
>>> pending.hidden("resp_1")
True
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from mimo2codex.store.base import StoredResponse

#: responses kept while the database cannot take them; past this the oldest is forgotten
PENDING_RESPONSES = 10_000


@dataclass(frozen=True, slots=True)
class ResponseDeletion:
    """A delete the writer applies after every put queued before it."""

    id: str


class PendingResponses:
    def __init__(self, limit: int = PENDING_RESPONSES) -> None:
        self._limit = limit
        self._items: dict[str, StoredResponse] = {}
        #: ids deleted while their put was queued: hidden until the writer applied the delete
        self._deleted: set[str] = set()
        self._lock = threading.Lock()

    def add(self, stored: StoredResponse) -> None:
        with self._lock:
            if len(self._items) >= self._limit:  # the database is failing: forget the oldest
                self._items.pop(next(iter(self._items)))
            self._items[stored.id] = stored

    def lookup(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            return self._items.get(response_id)

    def hidden(self, response_id: str) -> bool:
        """True while a delete of this id waits for the writer (the database may still hold it)."""
        with self._lock:
            return response_id in self._deleted

    def take(self, response_id: str) -> bool:
        """Remove a response not yet written; True when there was one (queue a :class:`ResponseDeletion`)."""
        with self._lock:
            if self._items.pop(response_id, None) is None:
                return False
            self._deleted.add(response_id)
            return True

    def settle(self, written: Iterable[StoredResponse], deleted: Iterable[ResponseDeletion]) -> None:
        """After the writer's commit: what it wrote and deleted is the database's now."""
        with self._lock:
            for stored in written:
                if self._items.get(stored.id) is stored:
                    del self._items[stored.id]
            for deletion in deleted:
                self._deleted.discard(deletion.id)

    # -- the Store methods of both backends, given the backend's own database steps ----------------
    def put(self, stored: StoredResponse, now_ms: int, submit: Callable[[StoredResponse], object]) -> None:
        """Queue ``stored`` for the writer; this process finds it at once (the database a moment later)."""
        if not stored.created_ms:
            stored.created_ms = now_ms
        self.add(stored)
        submit(stored)

    def get(self, response_id: str, now_ms: int, read: Callable[[str], StoredResponse | None]) -> StoredResponse | None:
        if self.hidden(response_id):
            return None
        stored = self.lookup(response_id)
        if stored is not None:
            return None if 0 < stored.expires_ms <= now_ms else stored
        return read(response_id)

    def delete(
        self, response_id: str, submit: Callable[[ResponseDeletion], object], remove: Callable[[str], bool]
    ) -> bool:
        if self.take(response_id):
            # Its put may be in the writer's open transaction: the delete goes in line behind it.
            submit(ResponseDeletion(response_id))
            remove(response_id)
            return True
        return remove(response_id)


# -- the stored_responses row, the same in both backends -----------------------------------------------


def response_values(stored: StoredResponse, scrub: Callable[[Any], str], now_ms: int) -> tuple[Any, ...]:
    """The row of ``stored`` (id, response, input_items, history, created_ms, expires_ms), keys scrubbed."""
    return (
        stored.id,
        scrub(stored.response),
        scrub(stored.input_items),
        scrub(stored.history),
        stored.created_ms or now_ms,
        stored.expires_ms,
    )


def response_from_row(row: Mapping[str, Any], now_ms: int) -> StoredResponse | None:
    """A stored_responses row back as a :class:`StoredResponse`; None once it has expired."""
    if row["expires_ms"] and row["expires_ms"] <= now_ms:
        return None
    return StoredResponse(
        id=row["id"],
        response=orjson.loads(row["response"]),
        input_items=orjson.loads(row["input_items"]),
        history=orjson.loads(row["history"]),
        created_ms=row["created_ms"],
        expires_ms=row["expires_ms"],
    )
