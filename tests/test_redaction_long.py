"""The anchored redaction of long texts (request-log bodies) redacts exactly what the full scan does."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from mimo2codex import redaction
from mimo2codex.redaction import MASK, redact

FRAGMENTS = [
    "key",
    "Key",
    "KEY",
    "api_key",
    "api-key",
    "apikey",
    "x-api-key",
    "X-Goog-Api-Key",
    "access_token",
    "accesstoken",
    "token",
    "secret",
    "password",
    "Authorization",
    "proxy-authorization",
    "Bearer",
    "bearer",
    "sk-",
    "SK-",
    "tp-",
    "ak-",
    "keyboard",
    "tokens",
    '"',
    "'",
    ":",
    "=",
    " ",
    "  ",
    "\n",
    ",",
    ";",
    "}",
    "&",
    "abcdef0123456789",
    "ABCDEFGHIJKLmnop",
    "x" * 20,
    "é",
    "密钥",
    "ß",
    "\u3000",
    "_",
    "-",
    ".",
    "/",
    "basic ",
    # what may follow a word: decides whether the patterns are tried there
    "tok",
    "en",
    "ey",
    "k",
    "p",
    "author",
    "AUTHORIZATION",
    "ization",
    "\xa0",
    "\u2003",
    "\x1c",
    "\x85",
    "abcdefghij0123456789",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=120), st.integers(0, 600))
def test_anchored_equals_full_scan(pieces: list[str], pad: int) -> None:
    text = "p" * pad + "".join(pieces)
    assert redaction._redact_anchored(text) == redaction._redact_scan(text)
    assert redaction.redact_utf8(text.encode()) == redaction.redact(text)
    raw = text.encode()
    assert redaction.unchanged_utf8(raw) == (redaction.redact_utf8(raw) == text)
    if redaction._no_words(raw.lower()):  # the shortcut: only where the positions find nothing either
        assert not any(redaction._byte_positions(raw).values())


def test_long_bodies_are_redacted_like_short_ones() -> None:
    secrets_in_json = (
        '{"api_key": "abc123def456ghi", "headers": {"Authorization": "Bearer sk-live-0123456789abcdef"}, '
        '"note": "use tp-abcdefghijklmnop", "token=zyxwvut9876"}'
    )
    body = "x" * 5000 + secrets_in_json + "密钥 " * 2000
    long = redact(body)
    assert long == redaction._redact_scan(body)
    assert "abc123def456ghi" not in long
    assert "sk-live" not in long
    assert "tp-abcdefghijklmnop" not in long
    assert "zyxwvut9876" not in long
    assert long.count(MASK) == 4


def test_odd_case_characters_take_the_full_scan() -> None:
    # re's case-insensitive matching equates the long s with "s": "paſſword" is a key-like field
    text = "y" * 600 + ' "paſſword": "hunter2hunter2"'
    assert "hunter2" not in redact(text)


def test_anchored_path_is_fast_on_a_codex_sized_body() -> None:
    # a Codex request: long instructions and code, a few dozen key-like words (the fixtures: 23)
    body = "".join(
        f"Implement part {i} carefully; 中文说明。{' count the tokens.' if i % 40 == 0 else ''}" for i in range(900)
    )
    started = time.perf_counter()
    for _ in range(10):
        redact(body)
    anchored = (time.perf_counter() - started) / 10
    started = time.perf_counter()
    redaction._redact_scan(body)
    scan = time.perf_counter() - started
    assert anchored < scan / 3, (anchored, scan)


def test_dense_texts_fall_back_to_the_scan() -> None:
    body = "key token secret " * 3000
    assert redact(body) == redaction._redact_scan(body)
