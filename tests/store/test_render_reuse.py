"""Rendering a Codex session's bodies from what its previous request left: the same text and digests
as redacting each body whole, with only the new bytes searched."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimo2codex import redaction
from mimo2codex.store import capture, redaction_cache
from mimo2codex.store.capture import CapturePolicy
from mimo2codex.store.cuts import split
from mimo2codex.store.redaction_cache import RedactionCache
from mimo2codex.store.unseen import SPLITS, known_runs, unseen

SECRET = "opaque-upstream-credential"  # no key shape: only the known-secret pass catches it
IMAGE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"

_TEXT = [
    "plain words about the code",
    ", ",
    '","',
    ",{",
    "},{",
    '"api_key": "abcdef123456"',
    "token=zyxwvut9876",
    "tokens: 4096",
    "max_tokens: 4096",
    "Authorization: Bearer abcdefgh12345",
    "sk-abcdefghijklmnop0123",
    "tp-ABCDEFGHIJKLMNOP",
    "keyboard",
    "secret",
    "PASSWORD=hunter2hunter2",
    "é",
    "密钥",
    "\u00a0",
    "\u212aey=abcdefgh12345",  # the Kelvin sign: case-insensitive matching reads it as "K"
    SECRET,
    IMAGE,
    "x" * 300,
]


def _body(items: list[str], tools: list[str], session: str = "s1") -> bytes:
    request = {
        "model": "gpt-5-codex",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]} for t in items],
        "tools": [{"type": "function", "name": f"tool{n}", "description": t} for n, t in enumerate(tools)],
        "prompt_cache_key": session,
    }
    return json.dumps(request, separators=(",", ":"), ensure_ascii=False).encode()


def _expected(policy: CapturePolicy, data: bytes) -> str:
    """The whole body prepared and redacted by the plain four-pattern scan (no anchors, no pieces)."""
    return redaction._redact_scan(policy._prepare(data).decode())


def _policy(min_piece: int, secrets: list[str]) -> CapturePolicy:
    policy = CapturePolicy.build("full", 1 << 20, secrets)
    return dataclasses.replace(policy, cache=RedactionCache(min_piece=min_piece))


def _check(policy: CapturePolicy, data: bytes) -> None:
    pieces = policy.render_pieces(data)
    assert pieces is not None
    assert "".join(piece.text for piece in pieces) == _expected(policy, data)
    for piece in pieces:
        assert piece.size == len(piece.text.encode())
        assert piece.digest == hashlib.blake2b(piece.text.encode(), digest_size=16).digest()


_ITEMS = st.lists(st.lists(st.sampled_from(_TEXT), min_size=1, max_size=6).map("".join), min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_ITEMS, min_size=2, max_size=6),
    st.lists(st.sampled_from(_TEXT), min_size=1, max_size=5),
    st.integers(16, 400),
    st.booleans(),
)
def test_a_session_renders_as_each_body_redacted_whole(
    turns: list[list[str]], tools: list[str], min_piece: int, with_secret: bool
) -> None:
    policy = _policy(min_piece, [SECRET] if with_secret else [])
    items: list[str] = []
    for new in turns:
        items += new  # each turn resends the previous one with new items before the tools
        _check(policy, _body(items, tools))


def test_a_key_in_a_later_turn_is_found_where_the_previous_turn_was_plain() -> None:
    policy = _policy(64, [SECRET])
    tools = ["runs a command in a shell" * 4, "applies a patch to files" * 4]
    items = [f"turn zero words {n} " * 8 for n in range(6)]
    _check(policy, _body(items, tools))
    for planted in ("api_key=abcdef123456", "sk-abcdefghijklmnop0123", SECRET, IMAGE, "password: hunter22,"):
        items.append("ordinary words " * 10 + planted + " more words " * 10)
        data = _body(items, tools)
        _check(policy, data)
        text = policy.render(data)
        assert text is not None
        for kept in ("abcdef123456", "abcdefghijklmnop0123", SECRET, "hunter22", "iVBORw0KGgo"):
            assert kept not in text


def test_a_secret_with_a_comma_is_replaced_across_cuts() -> None:
    secret = 'abc},{"def'  # spans a cut once the body is cut between its "," and "{"
    policy = _policy(16, [secret])
    data = b"[" + b",".join(b'{"n":"%d aaaaaaaaaaaaaaaa%s"}' % (n, b"abc" if n % 3 == 0 else b"") for n in range(30))
    data += b',{"def":1}],"prompt_cache_key":"s1"}'
    for _ in range(2):
        text = policy.render(data)
        assert text is not None
        assert secret not in text
        assert text == _expected(policy, data)


def _searched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the texts the redaction cache has searched (redacted, or checked unchanged, or
    told clean in one pass: a pass that could not tell is followed by one of the others)."""
    sizes: list[int] = []
    real, real_unchanged = redaction_cache.redact_utf8, redaction_cache.unchanged_utf8
    real_clean = capture.Untouched.__call__

    def spy_clean(self: capture.Untouched, raw: bytes) -> bool:
        told = real_clean(self, raw)
        if told:
            sizes.append(len(raw))
        return told

    def spy(raw: bytes) -> str:
        sizes.append(len(raw))
        return real(raw)

    def spy_unchanged(raw: bytes) -> bool:
        sizes.append(len(raw))
        return real_unchanged(raw)

    monkeypatch.setattr(redaction_cache, "redact_utf8", spy)
    monkeypatch.setattr(redaction_cache, "unchanged_utf8", spy_unchanged)
    monkeypatch.setattr(capture.Untouched, "__call__", spy_clean)
    return sizes


