"""The capture policy's one-pass check: it tells a body needs nothing only where every pass agrees."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimo2codex import redaction
from mimo2codex.redaction import ANCHORED_MIN, _no_words_in, unchanged_utf8
from mimo2codex.store import capture
from mimo2codex.store.capture import CapturePolicy, Untouched

#: secrets with characters a pattern would read as syntax, and one that is a prefix of another
SECRETS = ["sk-live.a*b+c(d)[e]", "tok\\en|x?{2}", "tok\\en|x?{2}-longer", "密钥abc"]
FRAGMENTS = [
    *SECRETS,
    "sk-live.aab+c(d)[e]",  # what the first would match as a regex: not the secret
    "tok\\en|x",
    "TOK\\EN|X?{2}",  # a secret's letters in another case: not the secret
    "base64,",
    "data:image/png;base64,iVBORw0KGgo=",
    "BASE64,",
    "Authorization",
    "bearer ",
    "api_key=",
    "KEY:",
    "tokens",
    "pk-",
    "words and more words ",
    '{"type":"message"},',
    "é",
    " ",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=60), st.integers(0, 700))
def test_untouched_agrees_with_the_passes_it_replaces(pieces: list[str], pad: int) -> None:
    policy = CapturePolicy.build("full", 256 << 10, SECRETS)
    raw = ("x" * pad + "".join(pieces)).encode()
    told = policy._untouched(raw)
    # the set compiles wherever Hyperscan runs, whatever characters the secrets have
    assert (policy._untouched._patterns is None) == (redaction._anchor_set() is None)
    if told:  # never wrong: the body needs neither the policy's replacements nor the redaction
        assert policy._prepare(raw) is raw
        assert unchanged_utf8(raw)
    if policy._untouched._patterns is not None:  # and it tells whenever the passes find nothing
        secrets = [s.encode() for s in SECRETS]
        expected = (
            len(raw) >= ANCHORED_MIN
            and raw.isascii()
            and b"base64," not in raw
            and not any(s in raw for s in secrets)
            and _no_words_in(raw.lower())
        )
        assert told == expected


def test_a_policy_compiles_its_set_once_on_first_use() -> None:
    untouched = Untouched((b"abcd",))
    assert untouched._compiled is False
    body = b"plain words " * 100
    first = untouched(body)
    patterns = untouched._patterns
    assert untouched._compiled is True
    assert untouched(body) == first
    assert untouched._patterns is patterns


def test_without_hyperscan_a_codex_session_renders_as_the_full_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.sessions import session_bodies
    from bench.store_data import codex_request_body

    monkeypatch.setattr(capture, "compile_set", lambda *_: None)
    monkeypatch.setattr(redaction, "_anchor_set", lambda: None)
    policy = CapturePolicy.build("full", 256 << 10, ["sk-proj-abcdefghijklmnop"])
    for data in session_bodies(7, 5, json.loads(codex_request_body())):
        pieces = policy.render_pieces(data)
        assert pieces is not None
        assert "".join(piece.text for piece in pieces) == redaction._redact_scan(policy._prepare(data).decode())
    assert policy._untouched._compiled
    assert policy._untouched._patterns is None  # the standard library's passes did it all
