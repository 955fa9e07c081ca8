"""The chat passthrough core: a chat body adapted to the routed model, error events scrubbed whole."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mimo2codex.protocol.passthrough import ErrorEventScrubber, adapt_chat_request
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.sse import SSEDecoder
from mimo2codex.redaction import redact
from mimo2codex.settings import load_settings

KEY = "plainkeywithoutanyshape0123456789"


def profile(model: str) -> UpstreamProfile:
    settings = load_settings({"MIMO_API_KEY": "sk-mimo-0123456789abcdef", "DEEPSEEK_API_KEY": "sk-ds-0123456789abcdef"})
    route = settings.router().route(model)
    return route.provider.profile(route.upstream_model)


def tool_history() -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "ls", "arguments": "{}"}}
    return [
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "a.txt"},
        {"role": "assistant", "content": "one file", "reasoning_content": "counted it"},
        {"role": "user", "content": "thanks"},
    ]


def test_mimo_thinking_model_gets_its_quirks() -> None:
    body = {
        "model": "mimo-v2.5-pro",
        "messages": tool_history(),
        "max_tokens": 500,
        "temperature": 0.2,
        "tools": [{"type": "function", "function": {"name": "ls", "parameters": {}, "strict": None}}],
    }
    adapted, notes = adapt_chat_request(body, profile("mimo-v2.5-pro"))
    assert adapted["thinking"] == {"type": "enabled"}
    assert "temperature" not in adapted  # fixed by MiMo in thinking mode
    assert adapted["max_completion_tokens"] == 500
    assert "max_tokens" not in adapted
    assert "strict" not in adapted["tools"][0]["function"]
    assert adapted["parallel_tool_calls"] is True
    # The tool-calling turn had no reasoning: backfilled, the closing answer kept its own.
    assistants = [m for m in adapted["messages"] if m["role"] == "assistant"]
    assert assistants[0]["reasoning_content"]
    assert assistants[1]["reasoning_content"] == "counted it"
    assert {note.code for note in notes} >= {"dropped_field", "reasoning_backfilled"}


def test_a_boolean_strict_is_kept() -> None:
    tools = [{"type": "function", "function": {"name": "ls", "parameters": {}, "strict": True}}]
    adapted, _ = adapt_chat_request({"model": "m", "messages": [], "tools": tools}, profile("mimo-v2.5-pro"))
    assert adapted["tools"][0]["function"]["strict"] is True


def test_the_clients_own_thinking_field_wins() -> None:
    body = {"model": "mimo-v2.5-pro", "messages": [], "thinking": {"type": "disabled"}}
    adapted, _ = adapt_chat_request(body, profile("mimo-v2.5-pro"))
    assert adapted["thinking"] == {"type": "disabled"}


def test_an_alias_is_sent_as_the_catalog_id_and_max_completion_tokens_mapped_back() -> None:
    adapted, _ = adapt_chat_request(
        {"model": "deepseek-v4-pro", "messages": [], "max_completion_tokens": 64}, profile("deepseek-v4-pro")
    )
    assert adapted["max_tokens"] == 64
    assert "max_completion_tokens" not in adapted
    assert adapted["model"] == "deepseek-v4-pro"


def test_legacy_reasoner_gets_reasoning_stripped() -> None:
    adapted, _ = adapt_chat_request({"model": "x", "messages": tool_history()}, profile("deepseek-reasoner"))
    assert all("reasoning_content" not in m for m in adapted["messages"])


def test_inline_replay_puts_the_thinking_back_into_the_content() -> None:
    """MiniMax wants its <think> block back inside the answer text, on chat passthrough too."""
    settings = load_settings(
        {"GENERIC_BASE_URL": "https://api.minimax.io/v1", "GENERIC_API_KEY": "k", "GENERIC_DEFAULT_MODEL": "MiniMax-M2"}
    )
    route = settings.router().route("MiniMax-M2")
    adapted, _ = adapt_chat_request(
        {"model": "MiniMax-M2", "messages": tool_history()}, route.provider.profile(route.upstream_model)
    )
    answer = adapted["messages"][3]
    assert answer["content"] == "<think>\ncounted it\n</think>\n\none file"
    assert "reasoning_content" not in answer


def test_reasoning_effort_dropped_where_unsupported() -> None:
    adapted, notes = adapt_chat_request(
        {"model": "x", "messages": [], "reasoning_effort": "high"}, profile("mimo-v2.5-pro")
    )
    assert "reasoning_effort" not in adapted
    assert [note.code for note in notes] == ["reasoning_effort"]


# -- the error-event scrubber ------------------------------------------------------------------


def scrub(text: str) -> str:
    return redact(text, (KEY,))


def run(pieces: list[bytes]) -> bytes:
    scrubber = ErrorEventScrubber(scrub)
    out = b"".join(scrubber.feed(piece) for piece in pieces)
    return out + scrubber.flush()


CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
ERROR = b'data: {"error":{"message":"invalid key ' + KEY.encode() + b'","type":"auth"}}\n\n'


def test_a_key_split_across_two_reads_is_scrubbed() -> None:
    stream = CHUNK + ERROR + b"data: [DONE]\n\n"
    cut = stream.index(KEY.encode()) + len(KEY) // 2
    out = run([stream[:cut], stream[cut:]])
    assert KEY.encode() not in out
    events = SSEDecoder().feed(out)
    assert orjson.loads(events[1].data)["error"]["message"] == "invalid key [REDACTED]"
    assert events[2].data == "[DONE]"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_every_split_gives_the_same_bytes(size: int) -> None:
    stream = CHUNK + b"event: error\r\n" + ERROR.replace(b"\n", b"\r\n") + b": comment\n\n" + CHUNK
    whole = run([stream])
    assert run([stream[i : i + size] for i in range(0, len(stream), size)]) == whole
    assert KEY.encode() not in whole
    # Non-error events and comments go through byte for byte; the error event keeps its name.
    assert whole.startswith(CHUNK)
    assert whole.endswith(b": comment\n\n" + CHUNK)
    assert SSEDecoder().feed(whole)[1].event == "error"


def test_output_is_whole_events_only() -> None:
    scrubber = ErrorEventScrubber(scrub)
    assert scrubber.feed(CHUNK[:10]) == b""
    assert scrubber.feed(CHUNK[10:] + CHUNK[:5]) == CHUNK
    assert scrubber.feed(CHUNK[5:-1]) == b""
    assert scrubber.feed(b"\n") == CHUNK


def test_a_cr_at_the_end_of_a_read_waits_for_its_lf() -> None:
    scrubber = ErrorEventScrubber(scrub)
    event = CHUNK.replace(b"\n", b"\r\n")
    assert scrubber.feed(event[:-1]) == b""
    assert scrubber.feed(event[-1:]) == event


def test_a_last_event_without_its_blank_line_is_flushed_scrubbed() -> None:
    scrubber = ErrorEventScrubber(scrub)
    assert scrubber.feed(ERROR.rstrip(b"\n")) == b""
    tail = scrubber.flush()
    assert KEY.encode() not in tail
    assert b"[REDACTED]" in tail


def test_an_error_event_without_a_secret_is_untouched() -> None:
    clean = b'data: {"error":{"message":"overloaded"}}\n\n'
    assert run([clean]) == clean