def test_a_codex_turn_searches_only_the_bytes_its_previous_request_lacked(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.sessions import session_bodies
    from bench.store_data import codex_request_body

    bodies = session_bodies(3, 6, json.loads(codex_request_body()))
    policy = CapturePolicy.build("full", 256 << 10, [SECRET])
    searched = _searched(monkeypatch)
    for n, data in enumerate(bodies):
        searched.clear()
        old, raws = policy.cache._sessions.get(redaction_cache._session_of(data)), None
        _check(policy, data)
        if n:
            assert old is not None
            assert old[3]  # the previous request came back as it was: plain
            _, raws, _ = split(data, policy.cache.min_piece, old[0], old[1])
            # one search, over less than the new pieces (not their whole: the previous turn's
            # last item and the first tool were redacted with the previous request)
            assert len(searched) == 1
            assert 0 < searched[0] < sum(map(len, raws)) * 0.8
        if n >= 2:  # the previous turn left where its items ended: nothing measured again
            assert old is not None
            assert old[4] is not None
            assert known_runs(data, old[0], old[4]) is not None


def test_a_session_with_a_key_is_redacted_piece_by_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    tools = ["runs a command in a shell " * 10]
    items = ["api_key=abcdef123456 " * 3] + ["words " * 60 for _ in range(8)]
    policy = _policy(128, [])
    _check(policy, _body(items, tools))
    searched = _searched(monkeypatch)
    items.append("new words " * 40)
    data = _body(items, tools)
    _check(policy, data)
    state = policy.cache._sessions[b"s1"]
    assert not state[3]  # not plain: the next turn may not take the previous bytes as searched
    assert searched  # the new pieces were searched whole
    assert "abcdef123456" not in (policy.render(data) or "")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(['{"a":1}', '{"b":"x,y"}', '{"c":"' + "y" * 30 + '"}', '"k"', "1", "{}"]), max_size=30),
    st.lists(st.sampled_from(['{"n":0}', '{"m":"z"}', '"q"']), min_size=1, max_size=6),
    st.lists(st.sampled_from(['{"t":2}', '{"u":"v,w"}', '"r"']), max_size=20),
    st.integers(1, 64),
)
def test_unseen_leaves_out_only_bytes_the_previous_request_had_at_a_split(
    head: list[str], new: list[str], tail: list[str], grain: int
) -> None:
    def body(items: list[str]) -> bytes:
        return ("[" + ",".join(items) + "]").encode()

    old, data = body(head + tail), body(head + new + tail)
    shift = len(old) - len(data)
    a, b, tail_at = unseen(data, 0, len(data), old, shift, grain)
    _assert_unseen(data, old, a, b, tail_at)


