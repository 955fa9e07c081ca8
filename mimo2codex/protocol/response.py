"""Non-streamed Chat Completions -> a Responses ``Response`` object.

A whole completion is translated by feeding it, as one chunk, through the same
:class:`~mimo2codex.protocol.stream.StreamTranslator` the streaming route uses, so both routes build
identical items (reasoning, think tags, tool-call raising, citations, usage)::

    response = chat_to_response(upstream_json, ctx)

:func:`synthetic_response` / :func:`synthetic_events` answer without an upstream (the probe
short-circuit) with a valid completed response holding one assistant message.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mimo2codex.protocol.context import ResponseContext
from mimo2codex.protocol.events import Event
from mimo2codex.protocol.stream import StreamTranslator

_ZERO_USAGE: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def chat_to_response(chat: dict[str, Any], ctx: ResponseContext) -> dict[str, Any]:
    """The Response object for a ``chat.completion`` body (an ``{"error": ...}`` body -> status failed)."""
    translator = StreamTranslator(ctx)
    events = translator.feed(completion_as_chunk(chat))
    events += translator.finish()
    terminal: dict[str, Any] = events[-1]["response"]
    return terminal


def completion_as_chunk(chat: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` rewritten as the single ``chat.completion.chunk`` carrying all of it."""
    chunk: dict[str, Any] = {key: chat[key] for key in ("usage", "citations", "error", "object") if key in chat}
    choices = chat.get("choices")
    if isinstance(choices, list):
        chunk["choices"] = [_choice_as_delta(choice) for choice in choices if isinstance(choice, dict)]
    return chunk


def _choice_as_delta(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message")
    delta = dict(message) if isinstance(message, dict) else {}
    tool_calls = delta.get("tool_calls")
    if isinstance(tool_calls, list):
        # Streamed calls are keyed by index; a complete message lists them in order without one.
        delta["tool_calls"] = [
            {"index": position, **call} if isinstance(call, dict) and "index" not in call else call
            for position, call in enumerate(tool_calls)
        ]
    converted = {"index": choice.get("index", 0), "delta": delta, "finish_reason": choice.get("finish_reason")}
    if "usage" in choice:
        converted["usage"] = choice["usage"]
    return converted


def synthetic_events(ctx: ResponseContext, text: str) -> list[Event]:
    """The full event stream of a completed response whose only output is ``text``."""
    translator = StreamTranslator(dataclasses.replace(ctx, think_tags=False))
    events = translator.start()
    events += translator.feed(
        {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}], "usage": _ZERO_USAGE}
    )
    events += translator.finish()
    return events


def synthetic_response(ctx: ResponseContext, text: str) -> dict[str, Any]:
    """The completed Response object of :func:`synthetic_events`."""
    response: dict[str, Any] = synthetic_events(ctx, text)[-1]["response"]
    return response
