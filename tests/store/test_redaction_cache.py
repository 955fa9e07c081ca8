"""Body rendering on bytes, and the piecewise redaction cache: the same text as one redaction."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mimo2codex.redaction import MASK, redact, redact_utf8
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.cuts import split
from mimo2codex.store.redaction_cache import RedactionCache
from mimo2codex.store.sqlite import PAGE_SIZE, SqliteStore

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "request" / "full-session.request.json"

_FRAGMENTS = [
    "},{",
    "}, {",
    ",",
    '"api_key": "',
    '"key":"',
    "key: ",
    "token=",
    "Authorization: Bearer ",
    "Bearer ",
    "sk-",
    "tp-",
    "abcdef0123456789",
    "ABCDEFGHIJKLMNOP",
    "<token>",
    '"',
    " ",
    "é",
    "密钥",
    "\u212aey=",  # the Kelvin sign: case-insensitive matching reads it as "K"
    "ſecret=",
    "x" * 40,
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=150), st.integers(1, 64))
def test_piecewise_redaction_equals_one_redaction(pieces: list[str], min_piece: int) -> None:
    text = "".join(pieces)
    data = text.encode()
    cache = RedactionCache(min_piece=min_piece)
    expected = redact(text)
    assert redact_utf8(data) == expected
    assert cache.redact(data) == expected
    assert cache.redact(data) == expected  # from the remembered pieces this time


def test_invalid_utf8_is_replaced_like_a_decode_would() -> None:
    data = b'{"a": "\xff\xfe"},{"api_key": "abcdef123456"},' * 50
    expected = redact(data.decode("utf-8", "replace"))
    assert RedactionCache(min_piece=16).redact(data) == expected
    assert "abcdef123456" not in expected


def test_a_resent_codex_request_is_served_from_the_cache() -> None:
    body = json.loads(FIXTURE.read_text())
    first = json.dumps(body, separators=(",", ":")).encode()
    body["input"].append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "next"}]})
    second = json.dumps(body, separators=(",", ":")).encode()
    cache = RedactionCache(min_piece=512)
    assert cache.redact(first) == redact(first.decode())  # redacted piece by piece, each kept
    misses, kept = cache.misses, len(cache._pieces)
    assert kept > 8  # cut in pieces
    assert cache.hits == 0
    assert cache.redact(first) == redact(first.decode())  # seen again: all from the cache
    assert (cache.misses, cache.hits) == (misses, kept)
    assert cache.redact(second) == redact(second.decode())
    # the next turn: only the pieces around the new item are redacted again
    assert cache.misses - misses <= 3
    assert cache.hits >= kept - 3


def test_the_cache_stays_within_its_bound() -> None:
    cache = RedactionCache(min_piece=64, max_bytes=4096)
    for n in range(200):
        cache.redact(b",".join(b'{"n": %d, "text": "%s"}' % (n, b"y" * 100) for _ in range(20)))
    assert cache._size <= 4096


def test_render_on_bytes_digests_images_replaces_secrets_and_caps() -> None:
    image = b"\x89PNG" + bytes(range(256)) * 8
    url = "data:image/png;base64," + base64.b64encode(image).decode()
    secret = "opaque-upstream-credential"  # no key shape: only the known-secret pass catches it
    body = {"input": [{"image_url": url}, {"text": f"my {secret} and Authorization: Bearer abcdefgh12345"}]}
    policy = CapturePolicy.build("full", 256 << 10, [secret, "inbound-token-xyz"])
    for form in (body, json.dumps(body, separators=(",", ":")), json.dumps(body, separators=(",", ":")).encode()):
        text = policy.render(form)
        assert text is not None
        assert f"[image: {len(image)} bytes, sha256 {hashlib.sha256(image).hexdigest()[:12]}]" in text
        assert secret not in text
        assert "abcdefgh12345" not in text
        assert text.count(MASK) == 2
    capped = CapturePolicy.build("full", 100, [secret]).render(b"x" * 150 + secret.encode() + "é".encode() * 10)
    assert capped is not None
    assert secret not in capped
    assert capped.endswith(f"[cut: {150 + len(MASK) + 20} bytes, kept 100]")


def test_a_key_across_the_redaction_margin_is_not_half_kept() -> None:
    policy = CapturePolicy.build("full", 16, [])
    # the margin is far beyond the cap: a key straddling the cap is masked before the cut
    text = policy.render(b"a" * 10 + b" sk-abcdefghijklmnopqrstuvwxyz")
    assert text is not None
    assert "sk-abc" not in text
    assert "ghijkl" not in text


def test_new_sqlite_files_use_big_pages_and_old_files_keep_theirs(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "new.db")
    store.open()
    store.close()
    with sqlite3.connect(tmp_path / "new.db") as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    store = SqliteStore(old)
    store.open()
    store.close()
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096


_ITEMS = st.lists(st.sampled_from(['{"a":1}', '{"b":"xx"}', '{"c":"' + "y" * 30 + '"}', "{}", '{"d":[1,{"e":2}]}']))


@settings(max_examples=300, deadline=None)
@given(_ITEMS, _ITEMS, _ITEMS, _ITEMS, st.integers(1, 40))
def test_a_session_request_cuts_as_if_seen_alone(
    head: list[str], old: list[str], new: list[str], tail: list[str], min_piece: int
) -> None:
    """The pieces reused from the session's previous request are the ones cutting anew would give."""

    def body(items: list[str]) -> bytes:
        return ("[" + ",".join(items) + '],"prompt_cache_key":"s1"}').encode()

    before, after = body(head + old + tail), body(head + new + tail)
    cache = RedactionCache(min_piece=min_piece)
    _, alone, _ = split(after, min_piece, None, [])
    _, previous_raws, _ = split(before, min_piece, None, [])
    first, raws, last = split(after, min_piece, before, [len(raw) for raw in previous_raws])
    assert [*previous_raws[:first], *raws, *previous_raws[last:]] == alone
    # and through the public path, the text is the plain redaction whatever was remembered
    assert cache.redact(before) == redact(before.decode())
    assert cache.redact(after) == redact(after.decode())


def test_a_growing_codex_session_reuses_its_previous_request() -> None:
    from bench.sessions import session_bodies

    base = json.loads(FIXTURE.read_text())
    base["prompt_cache_key"] = "x"
    bodies = session_bodies(7, 6, base)
    cache = RedactionCache()
    for n, data in enumerate(bodies):
        misses = cache.misses
        assert cache.redact(data) == redact(data.decode())
        if n > 1:
            assert cache.misses - misses <= 3  # the turn's new items, not the whole request
