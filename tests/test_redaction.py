"""The redaction pass: every shape a key can take in a log line or a dump."""

from __future__ import annotations

import logging
import pickle

import pytest

from mimo2codex.redaction import MASK, RedactingFilter, redact
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
