"""SSEDecoder, encode_event and parse_chat_data."""

from __future__ import annotations

import random

import orjson
import pytest

from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.sse import DONE, KEEPALIVE, SSEDecoder, SSEEvent, encode_event, parse_chat_data


def decode(*pieces: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.flush()


def every_split(data: bytes) -> list[list[bytes]]:
    return [[data[:cut], data[cut:]] for cut in range(len(data) + 1)]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_endings(eol: bytes) -> None:
    data = b"event: a" + eol + b"data: 1" + eol + eol + b"data: 2" + eol + eol
    expected = [SSEEvent("a", "1"), SSEEvent(None, "2")]
    assert decode(data) == expected
    for pieces in every_split(data):
        assert decode(*pieces) == expected, pieces
    assert decode(*[data[i : i + 1] for i in range(len(data))]) == expected


def test_crlf_split_between_cr_and_lf_is_one_line_break() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r") == [SSEEvent(None, "x")]
    assert decoder.feed(b"\ndata: y\r\n\r\n") == [SSEEvent(None, "y")]


def test_lone_cr_then_text_in_next_chunk() -> None:
    # "\r" ends a line; the next chunk starting with a letter must not be swallowed.
    assert decode(b"data: a\r", b"data: b\r\r") == [SSEEvent(None, "a\nb")]


def test_split_inside_utf8_sequences() -> None:
    text = "你好 👋🏽 ok"
    data = f"data: {text}\n\n".encode()
    for pieces in every_split(data):
        assert decode(*pieces) == [SSEEvent(None, text)]
    assert decode(*[data[i : i + 1] for i in range(len(data))]) == [SSEEvent(None, text)]


def test_line_separators_inside_data_are_not_line_breaks() -> None:
    # U+2028 is legal unescaped in JSON; str.splitlines() would cut the event there.
    text = "a\u2028b\x85c\x0cd"
    assert decode(f"data: {text}\n\n".encode()) == [SSEEvent(None, text)]


def test_comments_are_skipped() -> None:
    assert decode(b": keepalive\n\n: OPENROUTER PROCESSING\n\ndata: x\n\n") == [SSEEvent(None, "x")]
    assert decode(KEEPALIVE) == []


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert decode(b'data: {\ndata:  "a": 1\ndata: }\n\n') == [SSEEvent(None, '{\n "a": 1\n}')]


def test_data_with_and_without_space() -> None:
    assert decode(b"data:x\n\ndata: y\n\ndata:  z\n\n") == [
        SSEEvent(None, "x"),
        SSEEvent(None, "y"),
        SSEEvent(None, " z"),
    ]


def test_final_event_without_blank_line_needs_flush() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: first\n\ndata: last") == [SSEEvent(None, "first")]
    assert decoder.flush() == [SSEEvent(None, "last")]
    assert decoder.flush() == []


def test_final_event_with_one_newline() -> None:
    assert decode(b"data: last\n") == [SSEEvent(None, "last")]


def test_event_id_and_unknown_fields() -> None:
    data = b"id: 7\nretry: 100\nfoo: bar\nevent: message\ndata: x\n\ndata: y\n\n"
    # The id persists across events (SSE last-event-id); the event name does not.
    assert decode(data) == [SSEEvent("message", "x", "7"), SSEEvent(None, "y", "7")]


def test_event_without_data_is_not_dispatched() -> None:
    assert decode(b"event: ping\n\ndata: x\n\n") == [SSEEvent(None, "x")]


def test_field_without_colon_and_empty_data() -> None:
    assert decode(b"data\n\n") == [SSEEvent(None, "")]


def test_leading_bom_is_ignored() -> None:
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [SSEEvent(None, "x")]
    assert decode(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [SSEEvent(None, "x")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode(b"data: \xff\xfe\n\n") == [SSEEvent(None, "\ufffd\ufffd")]


def test_long_line_in_many_pieces() -> None:
    payload = "x" * 200_000
    data = f"data: {payload}\n\n".encode()
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    assert decode(*pieces) == [SSEEvent(None, payload)]


def test_random_splits_of_a_mixed_stream() -> None:
    data = (
        b": keep-alive\r\n\r\n"
        + 'data: {"c": "中文 😀"}\r\n\r\n'.encode()
        + b"event: x\ndata: 1\ndata: 2\n\n"
        + b"data: [DONE]\r\r"
    )
    expected = decode(data)
    assert expected == [SSEEvent(None, '{"c": "中文 😀"}'), SSEEvent("x", "1\n2"), SSEEvent(None, "[DONE]")]
    rng = random.Random(7)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 12)))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert decode(*pieces) == expected, cuts


def test_encode_event_round_trips_through_the_decoder() -> None:
    event = {"type": "response.output_text.delta", "sequence_number": 3, "delta": "a\nb\r\u2028 中"}
    encoded = encode_event(event)
    assert encoded.startswith(b"event: response.output_text.delta\ndata: {")
    assert encoded.endswith(b"\n\n")
    assert encoded.count(b"\n") == 3  # JSON escapes the newlines inside strings
    (decoded,) = decode(encoded)
    assert decoded.event == "response.output_text.delta"
    assert orjson.loads(decoded.data) == event


def test_keepalive_is_a_comment() -> None:
    assert KEEPALIVE.startswith(b":")
    assert KEEPALIVE.endswith(b"\n\n")


def test_parse_chat_data() -> None:
    assert parse_chat_data('{"choices": []}') == {"choices": []}
    assert parse_chat_data("[DONE]") is DONE
    assert parse_chat_data(" [DONE] ") is DONE


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("", "empty_sse_data"),
        ("not json", "non_json_sse_data"),
        ("[1]", "non_object_sse_data"),
        ('"text"', "non_object_sse_data"),
        ("{broken", "non_json_sse_data"),
    ],
)
def test_parse_chat_data_reports_junk(data: str, code: str) -> None:
    note = parse_chat_data(data)
    assert isinstance(note, Note)
    assert note.code == code
