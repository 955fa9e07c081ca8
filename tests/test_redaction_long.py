"""The anchored redaction of long texts (request-log bodies) redacts exactly what the full scan does."""

from __future__ import annotations

import time
from unittest import mock

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
    if redaction._no_words(raw):  # the shortcut: only where the positions find nothing either
        assert not any(redaction._byte_positions(raw).values())
    anchors = redaction._anchor_set()
    if anchors is not None:  # the one Hyperscan pass answers as the standard library's passes
        assert anchors.any_in(raw) is not redaction._no_words_in(raw.lower())
        upper = raw.upper()
        assert anchors.any_in(upper) is not redaction._no_words_in(upper.lower())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=120), st.integers(0, 600))
def test_without_hyperscan_the_same_redaction(pieces: list[str], pad: int) -> None:
    text = "p" * pad + "".join(pieces)
    raw = text.encode()
    with mock.patch.object(redaction, "_anchor_set", return_value=None):  # the standard library's passes
        assert redaction.redact_utf8(raw) == redaction.redact(text)
        assert redaction.unchanged_utf8(raw) == (redaction.redact_utf8(raw) == text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.sampled_from(FRAGMENTS), max_size=8))
def test_hyperscan_pass_equals_the_standard_library_on_any_bytes(noise: bytes, pieces: list[str]) -> None:
    anchors = redaction._anchor_set()
    if anchors is None:
        return  # nothing to compare on this machine (test_pattern_set says where it must run)
    raw = noise + "".join(pieces).encode() + noise
    assert anchors.any_in(raw) is not redaction._no_words_in(raw.lower())


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
