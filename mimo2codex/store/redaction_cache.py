"""Redaction of big bodies in pieces, each piece's result remembered: Codex resends the same bytes.

Every Codex turn carries the same instructions and tool list, and the whole conversation so far,
so nearly all of a request's ~40 KB were in the previous request of the session. The log writer
redacts a body as pieces cut at JSON item boundaries and remembers each piece's redacted text
(bounded, least recently used first out); only the pieces not seen before are searched. The same
pieces are what the store keeps once (:mod:`mimo2codex.store.bodies`): each carries the digest of
its redacted text, so a piece met again costs neither a search nor a hash. Per session, the last
request is kept too: the next one takes most of its pieces as two runs (:mod:`mimo2codex.store.cuts`)
and, when it came back from redaction as it was, searches only the bytes it did not have
(:mod:`mimo2codex.store.unseen`); those new pieces go in the session's entry, not in the shared cache
(no other request sends a turn's own items). A session pushed out of the 256 kept (or a request that
did not come back unchanged) goes through the shared cache, piece by piece.

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

from mimo2codex.redaction import redact_utf8, unchanged_utf8
from mimo2codex.store.cuts import split
from mimo2codex.store.unseen import known_runs, unseen

DEFAULT_MIN_PIECE = 2048
#: bytes of pieces and their results kept (the writer's memory for this, per capture policy)
DEFAULT_MAX_BYTES = 32 << 20
#: what a remembered piece costs beyond its bytes (the entry, the Piece, its digest, a ledger mark)
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
    ``utf8``, when given, is the text's UTF-8 already at hand (the raw piece, when redaction changed
    nothing): the digest then hashes it instead of encoding the text again. ``plain``: the text is
    the raw piece as it was, neither prepared nor redacted into anything else (see
    :mod:`mimo2codex.store.unseen`). ``written``: left by the store's
    :class:`~mimo2codex.store.bodies.PieceLedger` once it knows the piece is stored or planned in a
    write (its own business, 0 until then; a piece met again every turn then costs it no lookup).
    """

    __slots__ = ("_digest", "_utf8", "plain", "size", "text", "written")

    def __init__(self, text: str, size: int | None = None, utf8: bytes | None = None, *, plain: bool = False) -> None:
        self.text = text
        if size is None:  # str.isascii() is a flag check: an ASCII text's size is its length
            size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        self.size = size
        self._utf8 = utf8
        self.plain = plain
        self._digest: bytes | None = None
        self.written = 0  # unmarked

    @property
    def digest(self) -> bytes:
        if self._digest is None:
            data = self.text.encode("utf-8", "surrogatepass") if self._utf8 is None else self._utf8
            self._digest = hashlib.blake2b(data, digest_size=16).digest()
            self._utf8 = None
        return self._digest

    def __repr__(self) -> str:
        return f"Piece({self.text[:40]!r}..., {self.size} bytes)"


def digests_of(pieces: list[Piece]) -> list[bytes]:
    """The pieces' digests in order: read off the pieces (a Codex turn's pieces met before have
    theirs, ~17 of 19), then the missing ones hashed, found with ``list.index``. (A comprehension:
    3.11 reads a slot in it faster than ``attrgetter`` does in C.)"""
    digests: list[bytes | None] = [piece._digest for piece in pieces]
    at = -1
    for _ in range(digests.count(None)):  # counted first: no ValueError raised to end the search
        at = digests.index(None, at + 1)
        digests[at] = pieces[at].digest
    return digests  # type: ignore[return-value]  # every None was replaced


Prepare = Callable[[bytes], bytes]
#: tells that ``redact_utf8(prepare(data))`` is ``data``'s own text (True), or cannot tell (False)
Clean = Callable[[bytes], bool]


def _as_is(data: bytes) -> bytes:
    return data


def _cannot_tell(data: bytes) -> bool:
    return False


def _redact_together(raws: list[bytes], prepare: Prepare) -> list[Piece]:
    """``[Piece(redact_utf8(prepare(r))) for r in raws]`` in one search when nothing is found (the
    usual case).

    The pieces are joined in their order in the body: every piece but a body's last ends with the
    comma of a cut, so no match can span two of them, and each piece starts after a non-word
    character as it did in the body. The joined text coming back unchanged (its UTF-8 is the bytes
    given) means every piece does, and each piece's UTF-8 is then its bytes as given (its digest
    needs no encoding).
    """
    pieces = [prepare(raw) for raw in raws]
    joined = b"".join(pieces) if len(pieces) > 1 else pieces[0]
    text = redact_utf8(joined)
    if text.encode("utf-8", "surrogatepass") != joined:
        return [Piece(redact_utf8(piece)) for piece in pieces]
    if not joined.isascii():  # a character is not a byte: each piece's text is its own decoding
        return [
            Piece(piece.decode(), len(piece), piece, plain=piece is raw)
            for raw, piece in zip(raws, pieces, strict=True)
        ]
    out, at = [], 0
    for raw, piece in zip(raws, pieces, strict=True):
        size = len(piece)
        # prepare() gives back the same object when it replaced nothing
        out.append(Piece(text[at : at + size], size, piece, plain=piece is raw))
        at += size
    return out


def _plain_pieces(raws: list[bytes], middle: bytes, prepare: Prepare, clean: Clean) -> list[Piece] | None:
    """``raws`` as plain pieces, when redacting ``middle`` (the bytes of them not seen before, see
    :mod:`mimo2codex.store.unseen`) changes nothing; else None."""
    if middle and not clean(middle) and (prepare(middle) is not middle or not unchanged_utf8(middle)):
        return None
    return [Piece(raw.decode("utf-8", "surrogatepass"), len(raw), raw, plain=True) for raw in raws]


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


