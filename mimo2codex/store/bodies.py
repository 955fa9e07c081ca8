"""Captured bodies kept as shared pieces: a Codex session's bytes are stored once, not every turn.

Every Codex request carries the same instructions, the same tools and the whole conversation so
far, so a session of 30 turns used to store the same ~40 KB (and growing) 30 times: with full
capture, 4.3 GB per 100k requests, and the writer's time went into writing those bytes again.

A body the capture policy keeps is rendered as the redaction cache's pieces
(:meth:`~mimo2codex.store.capture.CapturePolicy.render_pieces`: cut at JSON item boundaries,
redacted, capped). A body of one piece (small bodies, most responses, error bodies) is stored whole
in ``request_body``/``response_body`` as before. A longer one is stored as a manifest, the pieces'
16-byte digests in order (``request_pieces``/``response_pieces``), and each piece once in
``body_pieces`` (digest, text, ``ts``). Reading a row's detail joins them back: the same text.

Pruning without reference counts. ``body_pieces.ts`` is kept at most :data:`TOUCH_MS` (10 minutes)
older than every row that refers to the piece: a piece the writer has not written (or touched) that
recently for the row it now serves is upserted again, which inserts it or moves its ``ts`` up (the
:class:`PieceLedger` remembers what this writer wrote, so the pieces in use cost one upsert per ten
minutes). Then, once the oldest row left is at ``t``, no row refers to a piece with
``ts < t - TOUCH_MS``, and those go in small chunks after the rows (retention, the size cap, ``db
prune``); with no row left, every piece untouched for ``TOUCH_MS``. After a prune the ledger is
emptied, so the next batch upserts every piece it needs again. A row could only lose a piece to
another writer's prune (``--workers``, instances sharing PostgreSQL) when a size cap deletes rows
newer than the one being written: it then reads with a marker where the piece was, never with
another's text.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from mimo2codex.store.redaction_cache import Piece, digests_of

DIGEST_BYTES = 16
#: how far a piece's ``ts`` may lag behind the rows that refer to it (see the module's docstring)
TOUCH_MS = 10 * 60_000
#: pieces the ledger remembers as written (digest and time: ~100 bytes each)
LEDGER_SIZE = 200_000
#: the row key holding a row's new pieces on their way from record_to_row to the writer (not a column)
PIECES = "_pieces"
MISSING = "…[piece no longer stored]…"


def columns(pieces: list[Piece] | None) -> tuple[str | None, bytes | None]:
    """A rendered body as its two columns: the whole text, or the manifest of its pieces."""
    if pieces is None:
        return None, None
    if len(pieces) == 1:
        return pieces[0].text, None
    return None, b"".join(digests_of(pieces))


def digests(manifest: bytes) -> list[bytes]:
    return [manifest[at : at + DIGEST_BYTES] for at in range(0, len(manifest), DIGEST_BYTES)]


def assemble(manifest: bytes, found: Mapping[bytes, str]) -> str:
    """A body's text from its manifest and the pieces read (a missing one leaves a marker)."""
    return "".join(found.get(digest, MISSING) for digest in digests(manifest))


#: ledger epochs, unique in the process; a piece's mark is ``epoch << EPOCH_SHIFT | ts``
_EPOCHS = itertools.count(1)
#: a ``ts`` in ms stays below 2**48 until the year 10889
EPOCH_SHIFT = 48


