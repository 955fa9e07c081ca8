"""Redaction of big bodies in pieces, each piece's result remembered: Codex resends the same bytes.

Every Codex turn carries the same instructions and tool list, and the whole conversation so far,
so nearly all of a request's ~40 KB were in the previous request of the session. The log writer
redacts a body as pieces cut at JSON item boundaries and remembers each piece's redacted text
(bounded, least recently used first out); only the pieces not seen before are searched. The same
pieces are what the store keeps once (:mod:`mimo2codex.store.bodies`): each carries the digest of
its redacted text, so a piece met again costs neither a search nor a hash.

Cutting is exact: no match of any redaction pattern contains a comma (their values stop at one, and
their prefixes have none), so redacting the text after a comma cannot see anything that redacting
the whole would have; ``\\b`` at a piece's start sees a start of text where the whole saw a comma,
both non-word. Pieces end just after the comma of ``},{`` (between two array items), the first such
comma at least ``min_piece`` bytes after the previous cut: boundaries depend on the content only, so
an item seen before at another offset cuts the same way once the cuts line up again.

The capture policy's own replacements (image digests, known secrets) run per piece too, on the
pieces not remembered (:meth:`RedactionCache.pieces`' ``prepare``): none spans a cut, see
:meth:`~mimo2codex.store.capture.CapturePolicy.render_pieces`. The remembered pieces are keyed by
their raw bytes, in memory only: a cache belongs to one policy (one secret list).

>>> cache = RedactionCache(min_piece=8)
>>> body = b'[{"a": 1},{"api_key": "abcdef123456"},{"b": 2}]'
>>> cache.redact(body)
'[{"a": 1},{"api_key": "[REDACTED]"},{"b": 2}]'
>>> [piece.text for piece in cache.pieces(body)]
['[{"a": 1},', '{"api_key": "[REDACTED]"},', '{"b": 2}]']
>>> cache.hits
3
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from mimo2codex.redaction import redact_utf8

#: between two items of a JSON array (compact, as Codex and orjson write it)
_BOUNDARY = b"},{"
DEFAULT_MIN_PIECE = 2048
#: bytes of pieces and their results kept (the writer's memory for this, per capture policy)
DEFAULT_MAX_BYTES = 32 << 20
#: what a remembered piece costs beyond its bytes (the entry, the Piece, its digest)
_ENTRY_COST = 200
#: Codex sessions whose last request is remembered (their pieces are shared with the cache)
SESSIONS = 256
_SESSION_KEY = b'"prompt_cache_key":"'
#: how far from a request's end its prompt_cache_key is looked for (Codex writes it near the end)
_SESSION_TAIL = 4096


class Piece:
    """A redacted piece of a body: its text, its UTF-8 size, and (when asked) its digest.

    The digest (BLAKE2b, 16 bytes, of the redacted text) names the piece in the store; a body kept
    whole never needs one, so it is computed on first use and then remembered with the piece.
    """

    __slots__ = ("_digest", "size", "text")

    def __init__(self, text: str, size: int | None = None) -> None:
        self.text = text
        self.size = len(text.encode("utf-8", "surrogatepass")) if size is None else size
        self._digest: bytes | None = None

    @property
    def digest(self) -> bytes:
        if self._digest is None:
            data = self.text.encode("utf-8", "surrogatepass")
            self._digest = hashlib.blake2b(data, digest_size=16).digest()
        return self._digest

    def __repr__(self) -> str:
        return f"Piece({self.text[:40]!r}..., {self.size} bytes)"


Prepare = Callable[[bytes], bytes]


def _as_is(data: bytes) -> bytes:
    return data


def _redact_together(pieces: list[bytes]) -> list[str]:
    """``[redact_utf8(p) for p in pieces]`` in one search when nothing is found (the usual case).

    The pieces are joined in their order in the body: every piece but a body's last ends with the
    comma of a cut, so no match can span two of them, and each piece starts after a non-word
    character as it did in the body. The joined text coming back unchanged means every piece does.
    """
    if len(pieces) == 1:
        return [redact_utf8(pieces[0])]
    joined = b"".join(pieces)
    text = redact_utf8(joined)
    if len(text) == len(joined) and joined.isascii() and text.encode() == joined:
        out, at = [], 0
        for piece in pieces:
            out.append(text[at : at + len(piece)])
            at += len(piece)
        return out
    return [redact_utf8(piece) for piece in pieces]


def _session_of(data: bytes) -> bytes | None:
    """A Codex request's ``prompt_cache_key`` (its session), found near the end where Codex puts it.

    Only a hint of which earlier request to compare with: a wrong one just matches nothing.
    """
    at = data.rfind(_SESSION_KEY, max(0, len(data) - _SESSION_TAIL))
    if at < 0:
        return None
    start = at + len(_SESSION_KEY)
    end = data.find(b'"', start, start + 200)
    return data[start:end] if end > start else None


class RedactionCache:
    """Thread-safe: the SQLite and PostgreSQL writers may share one capture policy."""

    def __init__(self, *, min_piece: int = DEFAULT_MIN_PIECE, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.min_piece = min_piece
        self.max_bytes = max_bytes
        self._pieces: OrderedDict[bytes, Piece] = OrderedDict()
        #: per Codex session, its last request's raw pieces and their results (see _same_start)
        self._sessions: OrderedDict[bytes, tuple[list[bytes], list[Piece]]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def redact(self, data: bytes, prepare: Prepare = _as_is) -> str:
        """``redact_utf8(prepare(data))``, from remembered pieces where it can."""
        return "".join(piece.text for piece in self.pieces(data, prepare))

    def pieces(self, data: bytes, prepare: Prepare = _as_is) -> list[Piece]:
        """``data`` cut at item boundaries, each piece ``prepare``d and redacted (joined:
        ``redact_utf8(prepare(data))``). A body shorter than two pieces is one piece, not remembered.

        The cache is keyed by the raw piece, so a piece met again costs one lookup: ``prepare`` (the
        capture policy's image digests and known secrets) must give, piece by piece, what it gives
        on the whole, which holds for replacements that never span ``},{``.
        """
        if len(data) < 2 * self.min_piece:
            return [Piece(redact_utf8(prepare(data)))]
        session = _session_of(data)
        with self._lock:
            previous = None if session is None else self._sessions.get(session)
        cuts, known = self._split(data, previous)
        with self._lock:
            found = [
                piece if piece is not None else self._pieces.get(raw) for raw, piece in zip(cuts, known, strict=True)
            ]
            for raw, piece in zip(cuts, found, strict=True):
                if piece is not None:
                    self._pieces.move_to_end(raw)
            hits = sum(piece is not None for piece in found)
            self.hits += hits
            self.misses += len(cuts) - hits
        if hits == len(cuts):
            made: list[Piece] = found  # type: ignore[assignment]  # all found: no None left
        else:
            missing = [prepare(raw) for raw, piece in zip(cuts, found, strict=True) if piece is None]
            texts = iter(_redact_together(missing))
            made = [piece if piece is not None else Piece(next(texts)) for piece in found]
            self._remember([(raw, piece) for raw, piece, old in zip(cuts, made, found, strict=True) if old is None])
        if session is not None:
            with self._lock:
                self._sessions[session] = (cuts, made)
                self._sessions.move_to_end(session)
                while len(self._sessions) > SESSIONS:
                    self._sessions.popitem(last=False)
        return made

    def _split(
        self, data: bytes, previous: tuple[list[bytes], list[Piece]] | None
    ) -> tuple[list[bytes], list[Piece | None]]:
        """``data``'s pieces, with the results already known from the session's previous request.

        Every cut depends only on the bytes since the previous cut. So a piece of the previous
        request is one of ``data``'s own when ``data`` has its bytes at the same place and, after
        them, the ``{`` of the same cut: its start is compared piece by piece (one ``memcmp`` each,
        instead of a search and a hash over the bytes). After the new items, the cutting meets the
        previous request's cuts again (its tools and settings): once the bytes left are exactly
        the previous request's pieces from one of its cuts, those are its pieces too.
        """
        raws: list[bytes] = []
        known: list[Piece | None] = []
        at = 0
        tails: dict[int, int] = {}
        old_raws: list[bytes] = []
        old_pieces: list[Piece] = []
        if previous is not None:
            old_raws, old_pieces = previous
            for raw, piece in zip(old_raws[:-1], old_pieces, strict=False):  # the last ends its body
                end = at + len(raw)
                if not data.startswith(raw, at) or data[end : end + 1] != b"{":
                    break
                raws.append(raw)
                known.append(piece)
                at = end
            size = 0
            for j in range(len(old_raws) - 1, 0, -1):
                size += len(old_raws[j])
                tails[size] = j
        while True:
            j = tails.get(len(data) - at, 0)
            if j and self._same_bytes(data, at, old_raws[j:]):
                return [*raws, *old_raws[j:]], [*known, *old_pieces[j:]]
            cut = data.find(_BOUNDARY, at + self.min_piece)
            if cut < 0:
                break
            end = cut + 2  # just after the comma
            raws.append(data[at:end])
            known.append(None)
            at = end
        raws.append(data[at:])
        known.append(None)
        return raws, known

    @staticmethod
    def _same_bytes(data: bytes, at: int, raws: list[bytes]) -> bool:
        for raw in raws:
            if not data.startswith(raw, at):
                return False
            at += len(raw)
        return True

    def _remember(self, new: list[tuple[bytes, Piece]]) -> None:
        with self._lock:
            for raw, piece in new:
                cost = len(raw) + piece.size + _ENTRY_COST
                if cost > self.max_bytes or raw in self._pieces:
                    continue
                self._pieces[raw] = piece
                self._size += cost
            while self._size > self.max_bytes:
                old, old_piece = self._pieces.popitem(last=False)
                self._size -= len(old) + old_piece.size + _ENTRY_COST
