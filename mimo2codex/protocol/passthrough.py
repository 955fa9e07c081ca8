"""The Chat Completions passthrough: a client's chat body adapted to the routed model, and its stream scrubbed.

A chat client speaks the upstream's own dialect, so its body goes through nearly untouched; only
what the vendor would reject or mishandle is adapted, from the same :class:`UpstreamProfile` the
Responses translator reads (MiMo's ``thinking`` switch, dropped fields, the max-tokens field name,
reasoning replay rules)::

    body, notes = adapt_chat_request(client_body, provider.profile(model))

Upstream error events can echo the key the vendor rejected. :class:`ErrorEventScrubber` cuts the
upstream bytes into whole events (a key split across two network reads is whole again), passes
every other event on byte for byte, and re-encodes only an error event, its data scrubbed::

    scrubber = ErrorEventScrubber(scrub)
    for piece in upstream_pieces:
        client.write(scrubber.feed(piece))
    client.write(scrubber.flush())
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.reasoning import replay
from mimo2codex.protocol.sse import SSEDecoder

#: the chat field names of "at most N output tokens"; a vendor reads only one of them
_MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")


def adapt_chat_request(body: dict[str, Any], profile: UpstreamProfile) -> tuple[dict[str, Any], list[Note]]:
    """``body`` (a client's chat request) made acceptable to ``profile``'s model; mutated and returned.

    Fields the client set itself win over the profile's extra fields: a chat client that sends
    ``thinking`` knows what it asks for. Fields the vendor rejects are removed last, as on the
    Responses path.
    """
    notes: list[Note] = []
    label = profile.label or profile.model
    body["model"] = profile.model
    _max_tokens(body, profile)
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            function = tool.get("function") if isinstance(tool, dict) else None
            # MiMo and MiniMax reject ``strict: null`` (SDKs serialise an unset field as null).
            if isinstance(function, dict) and "strict" in function and not isinstance(function["strict"], bool):
                del function["strict"]
        if tools and profile.force_parallel_tool_calls:
            body["parallel_tool_calls"] = True
    if "reasoning_effort" in body and not profile.supports_reasoning_effort:
        notes.append(Note("info", "reasoning_effort", label, f"reasoning_effort is not sent: {label} does not take it"))
        del body["reasoning_effort"]
    messages = body.get("messages")
    if isinstance(messages, list):
        _replay_reasoning([m for m in messages if isinstance(m, dict)], profile, notes)
    for key, value in profile.extra_body.items():
        body.setdefault(key, value)
    for field in profile.drop_fields:
        if body.pop(field, None) is not None:
            notes.append(Note("debug", "dropped_field", field, f"dropped {field!r}: {label} rejects it"))
    return body, notes


def _max_tokens(body: dict[str, Any], profile: UpstreamProfile) -> None:
    wanted = profile.max_tokens_field
    for other in _MAX_TOKENS_FIELDS:
        if other != wanted and other in body:
            value = body.pop(other)
            body.setdefault(wanted, value)


def _replay_reasoning(messages: list[dict[str, Any]], profile: UpstreamProfile, notes: list[Note]) -> None:
    filled = replay(messages, profile.reasoning_replay, profile.reasoning_backfill)
    if filled:
        notes.append(
            Note(
                "debug",
                "reasoning_backfilled",
                profile.label or profile.model,
                f"backfilled reasoning_content on {filled} assistant message(s)",
            )
        )


# A blank line ends an event; a line ends in CRLF, LF or CR. A CR ending the buffered bytes may be
# the first half of a CRLF: :meth:`ErrorEventScrubber.feed` waits for the next byte before cutting.
_EVENT_END = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")


class ErrorEventScrubber:
    """Upstream SSE bytes in, the same bytes out, with keys scrubbed from error events.

    Output is always whole events, so a keepalive comment may be sent whenever :meth:`feed` returned.
    ``scrub`` is the redaction (the I/O shell passes the provider's key to it).
    """

    __slots__ = ("_buffer", "_scrub")

    def __init__(self, scrub: Callable[[str], str]) -> None:
        self._scrub = scrub
        self._buffer = b""

    def feed(self, data: bytes) -> bytes:
        """The whole events completed by ``data``, ready for the client."""
        buffer = self._buffer + data
        cut = 0
        out: list[bytes] = []
        for match in _EVENT_END.finditer(buffer):
            if match.end() == len(buffer) and buffer.endswith(b"\r"):
                break  # "\r" then maybe "\n": not yet known where this event ends
            out.append(self._event(buffer[cut : match.end()]))
            cut = match.end()
        self._buffer = buffer[cut:]
        return b"".join(out)

    def flush(self) -> bytes:
        """At the end of the stream: whatever is left (an event without its blank line)."""
        rest, self._buffer = self._buffer, b""
        return self._event(rest) if rest else b""

    def _event(self, raw: bytes) -> bytes:
        if b'"error"' not in raw:
            return raw
        decoder = SSEDecoder()
        events = decoder.feed(raw) + decoder.flush()
        if len(events) != 1:
            return raw
        event = events[0]
        data = self._scrub(event.data)
        if data == event.data:
            return raw
        head = f"event: {event.event}\n" if event.event is not None else ""
        lines = "".join(f"data: {line}\n" for line in data.split("\n"))
        return f"{head}{lines}\n".encode()
