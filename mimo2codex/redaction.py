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
from typing import Any

MASK = "[REDACTED]"

_HEADER = re.compile(
    r"(?i)\b(authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key)(\"?\s*[:=]\s*\"?)(bearer\s+|basic\s+)?[^\s\",;]+"
)
_FIELD = re.compile(
    r"(?i)([\"']?\b(?:api[_-]?key|apikey|access[_-]?token|secret|password|token|key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]{6,}"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
_VENDOR_KEY = re.compile(r"\b(?:sk|tp|pk|rk|ak)-[A-Za-z0-9_-]{12,}")
#: Every match of the patterns above contains one of these once case-folded (Python's case-insensitive
#: matching of these letters agrees with str.casefold, Unicode look-alikes included). Most log lines
#: contain none, and these substring checks cost a tenth of the four substitutions they skip.
_SUSPECT_WORDS = ("key", "token", "secret", "password", "author", "bearer", "sk-", "tp-", "pk-", "rk-", "ak-")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret it contains replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    folded = text.casefold()
    if not any(word in folded for word in _SUSPECT_WORDS):
        return text
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{MASK}", text)
    text = _FIELD.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _BEARER.sub(f"Bearer {MASK}", text)
    return _VENDOR_KEY.sub(MASK, text)


def _scrub(record: logging.LogRecord, secrets: tuple[str, ...]) -> None:
    message = record.getMessage()
    cleaned = redact(message, secrets)
    if cleaned != message or record.args:
        record.msg, record.args = cleaned, None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text, secrets)


class RedactingFilter(logging.Filter):
    """A handler filter that redacts every record's final message, arguments and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record, self.secrets)
        return True


_BASE_FACTORY = "_mimo2codex_base_factory"


def install(secrets: Iterable[str] = ()) -> None:
    """Redact every log record this process creates, whatever logger or handler it goes through.

    A record factory rather than handler filters: uvicorn and aiohttp configure handlers of their
    own, and a traceback logged by any of them must not carry a key either. Calling it again
    replaces the secrets list instead of stacking factories.
    """
    current = logging.getLogRecordFactory()
    base = getattr(current, _BASE_FACTORY, current)
    known = tuple(s for s in secrets if s)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        _scrub(record, known)
        return record

    setattr(factory, _BASE_FACTORY, base)
    logging.setLogRecordFactory(factory)
