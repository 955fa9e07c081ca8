"""Server-sent events: the incremental decoder for upstream streams, and the encoder for ours.

The decoder is a sans-IO state machine (like httpx's content decoders): the caller feeds whatever
bytes the socket produced and gets back the events completed so far. Network chunks split lines, CRLF
pairs and UTF-8 sequences anywhere, so the decoder only ever decodes whole lines::

    decoder = SSEDecoder()
    for piece in body_pieces:
        for event in decoder.feed(piece):
            chunk = parse_chat_data(event.data)
            ...
    tail = decoder.flush()  # an upstream may omit the blank line after its last event
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from typing import Any, Final, Literal, NamedTuple

import orjson

from mimo2codex.protocol.notes import Note

#: A comment line; keeps Codex's idle timer (``stream_idle_timeout_ms``) from firing (CONTRACT §1.8).
KEEPALIVE: Final = b": keepalive\n\n"

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SSEEvent(NamedTuple):
    # A named tuple rather than a frozen dataclass: one is built per upstream chunk, and a frozen
    # dataclass's __init__ (object.__setattr__ per field) costs twice as much.
    event: str | None
    data: str
    id: str | None = None


class SSEDecoder:
    """Bytes in, :class:`SSEEvent` out, following the WHATWG event-stream parsing rules."""

    __slots__ = ("_data", "_event", "_id", "_pending", "_skip_lf", "_started")

    def __init__(self) -> None:
        # bytes of the current, unterminated line (kept as pieces: joining once is linear)
        self._pending: list[bytes] = []
        # the previous feed ended in "\r": a "\n" opening the next one belongs to that line break
        self._skip_lf = False
        self._started = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, data: bytes) -> list[SSEEvent]:
        """The events completed by ``data``."""
        if self._skip_lf and data:
            self._skip_lf = False
            if data[0] == 0x0A:
                data = data[1:]
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if cut < 0:
            if data:
                self._pending.append(data)
            return []
        if self._pending:
            self._pending.append(data[: cut + 1])
            block = b"".join(self._pending)
            self._pending = []
        else:
            block = data[: cut + 1]
        rest = data[cut + 1 :]
        if rest:
            self._pending.append(rest)
        elif data[cut] == 0x0D:
            self._skip_lf = True
        # Line breaks are ASCII and never occur inside a UTF-8 sequence, so a block of whole lines
        # always decodes cleanly when the upstream sends valid UTF-8.
        text = block.decode("utf-8", errors="replace")
        if "\r" in text:
            lines = _LINE_BREAK.split(text)
        elif self._started and not self._data and self._event is None:
            return self._whole_events(text)
        else:
            lines = text.split("\n")
        lines.pop()  # the block ends with a line break: the last piece is empty
        return self._process(lines)

    def _whole_events(self, text: str) -> list[SSEEvent]:
        """``text`` (whole ``\n`` lines, no event pending): nearly every event is one ``data: `` line,
        taken without going line by line; any other event goes through :meth:`_process`."""
        pieces = text.split("\n\n")
        tail = pieces.pop()  # "" after a blank line, else the lines of an event still open
        events: list[SSEEvent] = []
        for piece in pieces:
            if piece.startswith("data: ") and "\n" not in piece:
                events.append(SSEEvent(None, piece[6:], self._id))
            else:
                lines = piece.split("\n")
                lines.append("")
                events += self._process(lines)
        if tail:
            lines = tail.split("\n")
            lines.pop()  # the text ends with a line break
            events += self._process(lines)
        return events

    def flush(self) -> list[SSEEvent]:
        """At end of stream: the last line and event, even without their terminators."""
        lines: list[str] = []
        if self._pending:
            lines.append(b"".join(self._pending).decode("utf-8", errors="replace"))
            self._pending = []
        lines.append("")
        self._skip_lf = False
        return self._process(lines)

    def _process(self, lines: list[str]) -> list[SSEEvent]:
        if not self._started and lines:
            self._started = True
            if lines[0].startswith("\ufeff"):
                lines[0] = lines[0][1:]
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            # The common line first: upstream chunks are one "data: {...}" line each.
            if line.startswith("data: "):
                data.append(line[6:])
            elif not line:
                if data:
                    events.append(SSEEvent(self._event, data[0] if len(data) == 1 else "\n".join(data), self._id))
                    data = self._data = []
                self._event = None
            elif line[0] != ":":
                name, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    data.append(value)
                elif name == "event":
                    self._event = value
                elif name == "id" and "\0" not in value:
                    self._id = value
        return events


_PREFIXES: dict[str, bytes] = {}


def _prefix(kind: str) -> bytes:
    prefix = _PREFIXES.get(kind)
    if prefix is None:
        prefix = b"event: " + kind.encode() + b"\ndata: "
        if len(_PREFIXES) < 256:  # the event types are a small fixed set; never grow without bound
            _PREFIXES[kind] = prefix
    return prefix


def encode_event(event: dict[str, Any]) -> bytes:
    """One Responses event as SSE bytes; Codex reads only ``data`` (its ``type``), the SDK both."""
    return b"".join((_prefix(event["type"]), orjson.dumps(event), b"\n\n"))


def encode_events(events: Iterable[dict[str, Any]]) -> bytes:
    """Several events as one piece of SSE bytes (one write to the client), same bytes as
    ``b"".join(map(encode_event, events))`` with a single copy."""
    parts: list[bytes] = []
    append = parts.append
    dumps = orjson.dumps
    for event in events:
        append(_prefix(event["type"]))
        append(dumps(event))
        append(b"\n\n")
    return b"".join(parts)


class _Sentinel(Enum):
    DONE = "[DONE]"


#: What :func:`parse_chat_data` returns for the ``data: [DONE]`` end marker.
DONE: Final = _Sentinel.DONE


def parse_chat_data(data: str) -> dict[str, Any] | Literal[_Sentinel.DONE] | Note:
    """One upstream event's data: a chat chunk, :data:`DONE`, or a Note saying why it was skipped.

    Vendors interleave junk with chunks (blank data lines, plain-text proxy messages); skipping it
    beats failing a turn that is otherwise fine.
    """
    stripped = data.strip()
    if stripped == "[DONE]":
        return DONE
    if not stripped:
        return Note("debug", "empty_sse_data", "", "skipped an upstream SSE event with empty data")
    try:
        value = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return Note("warning", "non_json_sse_data", stripped[:200], "skipped upstream SSE data that is not JSON")
    if not isinstance(value, dict):
        return Note("warning", "non_object_sse_data", stripped[:200], "skipped upstream SSE data that is not an object")
    return value
