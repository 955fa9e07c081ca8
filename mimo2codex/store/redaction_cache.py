"""Redaction of big bodies in pieces, each piece's result remembered: Codex resends the same bytes.

Every Codex turn carries the same instructions and tool list, and the whole conversation so far,
so nearly all of a request's ~40 KB were in the previous request of the session. The log writer
redacts a body as pieces cut at JSON item boundaries and remembers each piece's redacted text
(bounded, least recently used first out); only the pieces not seen before are searched.

Cutting is exact: no match of any redaction pattern contains a comma (their values stop at one, and
their prefixes have none), so redacting the text after a comma cannot see anything that redacting
the whole would have; ``\\b`` at a piece's start sees a start of text where the whole saw a comma,
both non-word. Pieces end just after the comma of ``},{`` (between two array items), the first such
comma at least ``min_piece`` bytes after the previous cut: boundaries depend on the content only, so
an item seen before at another offset cuts the same way once the cuts line up again.

Known secrets are replaced in the whole body before it is cut (a secret may contain a comma), so the
remembered pieces are the same for every secret list.

>>> cache = RedactionCache(min_piece=8)
>>> body = b'[{"a": 1},{"api_key": "abcdef123456"},{"b": 2}]'
>>> cache.redact(body)
'[{"a": 1},{"api_key": "[REDACTED]"},{"b": 2}]'
>>> cache.redact(body) == cache.redact(body), cache.hits > 0
(True, True)
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from mimo2codex.redaction import redact_utf8

#: between two items of a JSON array (compact, as Codex and orjson write it)
_BOUNDARY = b"},{"
DEFAULT_MIN_PIECE = 2048
#: bytes of pieces and their results kept (the writer's memory for this, per capture policy)
DEFAULT_MAX_BYTES = 32 << 20
_SEEN_MAX = 1 << 16


class RedactionCache:
    """Thread-safe: the SQLite and PostgreSQL writers may share one capture policy."""

    def __init__(self, *, min_piece: int = DEFAULT_MIN_PIECE, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.min_piece = min_piece
        self.max_bytes = max_bytes
        self._pieces: OrderedDict[bytes, str] = OrderedDict()
        self._size = 0
        #: hashes of pieces seen once (a collision only chooses the slower, equally exact path)
        self._seen: dict[int, None] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def redact(self, data: bytes) -> str:
        """``redact_utf8(data)``, from remembered pieces where it can."""
        if len(data) < 2 * self.min_piece:
            return redact_utf8(data)
        pieces = self._cut(data)
        with self._lock:
            found = [self._pieces.get(piece) for piece in pieces]
            for piece, text in zip(pieces, found, strict=True):
                if text is not None:
                    self._pieces.move_to_end(piece)
                    self.hits += 1
            known = any(text is not None for text in found) or any(hash(piece) in self._seen for piece in pieces)
            if not known:
                # A body none of whose pieces came before: one pass over the whole costs less
                # than piece by piece. Its pieces are noted, and remembered when they come back.
                for piece in pieces:
                    self._seen[hash(piece)] = None
                while len(self._seen) > _SEEN_MAX:
                    del self._seen[next(iter(self._seen))]
                self.misses += len(pieces)
        if not known:
            return redact_utf8(data)
        return "".join(
            text if text is not None else self._piece(piece) for piece, text in zip(pieces, found, strict=True)
        )

    def _cut(self, data: bytes) -> list[bytes]:
        pieces: list[bytes] = []
        start = 0
        at = data.find(_BOUNDARY, self.min_piece)
        while at >= 0:
            end = at + 2  # just after the comma
            pieces.append(data[start:end])
            start = end
            at = data.find(_BOUNDARY, end + self.min_piece)
        pieces.append(data[start:])
        return pieces

    def _piece(self, piece: bytes) -> str:
        with self._lock:
            found = self._pieces.get(piece)
            if found is not None:
                self._pieces.move_to_end(piece)
                self.hits += 1
                return found
            self.misses += 1
        text = redact_utf8(piece)
        cost = len(piece) + len(text)
        if cost > self.max_bytes:
            return text
        with self._lock:
            if piece not in self._pieces:
                self._pieces[piece] = text
                self._size += cost
            while self._size > self.max_bytes:
                old, old_text = self._pieces.popitem(last=False)
                self._size -= len(old) + len(old_text)
        return text