def _assert_unseen(data: bytes, old: bytes, a: int, b: int, tail_at: int) -> None:
    shift = len(old) - len(data)
    assert 0 <= a <= b <= len(data)
    assert data[:a] == old[:a]
    assert data[b:] == old[b + shift :]
    assert a == 0 or data[a - 1 : a + 1] in SPLITS
    assert b == len(data) or data[b - 1 : b + 1] in SPLITS
    assert tail_at <= b
    assert data[tail_at:] == old[tail_at + shift :]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(['{"a":1}', '{"b":"x,y"}', '{"c":"' + "y" * 90 + '"}', '"k"', "1"]), max_size=30),
    # a turn's items end unlike those before them, but for a byte or two ("}, a quote)
    st.lists(st.sampled_from(['{"n":0}', '{"m":"z"}', '"q"']), min_size=1, max_size=6),
    st.lists(st.sampled_from(['{"n":0}', '{"p":"' + "z" * 60 + '"}', "2"]), min_size=1, max_size=6),
    st.lists(st.sampled_from(['{"t":2}', '{"u":"v,w"}', '"r"']), max_size=20),
    st.integers(4, 64),
)
def test_a_turn_inserting_where_the_last_one_did_takes_its_runs_from_it(
    head: list[str], first: list[str], second: list[str], tail: list[str], grain: int
) -> None:
    def body(items: list[str]) -> bytes:
        return ("[" + ",".join(items) + "]").encode()

    older, old, data = body(head + tail), body(head + first + tail), body(head + first + second + tail)
    _, _, tail_at = unseen(old, 0, len(old), older, len(older) - len(old), grain)
    runs = known_runs(data, old, tail_at, grain)
    if grain < tail_at <= len(old) - grain:  # both runs are taken a grain short of that place
        assert runs is not None
    if runs is not None:
        prefix, suffix = runs
        assert data[:prefix] == old[:prefix]
        assert data[suffix:] == old[suffix + len(old) - len(data) :]
        a, b, run_start = unseen(data, 0, len(data), old, len(old) - len(data), grain, runs)
        _assert_unseen(data, old, a, b, run_start)
        assert run_start == suffix


def test_known_runs_refuse_a_request_not_made_by_inserting_there() -> None:
    old = b'[{"a":1},{"b":2},{"t":9},{"u":8}]'
    tail_at = old.index(b'{"t"')
    inserted = old[:tail_at] + b'{"n":0},' + old[tail_at:]
    assert known_runs(inserted, old, tail_at, grain=4) == (tail_at - 4, tail_at + 4 + 8)
    assert known_runs(old.replace(b'"a":1', b'"a":2'), old, tail_at, grain=4) is None  # the start differs
    assert known_runs(old.replace(b'"u":8', b'"u":7'), old, tail_at, grain=4) is None  # the end differs
    assert known_runs(inserted, old, len(old) + 5, grain=4) is None  # past the end


def test_unseen_uses_the_equal_start_and_end() -> None:
    items = [f'{{"item":{n},"text":"{"w" * 200}"}}' for n in range(20)]
    old = ("[" + ",".join(items) + "]").encode()
    data = ("[" + ",".join([*items[:10], '{"new":1}', *items[10:]]) + "]").encode()
    a, b, _ = unseen(data, 0, len(data), old, len(old) - len(data))
    assert b - a < 2 * 128 + 400  # the new item and at most a grain of each equal run around it
    assert data[a:b].count(b'{"new":1}') == 1


def test_plain_pieces_hash_their_raw_bytes_and_size_non_ascii() -> None:
    tools = ["工具说明 " * 40]
    items = [f"第{n}轮 words é " * 20 for n in range(6)]
    policy = _policy(64, [])
    for turn in range(3):
        items.append(f"新的 {turn} " * 30)
        _check(policy, _body(items, tools))
    assert policy.cache._sessions[b"s1"][3]


_GROWERS = st.sampled_from(
    [
        b"\xff",  # invalid UTF-8: U+FFFD, 3 bytes
        b"abcd",  # a known secret of 4 bytes: the 10 of the mask
        b" api-key:x",  # a header value of 1 byte
        b" data:image/a;base64,A",  # the shortest data URL
        b" key=abcdefg1",
        b"plain text ",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_GROWERS, max_size=60))
def test_a_rendering_is_at_most_three_times_its_bytes(parts: list[bytes]) -> None:
    """The bound render_pieces relies on to skip adding up the pieces of a body under a third of the
    cap (capture._MAX_GROWTH), on the bytes that grow the most."""
    body = b"".join(parts)
    policy = CapturePolicy.build("full", 1 << 20, ["abcd"])
    pieces = policy.render_pieces(body)
    assert pieces is not None
    size = len("".join(piece.text for piece in pieces).encode("utf-8", "surrogatepass"))
    assert size <= capture._MAX_GROWTH * len(body)
    # and under a third of a cap, nothing is cut
    small = body[: len(body) // 3]
    assert "[cut:" not in (CapturePolicy.build("full", len(small) * 3, ["abcd"]).render(small) or "")