_Session = tuple[bytes | None, list[int], list[Piece], bool, int | None]
_NO_SESSION: _Session = (None, [], [], False, None)


class RedactionCache:
    """Thread-safe: the SQLite and PostgreSQL writers may share one capture policy."""

    def __init__(self, *, min_piece: int = DEFAULT_MIN_PIECE, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.min_piece = min_piece
        self.max_bytes = max_bytes
        self._pieces: OrderedDict[bytes, Piece] = OrderedDict()
        #: per Codex session, its last request: its bytes, its pieces' raw sizes, its pieces, whether
        #: they are all plain (the request came back from redaction as it was), and where its equal
        #: end run began (the next turn's items go there: unseen.known_runs)
        self._sessions: OrderedDict[bytes, _Session] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def redact(self, data: bytes, prepare: Prepare = _as_is) -> str:
        """``redact_utf8(prepare(data))``, from remembered pieces where it can."""
        return "".join(piece.text for piece in self.pieces(data, prepare))

    def pieces(self, data: bytes, prepare: Prepare = _as_is, clean: Clean = _cannot_tell) -> list[Piece]:
        """``data`` cut at item boundaries, each piece ``prepare``d and redacted (joined:
        ``redact_utf8(prepare(data))``). A body shorter than two pieces is one piece, not remembered.

        The cache is keyed by the raw piece, so a piece met again costs one lookup: ``prepare`` (the
        capture policy's image digests and known secrets) must give, piece by piece, what it gives
        on the whole, which holds for replacements that never span ``},{``. The pieces reused from
        the session's previous request (most of a Codex request) are taken as two runs of its list
        (:mod:`mimo2codex.store.cuts`), without a lookup each; when that request came back from
        redaction as it was, the new pieces are checked as a whole (:mod:`mimo2codex.store.unseen`)
        and kept only in the session's entry. ``clean`` may tell that a body's bytes need nothing
        (see :class:`~mimo2codex.store.capture.Untouched`), in one pass instead of those of
        ``prepare`` and the redaction.
        """
        if len(data) < 2 * self.min_piece:
            if clean(data):  # ASCII, and rendered as it is (most responses)
                return [Piece(data.decode("ascii"), len(data), data)]
            return [Piece(redact_utf8(prepare(data)))]
        session = _session_of(data)
        # one C call, atomic under the GIL: the entry is replaced whole (below), never changed in place
        previous = None if session is None else self._sessions.get(session)
        old, old_sizes, old_pieces, was_plain, tail_at = previous if previous is not None else _NO_SESSION
        # a Codex turn: its items inserted where the previous turn's ended (checked, see unseen.known_runs)
        runs = None if old is None or tail_at is None else known_runs(data, old, tail_at)
        head, raws, tail = split(data, self.min_piece, old, old_sizes, runs)
        # counted with the session's entry below (no session, no previous request: both stay 0)
        reused = head + len(old_pieces) - tail  # the runs taken from the previous request
        new: list[Piece] | None = None
        if was_plain and old is not None:
            # The usual Codex turn: search only the bytes the previous request did not have. Its new
            # pieces hold the turn's own items, which no other request sends: they are neither looked
            # up nor remembered in the shared cache (hashing ~5 KB a turn for that cost ~10 % of the
            # render). The session's entry keeps them for its next turn.
            start = sum(old_sizes[:head])
            end = start + sum(map(len, raws))
            a, b, measured = unseen(data, start, end, old, len(old) - len(data), runs=runs)
            new = _plain_pieces(raws, data[a:b], prepare, clean)
            # where the next turn's items go: as measured, or (the runs were known) the same place,
            # moved by this turn's bytes (not the known run's start: that lies a grain further)
            tail_at = measured if runs is None or tail_at is None else tail_at + len(data) - len(old)
        else:
            tail_at = None
        if new is None:
            new = self._cached(raws, prepare)
            fresh, new_plain = 0, all(piece.plain for piece in new)  # _cached counts its own misses
        else:  # made plain by _plain_pieces, not looked up in the shared cache: misses
            fresh, new_plain = len(raws), True
        pieces = [*old_pieces[:head], *new, *old_pieces[tail:]]
        if session is not None:
            sizes = [*old_sizes[:head], *map(len, raws), *old_sizes[tail:]]
            # the reused runs are plain when the previous request was (or there are none)
            plain = new_plain and (was_plain or (head == 0 and tail == len(old_pieces)))
            with self._lock:
                self.hits += reused
                self.misses += fresh
                self._sessions[session] = (data, sizes, pieces, plain, tail_at if plain else None)
                self._sessions.move_to_end(session)
                while len(self._sessions) > SESSIONS:
                    self._sessions.popitem(last=False)
        return pieces

    def _cached(self, raws: list[bytes], prepare: Prepare) -> list[Piece]:
        """``raws`` as pieces: the remembered ones as they were, the others redacted and remembered."""
        with self._lock:
            found = [self._pieces.get(raw) for raw in raws]
            for raw, piece in zip(raws, found, strict=True):
                if piece is not None:
                    self._pieces.move_to_end(raw)
            missing = found.count(None)
            self.hits += len(raws) - missing
            self.misses += missing
        if not missing:
            return found  # type: ignore[return-value]  # all found: no None left
        unknown = [raw for raw, piece in zip(raws, found, strict=True) if piece is None]
        made = _redact_together(unknown, prepare)
        self._remember(list(zip(unknown, made, strict=True)))
        fresh = iter(made)
        return [piece if piece is not None else next(fresh) for piece in found]

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
