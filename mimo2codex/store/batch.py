"""A batch of queued items rendered for the database (the log writer's first step; pure).

The writer's queue carries request records, stored responses and their deletions in the order they
happened. Rendering turns the records into rows (bodies redacted and cut into pieces, see
:mod:`mimo2codex.store.row`) and folds them into each rollup level's deltas, all before the
transaction begins, so a batch holds the database's write lock only for the writing itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mimo2codex.request_log import RequestRecord
from mimo2codex.store import levels, rollup
from mimo2codex.store.base import StoredResponse
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.pending import ResponseDeletion
from mimo2codex.store.row import record_to_row

#: what a store's writer queue carries
QueueItem = RequestRecord | StoredResponse | ResponseDeletion


@dataclass(frozen=True, slots=True)
class Batch:
    rows: list[dict[str, Any]]
    #: per rollup level, the rows folded per key
    deltas: dict[levels.Level, dict[rollup.RollupKey, rollup.Rollup]]
    responses: list[StoredResponse]
    #: applied after the responses: a response deleted while queued never comes back
    deletions: list[ResponseDeletion]


def render(items: Sequence[QueueItem], policy: CapturePolicy, instance: str) -> Batch:
    rows = [record_to_row(item, policy, instance) for item in items if isinstance(item, RequestRecord)]
    return Batch(
        rows=rows,
        deltas=levels.fold_levels(rows) if rows else {},
        responses=[item for item in items if isinstance(item, StoredResponse)],
        deletions=[item for item in items if isinstance(item, ResponseDeletion)],
    )
