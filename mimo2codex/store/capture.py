"""Body capture policy: what a request's bodies may cost, decided before anything is serialized.

The request path asks :meth:`CapturePolicy.keeps_references` once and, when it says yes, keeps plain
references on the record (the raw request bytes it already read, the final response object or the
streamed text). Everything else happens in the store's writer thread: the ``errors-only`` check,
serialization, base64 images replaced by a short digest, secrets redacted (the configured upstream
keys and inbound tokens verbatim, then every key-like shape :mod:`mimo2codex.redaction` knows), and
the cap, marked where it cut.

>>> policy = CapturePolicy("full", max_bytes=40)
>>> policy.render({"input": "x" * 100})
'{"input":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…[cut: 112 bytes, kept 40]'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from mimo2codex.pattern_set import PatternSet, compile_set, escaped
from mimo2codex.redaction import ANCHOR_PATTERNS, ANCHORED_MIN, MASK, redact
from mimo2codex.request_log import RequestRecord
from mimo2codex.store.redaction_cache import Piece, RedactionCache

BodyMode = Literal["off", "errors-only", "full"]
BODY_MODES: tuple[BodyMode, ...] = ("off", "errors-only", "full")
DEFAULT_MAX_BYTES = 256 << 10

_DATA_URL = re.compile(rb"data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=]+)")
#: in every data URL: a body without it has none to replace (looked for before the regex runs)
_DATA_URL_MARK = b"base64,"
#: redaction runs on a prefix this much longer than the cap: text shrinks or grows under redaction,
#: and a key cut in half at the edge of the prefix must still end up beyond the cap
_REDACT_MARGIN = 64 << 10
_MASK_BYTES = MASK.encode()


def parse_body_mode(value: str) -> BodyMode:
    text = value.strip().lower()
    for mode in BODY_MODES:
        if text == mode:
            return mode
    raise ValueError(f"must be one of {', '.join(BODY_MODES)}, got {value!r}")


def is_error(record: RequestRecord) -> bool:
    """A failed request: an error status or an error code (a rewrite or a cancel is neither)."""
    return record.status >= 400 or record.error_code is not None


def _image_digest(match: re.Match[bytes]) -> bytes:
    data = match.group(2)
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raw = data
    return f"[image: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:12]}]".encode()


def replace_images(data: bytes) -> bytes:
    """Every ``data:image/...;base64,...`` run replaced by its size and digest (before redaction:
    the redaction's search then never walks the big base64 blobs)."""
    if data.find(_DATA_URL_MARK) < 0:  # not `in`: see mimo2codex.redaction._word_positions
        return data
    return _DATA_URL.sub(_image_digest, data)


def cap(text: str, max_bytes: int) -> str:
    """``text`` cut to ``max_bytes`` of UTF-8, with a marker saying how much there was."""
    if len(text) * 4 <= max_bytes:  # cannot be over (4 bytes a character at most): skip the encoding
        return text
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= max_bytes:
        return text
    kept = encoded[:max_bytes].decode("utf-8", "ignore")
    return f"{kept}…[cut: {len(encoded)} bytes, kept {max_bytes}]"


#: how much longer than its bytes a body's rendering can be: an invalid UTF-8 byte becomes U+FFFD
#: (3 bytes); a known secret of 4 bytes (the shortest replaced) becomes the 10 of the mask, a header
#: value of 1 byte "[REDACTED]" after a name of 8; an image's digest is longer than no data URL
_MAX_GROWTH = 3


def cap_pieces(pieces: list[Piece], max_bytes: int, raw_size: int | None = None) -> list[Piece]:
    """``pieces`` whose text is :func:`cap` of their joined text: the piece crossing ``max_bytes``
    is cut and carries the marker, the ones after it are gone. ``raw_size``, the bytes they were
    rendered from, spares adding up their sizes when even the largest growth stays under the cap."""
    if raw_size is not None and raw_size * _MAX_GROWTH <= max_bytes:
        return pieces
    total = sum([piece.size for piece in pieces])  # faster than attrgetter on a slot (3.11)
    if total <= max_bytes:
        return pieces
    kept: list[Piece] = []
    room = max_bytes
    for piece in pieces:
        if piece.size > room:
            head = piece.text.encode("utf-8", "surrogatepass")[:room].decode("utf-8", "ignore")
            kept.append(Piece(f"{head}…[cut: {total} bytes, kept {max_bytes}]"))
            return kept
        kept.append(piece)
        room -= piece.size
    return kept  # not reached: the sizes add up to more than max_bytes


def _utf8(body: Any) -> bytes | None:
    """A body as UTF-8 bytes: the raw request bytes as they are, anything else serialized once."""
    if body is None:
        return None
    if type(body) is not dict:  # a response object (most rows) goes straight to orjson
        if isinstance(body, bytes):
            return body
        if isinstance(body, (bytearray, memoryview)):
            return bytes(body)
        if isinstance(body, str):
            return body.encode("utf-8", "replace")
        if isinstance(body, list) and all(isinstance(piece, (bytes, str)) for piece in body):
            return b"".join(p if isinstance(p, bytes) else p.encode("utf-8", "replace") for p in body)
    try:
        return orjson.dumps(body, default=str)
    except TypeError:
        return repr(body).encode("utf-8", "replace")


class Untouched:
    """Tells in one pass (:mod:`mimo2codex.pattern_set`) that rendering leaves a body's bytes as they
    are: ASCII of at least :data:`~mimo2codex.redaction.ANCHORED_MIN` bytes with no data URL, no
    known secret and no anchor word of the redaction, where the standard library makes a pass for
    each (``CapturePolicy._prepare``'s and :func:`~mimo2codex.redaction.unchanged_utf8`'s). False
    means "not told": the caller checks as before. Compiled on first use, once per capture policy.
    """

    def __init__(self, secrets: tuple[bytes, ...]) -> None:
        self._secrets = secrets
        self._patterns: PatternSet | None = None
        self._compiled = False
        self._lock = threading.Lock()

    def __call__(self, data: bytes) -> bool:
        if not self._compiled:
            self._compile()
        patterns = self._patterns
        return patterns is not None and len(data) >= ANCHORED_MIN and data.isascii() and not patterns.any_in(data)

    def _compile(self) -> None:
        with self._lock:
            if not self._compiled:
                exact = [_DATA_URL_MARK, *map(escaped, self._secrets)]  # a key byte for byte
                folded = [True] * len(ANCHOR_PATTERNS) + [False] * len(exact)
                self._patterns = compile_set([*ANCHOR_PATTERNS, *exact], folded)
                self._compiled = True


@dataclass(frozen=True, slots=True)
class CapturePolicy:
    mode: BodyMode = "errors-only"
    max_bytes: int = DEFAULT_MAX_BYTES
    #: known secrets replaced verbatim (upstream keys, inbound tokens)
    secrets: tuple[str, ...] = ()
    #: remembered redactions of body pieces (Codex resends most of a request's bytes every turn)
    cache: RedactionCache = field(default_factory=RedactionCache, compare=False, repr=False)
    #: the secrets as UTF-8, and whether one could span a piece's cut (computed once, not per body)
    _secret_bytes: tuple[bytes, ...] = field(init=False, compare=False, repr=False)
    _secret_spans_cuts: bool = field(init=False, compare=False, repr=False)
    _untouched: Untouched = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        encoded = tuple(s.encode("utf-8", "surrogatepass") for s in self.secrets if len(s) >= 4)
        object.__setattr__(self, "_secret_bytes", encoded)
        # A body is redacted in parts split after a comma (redaction_cache, unseen): a secret with a
        # comma could span two, so such secrets are replaced in the whole body first.
        object.__setattr__(self, "_secret_spans_cuts", any(b"," in secret for secret in encoded))
        object.__setattr__(self, "_untouched", Untouched(encoded))

    @classmethod
    def build(cls, mode: BodyMode, max_bytes: int, secrets: Sequence[str]) -> CapturePolicy:
        # Longest first: a token containing another must not be half-replaced.
        known = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
        return cls(mode, max_bytes, known)

    @property
    def keeps_references(self) -> bool:
        """Asked on the request path: may this request's bodies be wanted later?"""
        return self.mode != "off"

    def wants(self, record: RequestRecord) -> bool:
        if self.mode == "full":
            return True
        return self.mode == "errors-only" and is_error(record)

    def render(self, body: Any) -> str | None:
        """One body as stored: images digested, secrets redacted, capped. Writer thread only."""
        pieces = self.render_pieces(body)
        return None if pieces is None else "".join(piece.text for piece in pieces)

    def render_pieces(self, body: Any) -> list[Piece] | None:
        """:meth:`render`'s text as the redaction cache's pieces (the store keeps each piece once).

        All on the UTF-8 bytes, decoded once per piece: the raw request is never decoded, encoded
        and lowered again, and the known secrets are one ``bytes.replace`` each.
        """
        data = _utf8(body)
        if data is None:
            return None
        limit = self.max_bytes + _REDACT_MARGIN
        if len(data) > limit:
            # cut on a character boundary (the margin keeps a key split here beyond the cap)
            data = data[:limit].decode("utf-8", "ignore").encode("utf-8", "surrogatepass")
        if self._secret_spans_cuts:
            return cap_pieces(self.cache.pieces(self._prepare(data), clean=self._untouched), self.max_bytes)
        # Piece by piece, and only for pieces not seen before: a data URL never contains ",{"
        # (base64 has none of these characters), nor does a known secret (checked above), so
        # neither can span a cut, and replacing them in each piece is replacing them in the whole.
        return cap_pieces(self.cache.pieces(data, self._prepare, self._untouched), self.max_bytes, len(data))

    def _prepare(self, data: bytes) -> bytes:
        """Images digested and known secrets masked (before the redaction's search)."""
        data = replace_images(data)
        for secret in self._secret_bytes:
            data = data.replace(secret, _MASK_BYTES)
        return data

    def scrub(self, text: str | None, limit: int) -> str | None:
        """A short text (an error message) redacted and capped."""
        if not text:
            return None
        return cap(redact(text[: limit + _REDACT_MARGIN], self.secrets), limit)
