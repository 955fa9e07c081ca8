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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from mimo2codex.redaction import redact
from mimo2codex.request_log import RequestRecord

BodyMode = Literal["off", "errors-only", "full"]
BODY_MODES: tuple[BodyMode, ...] = ("off", "errors-only", "full")
DEFAULT_MAX_BYTES = 256 << 10

_DATA_URL = re.compile(r"data:(image/[\w.+-]+);base64,([A-Za-z0-9+/=]+)")
#: redaction runs on a prefix this much longer than the cap: text shrinks or grows under redaction,
#: and a key cut in half at the edge of the prefix must still end up beyond the cap
_REDACT_MARGIN = 64 << 10


def parse_body_mode(value: str) -> BodyMode:
    text = value.strip().lower()
    for mode in BODY_MODES:
        if text == mode:
            return mode
    raise ValueError(f"must be one of {', '.join(BODY_MODES)}, got {value!r}")


def is_error(record: RequestRecord) -> bool:
    """A failed request: an error status or an error code (a rewrite or a cancel is neither)."""
    return record.status >= 400 or record.error_code is not None


def _image_digest(match: re.Match[str]) -> str:
    data = match.group(2)
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raw = data.encode()
    return f"[image: {len(raw)} bytes, sha256 {hashlib.sha256(raw).hexdigest()[:12]}]"


def replace_images(text: str) -> str:
    if "base64," not in text:
        return text
    return _DATA_URL.sub(_image_digest, text)


def cap(text: str, max_bytes: int) -> str:
    """``text`` cut to ``max_bytes`` of UTF-8, with a marker saying how much there was."""
    if len(text) * 4 <= max_bytes:  # cannot be over (4 bytes a character at most): skip the encoding
        return text
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= max_bytes:
        return text
    kept = encoded[:max_bytes].decode("utf-8", "ignore")
    return f"{kept}…[cut: {len(encoded)} bytes, kept {max_bytes}]"


def _text(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body).decode("utf-8", "replace")
    if isinstance(body, list) and all(isinstance(piece, (bytes, str)) for piece in body):
        return "".join(p if isinstance(p, str) else p.decode("utf-8", "replace") for p in body)
    try:
        return orjson.dumps(body, default=str).decode()
    except TypeError:
        return repr(body)


@dataclass(frozen=True, slots=True)
class CapturePolicy:
    mode: BodyMode = "errors-only"
    max_bytes: int = DEFAULT_MAX_BYTES
    #: known secrets replaced verbatim (upstream keys, inbound tokens)
    secrets: tuple[str, ...] = ()

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
        text = _text(body)
        if text is None:
            return None
        text = replace_images(text[: self.max_bytes + _REDACT_MARGIN])
        return cap(redact(text, self.secrets), self.max_bytes)

    def scrub(self, text: str | None, limit: int) -> str | None:
        """A short text (an error message) redacted and capped."""
        if not text:
            return None
        return cap(redact(text[: limit + _REDACT_MARGIN], self.secrets), limit)