class PieceLedger:
    """The pieces this writer wrote (or touched), with the ``ts`` it gave them: bounded, LRU.

    A piece this ledger upserts, or finds written, is also marked (:attr:`Piece.written`, an int:
    this ledger's epoch and that ``ts``, one int compared twice). A Codex session's pieces come back
    as the same objects every turn, ~17 of a row's 19, and a batch has ~8 turns of each session:
    the mark answers for them without a hash lookup, from the row after the one that made them due. A
    mark is only trusted for the epoch it was made in: :meth:`forget` starts a new one, after a
    prune and after a write that failed (its pieces were marked when it was planned), and another
    ledger (another store sharing the capture policy) does not take this one's marks for its own.

    Only the writer thread calls :meth:`writing` (or :meth:`due` and :meth:`note`); the lock is for
    :meth:`forget` from maintenance.
    """

    def __init__(self, size: int = LEDGER_SIZE) -> None:
        self.size = size
        self._written: OrderedDict[bytes, int] = OrderedDict()
        self._epoch = next(_EPOCHS) << EPOCH_SHIFT
        self._lock = threading.Lock()

    def due(self, rows: Iterable[Mapping[str, Any]]) -> dict[bytes, tuple[int, str]]:
        """The pieces of ``rows`` to upsert: digest -> (the newest row ``ts`` needing it, text).

        The pieces returned are marked as written: the caller writes them, or calls :meth:`forget`.
        """
        due: dict[bytes, tuple[int, str]] = {}
        due_get = due.get
        with self._lock:
            epoch = self._epoch
            end = epoch + (1 << EPOCH_SHIFT)  # marks of this epoch lie in [epoch, end)
            written_get = self._written.get
            for row in rows:
                pieces: list[Piece] | None = row.get(PIECES)
                if not pieces:
                    continue
                ts = int(row["ts"])
                fresh = epoch + ts - TOUCH_MS  # a mark at least this is recent enough
                for piece in pieces:
                    if fresh <= piece.written < end:
                        continue
                    digest = piece.digest
                    written = written_get(digest)
                    if written is not None and written >= ts - TOUCH_MS:
                        piece.written = epoch + written
                        continue
                    found = due_get(digest)
                    if found is None or found[0] < ts:
                        due[digest] = (ts, piece.text)
                    piece.written = epoch + ts  # due: later rows of the batch need not ask again
        return due

    @contextlib.contextmanager
    def writing(self, rows: Iterable[Mapping[str, Any]]) -> Iterator[dict[bytes, tuple[int, str]]]:
        """The pieces of ``rows`` to upsert (:meth:`due`), for a block that writes them: noted once it
        ran (its transaction committed), forgotten if it failed."""
        due = self.due(rows)
        try:
            yield due
        except BaseException:
            if due:  # they were marked written when planned
                self.forget()
            raise
        self.note(due)

    def note(self, written: Mapping[bytes, tuple[int, str]]) -> None:
        """After the transaction that upserted ``written`` committed."""
        with self._lock:
            ledger = self._written
            for digest, (ts, _) in written.items():
                before = ledger.pop(digest, None)  # re-inserted last: the most recently used
                ledger[digest] = ts if before is None or before < ts else before
            while len(ledger) > self.size:
                ledger.popitem(last=False)

    def forget(self) -> None:
        """After pieces were pruned, or a write of due pieces failed: what the ledger (or a piece's
        mark) says was written may not be there."""
        with self._lock:
            self._written.clear()
            self._epoch = next(_EPOCHS) << EPOCH_SHIFT


#: what an upsert does with a piece already stored: move its ``ts`` up, never down
_ON_CONFLICT = "ON CONFLICT (digest) DO UPDATE SET ts = excluded.ts WHERE body_pieces.ts < excluded.ts"


def upsert_sql(placeholder: str, pieces: int = 1) -> str:
    """Insert ``pieces`` pieces, or move their ``ts`` up (SQLite's form, see :data:`UPSERT_ARRAYS_SQL`).

    Several pieces per statement: a batch's thousand new pieces go in as a few statements, not one
    step each (every step releases the GIL and takes it back, see :mod:`mimo2codex.store.sqlite`).
    Their digests differ (``due`` is keyed by them), so no row is affected twice by one statement,
    which PostgreSQL refuses.
    """
    p = placeholder
    values = ", ".join([f"({p}, {p}, {p})"] * pieces)
    return f"INSERT INTO body_pieces (digest, ts, body) VALUES {values} {_ON_CONFLICT}"


#: the PostgreSQL form: the whole batch's pieces as three arrays, one statement whatever their number
UPSERT_ARRAYS_SQL = (
    "INSERT INTO body_pieces (digest, ts, body) SELECT digest, ts, body "
    "FROM unnest(%b::bytea[], %b::int8[], %b::text[]) AS due(digest, ts, body) "
    # in digest order, whatever the server's plan: two instances lock the same pieces in one order
    f"ORDER BY digest {_ON_CONFLICT}"
)


def upsert_arrays(due: Mapping[bytes, tuple[int, str]]) -> tuple[list[bytes], list[int], list[str]]:
    """The parameters of :data:`UPSERT_ARRAYS_SQL`: digests, ``ts`` and texts (digest order)."""
    order = sorted(due)
    return order, [due[d][0] for d in order], [due[d][1] for d in order]


def prune_sql(placeholder: str) -> str:
    """Delete up to a chunk of pieces older than a bound (params: bound, limit)."""
    p = placeholder
    return (
        f"DELETE FROM body_pieces WHERE digest IN (SELECT digest FROM body_pieces WHERE ts < {p} ORDER BY ts LIMIT {p})"
    )


def prune_bound(oldest_row_ts: int | None, now_ms: int) -> int:
    """Pieces with ``ts`` below this are referred to by no row."""
    return (now_ms if oldest_row_ts is None else int(oldest_row_ts)) - TOUCH_MS


def resolve(
    row: dict[str, Any],
    fetch: Callable[[str, Sequence[Any]], Iterable[Mapping[str, Any]]],
    placeholder: str,
) -> dict[str, Any]:
    """A detail row with its pieced bodies joined back into ``request_body``/``response_body``."""
    manifests = {name: row.pop(f"{name}_pieces", None) for name in ("request", "response")}
    wanted = {digest for manifest in manifests.values() if manifest for digest in digests(bytes(manifest))}
    if not wanted:
        return row
    marks = ", ".join([placeholder] * len(wanted))
    found = {
        bytes(r["digest"]): str(r["body"])
        for r in fetch(f"SELECT digest, body FROM body_pieces WHERE digest IN ({marks})", list(wanted))
    }
    for name, manifest in manifests.items():
        if manifest:
            row[f"{name}_body"] = assemble(bytes(manifest), found)
    return row
