"""The redaction pass: every shape a key can take in a log line or a dump."""

from __future__ import annotations

import logging
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimo2codex.redaction import _BEARER, _FIELD, _HEADER, _VENDOR_KEY, MASK, RedactingFilter, redact
from mimo2codex.secret import Secret

KEY = "sk-live-0123456789abcdefXYZ"


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {KEY}",
        f'{{"headers": {{"authorization": "Bearer {KEY}"}}}}',
        f'{{"api_key": "{KEY}"}}',
        f"https://host/v1?key={KEY}&x=1",
        f"upstream said: invalid key {KEY}",
        "token tp-abcdefghijklmnopqrstuv leaked",
        f"x-api-key: {KEY}",
    ],
)
def test_keys_are_removed(text: str) -> None:
    cleaned = redact(text)
    assert KEY not in cleaned
    assert "tp-abcdefghijklmnopqrstuv" not in cleaned
    assert MASK in cleaned


def test_known_secrets_without_a_recognisable_shape_are_removed() -> None:
    assert redact("the key is QWERTY-plain-777", ["QWERTY-plain-777"]) == f"the key is {MASK}"


def test_ordinary_text_is_left_alone() -> None:
    text = (
        '{"model": "deepseek-v4-pro", "messages": [{"role": "user", "content": "ask-me anything"}], "max_tokens": 100}'
    )
    assert redact(text) == text


def test_filter_redacts_messages_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("mimo2codex.test_redaction")
    handler_filter = RedactingFilter([KEY])
    caplog.handler.addFilter(handler_filter)
    try:
        logger.warning("calling with %s", f"Bearer {KEY}")
        try:
            raise ValueError(f"bad {KEY}")
        except ValueError:
            logger.exception("failed")
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert KEY not in caplog.text
    assert "calling with Bearer [REDACTED]" in caplog.text


def test_secret_type_never_shows_its_value() -> None:
    secret = Secret(KEY)
    assert KEY not in repr(secret)
    assert KEY not in str(secret)
    assert KEY not in f"{secret}"
    assert secret.reveal() == KEY
    with pytest.raises(TypeError):
        pickle.dumps(secret)


_FRAGMENTS = [
    "Bearer ",
    "bearer\t",
    "Authorization: ",
    "authorization=",
    "x-api-key: ",
    "api_key=",
    '"apiKey": "',
    "access-token=",
    "password:",
    "ſecret=",  # a long s: case-insensitive matching reads it as "s"
    "\u212aey=",  # the Kelvin sign: read as "K"
    "sk-",
    "tp-",
    "AK-",
    "abcdefghijklmnop",
    "0123456789",
    "-_",
    " ",
    '"',
    "é",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=4), max_size=12).map("".join))
def test_the_quick_check_never_skips_what_the_patterns_would_redact(text: str) -> None:
    """``redact`` skips the substitutions for text without a suspect word: only when they change nothing."""
    full = text
    full = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{MASK}", full)
    full = _FIELD.sub(lambda m: f"{m.group(1)}{MASK}", full)
    full = _BEARER.sub(f"Bearer {MASK}", full)
    full = _VENDOR_KEY.sub(MASK, full)
    assert redact(text) == full
