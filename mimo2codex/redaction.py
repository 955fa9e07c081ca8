"""Redaction: the pass that removes secrets from anything about to be logged, dumped or stored.

Three layers catch a key wherever it hides: ``Authorization``/``api-key`` style headers, values of
key-like JSON/query fields (``"api_key": "..."``, ``?key=...``), and bare vendor keys
(``sk-...``, ``tp-...``, ``Bearer ...``). Known secrets (the configured upstream keys) are replaced
verbatim first, so even a key with no recognisable shape never leaves the process.

>>> redact('Authorization: Bearer sk-abcdefghijklmnop1234')
'Authorization: Bearer [REDACTED]'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

MASK = "[REDACTED]"

_HEADER = re.compile(
    r"(?i)\b(authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key)(\"?\s*[:=]\s*\"?)(bearer\s+|basic\s+)?[^\s\",;]+"
)
_FIELD = re.compile(
    r"(?i)([\"']?\b(?:api[_-]?key|apikey|access[_-]?token|secret|password|token|key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]{6,}"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
_VENDOR_KEY = re.compile(r"\b(?:sk|tp|pk|rk|ak)-[A-Za-z0-9_-]{12,}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret it contains replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{MASK}", text)
    text = _FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _BEARER.sub(f"Bearer {MASK}", text)
    return _VENDOR_KEY.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """A handler filter that redacts every record's final message (args included)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def install(secrets: Iterable[str] = (), logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to every handler of ``logger`` (default: the root logger)."""
    target = logger or logging.getLogger()
    redacting = RedactingFilter(secrets)
    for handler in target.handlers:
        for existing in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(existing)
        handler.addFilter(redacting)
    return redacting
