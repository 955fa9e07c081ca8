"""Chat Completions chunks -> Responses stream events, incrementally.

:class:`StreamTranslator` is the one accumulator for model output: the streaming route feeds it each
upstream chunk, and the non-streaming route (``response.py``) feeds it the whole completion as a
single chunk, so both produce the same items::

    translator = StreamTranslator(ctx)
    send(translator.start())                 # response.created, response.in_progress
    for chunk in upstream_chunks:
        send(translator.feed(chunk))
    send(translator.finish())                # closes items, tool calls, response.completed

The event grammar is the one Codex and the openai SDK accept (CONTRACT §1.2, §6, §7): items never
interleave; each goes ``output_item.added`` -> its parts and deltas -> ``output_item.done`` carrying
the complete item, which is all Codex keeps. Tool calls are buffered and emitted at the end, complete:
Codex ignores argument deltas, and vendors interleave the argument pieces of parallel calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import orjson

from mimo2codex.protocol.arguments import parse_object
from mimo2codex.protocol.context import ResponseContext
from mimo2codex.protocol.failure import COMPACT_ADVICE, classify_upstream_failure, is_error_body, to_error
from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.reasoning import seal
from mimo2codex.protocol.toolmap import ToolKind

Event = dict[str, Any]

#: finish_reason -> incomplete_details.reason. Never "interrupted": Codex re-samples forever (§1.5).
_INCOMPLETE: Final = {"length": "max_output_tokens", "content_filter": "content_filter", "sensitive": "content_filter"}
#: finish_reasons that mean the vendor aborted the generation: a retryable failure, not an answer.
_ABORTED: Final = frozenset({"insufficient_system_resource", "network_error", "error", "abort"})
#: GLM: the context window filled up while generating.
_CONTEXT_FULL: Final = frozenset({"model_context_window_exceeded"})

_ITEM_PREFIX: Final = {
    ToolKind.FUNCTION: "fc",
    ToolKind.CUSTOM: "ctc",
    ToolKind.TOOL_SEARCH: "tsc",
    ToolKind.LOCAL_SHELL: "lsh",
}

_THINK_OPEN: Final = "<think>"
_THINK_CLOSE: Final = "</think>"


def convert_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Chat ``usage`` -> Responses ``usage`` with every field Codex and the SDK require (§1.4).

    Cached tokens come from ``prompt_tokens_details.cached_tokens`` (OpenAI, Qwen, GLM), DeepSeek's
    ``prompt_cache_hit_tokens`` or Kimi's top-level ``cached_tokens``.
    """
    prompt = _count(usage.get("prompt_tokens"))
    completion = _count(usage.get("completion_tokens"))
    total = _count(usage.get("total_tokens")) or prompt + completion
    prompt_details = usage.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, dict) else {}
    completion_details = usage.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, dict) else {}
    cached = (
        _count(prompt_details.get("cached_tokens"))
        or _count(usage.get("prompt_cache_hit_tokens"))
        or _count(usage.get("cached_tokens"))
    )
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": cached,
            "cache_write_tokens": _count(prompt_details.get("cache_write_tokens")),
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": _count(completion_details.get("reasoning_tokens"))},
        "total_tokens": total,
    }


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return max(0, int(value))


@dataclass(slots=True)
class _OpenItem:
    kind: Literal["message", "reasoning"]
    id: str
    index: int
    parts: list[str] = field(default_factory=list)
    #: message: upstream content characters before the item's first one (citation offsets)
    base: int = 0
    #: message: (annotation, base) pairs, resolved against the final text at close
    annotations: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class _ToolCall:
    order: int
    index: int | None
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class _ThinkSplitter:
    """Splits ``<think>...</think>`` at the start of content from the text after it, across chunks."""

    __slots__ = ("_buffer", "_state")

    def __init__(self) -> None:
        self._state: Literal["start", "think", "text"] = "start"
        self._buffer = ""

    def feed(self, text: str) -> list[tuple[bool, str]]:
        """(is_reasoning, text) segments, in order; holds back what may be a split tag."""
        if self._state == "text":
            return [(False, text)]
        data = self._buffer + text
        self._buffer = ""
        if self._state == "start":
            stripped = data.lstrip()
            if stripped.startswith(_THINK_OPEN):
                self._state = "think"
                data = stripped[len(_THINK_OPEN) :]
            elif _THINK_OPEN.startswith(stripped):
                self._buffer = data
                return []
            else:
                self._state = "text"
                return [(False, data)]
        end = data.find(_THINK_CLOSE)
        if end >= 0:
            self._state = "text"
            return [(True, data[:end]), (False, data[end + len(_THINK_CLOSE) :])]
        keep = next((k for k in range(len(_THINK_CLOSE) - 1, 0, -1) if data.endswith(_THINK_CLOSE[:k])), 0)
        self._buffer = data[len(data) - keep :] if keep else ""
        return [(True, data[: len(data) - keep])]

    def flush(self) -> list[tuple[bool, str]]:
        """What is held back at the end: an unclosed think block is reasoning, a stray "<thi" text."""
        buffer, self._buffer = self._buffer, ""
        return [(self._state == "think", buffer)] if buffer else []


def _trim_leading_lines(text: str) -> str:
    """``text`` without its leading blank lines (models open answers with "\\n\\n")."""
    body = text.lstrip()
    lead = text[: len(text) - len(body)]
    cut = max(lead.rfind("\n"), lead.rfind("\r"))
    return text[cut + 1 :]


class StreamTranslator:
    """One upstream chat stream -> the Responses events of one response (see the module docstring).

    Events are fresh dicts, but a done item is the same dict in its ``output_item.done`` event and in
    the terminal response's ``output``: serialize events, don't mutate them.
    """

    def __init__(self, ctx: ResponseContext, *, provider: str = "") -> None:
        self._ctx = ctx
        #: named in the messages of errors that arrive inside the stream
        self._provider = provider
        self._suffix = ctx.response_id.removeprefix("resp_")
        self._seq = 0
        self._started = False
        self._status: str | None = None
        self._error: dict[str, str] | None = None
        self._output: list[dict[str, Any]] = []
        self._next_index = 0
        self._open: _OpenItem | None = None
        # whitespace seen while no item of its kind was open: emitted only if real text follows
        self._held_text = ""
        self._held_reasoning = ""
        self._think = _ThinkSplitter() if ctx.think_tags else None
        self._content_chars = 0
        self._calls: list[_ToolCall] = []
        self._by_index: dict[int, _ToolCall] = {}
        self._by_id: dict[str, _ToolCall] = {}
        self._pending_annotations: list[dict[str, Any]] = []
        self._citations: list[str] = []
        self._citations_attached = 0
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None
        self._text: list[str] = []
        self._notes: list[Note] = []

    # -- read-only state for the server and the request log -------------------------------------

    @property
    def usage(self) -> dict[str, Any] | None:
        """The Responses usage reported so far, or None if the upstream sent none."""
        return self._usage

    @property
    def finish_reason(self) -> str | None:
        """The upstream's raw finish_reason; None if it never sent one (a cut-off stream?)."""
        return self._finish_reason

    @property
    def output_started(self) -> bool:
        """True once an output item was emitted: retrying the upstream would then duplicate it."""
        return self._next_index > 0

    @property
    def tool_call_count(self) -> int:
        return len(self._calls)

    @property
    def tool_names(self) -> list[str]:
        """The chat names of the tool calls received so far, in arrival order."""
        return [call.name for call in self._calls]

    @property
    def text(self) -> str:
        """The assistant text emitted so far (all message items)."""
        return "".join(self._text)

    @property
    def status(self) -> str | None:
        """None while streaming; then "completed", "incomplete" or "failed"."""
        return self._status

    @property
    def error(self) -> dict[str, str] | None:
        """``{code, message}`` once the response failed."""
        return self._error

    @property
    def notes(self) -> list[Note]:
        """What was skipped or repaired (non-JSON tool arguments dropped, stray annotations...)."""
        return list(self._notes)

    # -- the state machine -------------------------------------------------------------------------

    def start(self) -> list[Event]:
        """``response.created`` and ``response.in_progress``; later calls return []."""
        if self._started or self._status is not None:
            return []
        self._started = True
        # The opening snapshots leave out the echoed tool list: with Codex's ~20 KB of tool
        # schemas it would triple the bytes of a short answer, and no client reads it before the
        # terminal event, which carries the full echo.
        opening = self._response("in_progress")
        opening["tools"] = []
        return [
            self._event("response.created", response=opening),
            self._event("response.in_progress", response=dict(opening)),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """The events for one parsed ``chat.completion.chunk``."""
        if self._status is not None:
            return []
        events = [] if self._started else self.start()
        if is_error_body(chunk):
            if self._finish_reason is not None:
                self._note("warning", "error_after_finish", "upstream sent an error after its finish_reason")
                return events
            gateway_error = to_error(classify_upstream_failure(0, chunk), self._provider)
            return events + self.fail(gateway_error.failed_code(), gateway_error.message)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._usage = convert_usage(usage)
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices:
            choice = choices[0]  # nearly always the only one
            if not isinstance(choice, dict) or choice.get("index") not in (0, None):
                choice = next((c for c in choices if isinstance(c, dict) and c.get("index") in (0, None)), None)
            if choice is not None:
                self._feed_choice(choice, events)
        citations = chunk.get("citations")
        if isinstance(citations, list):
            for url in citations:
                if isinstance(url, str) and url and url not in self._citations:
                    self._citations.append(url)
        return events

    def finish(self) -> list[Event]:
        """The upstream ended: close what is open, emit the tool calls, then the terminal event."""
        if self._status is not None:
            return []
        events = self.start()
        if self._think is not None:
            self._segments(self._think.flush(), events)
        reason = self._finish_reason
        if reason in _ABORTED:
            return events + self.fail("server_error", f"The upstream stopped generating (finish_reason {reason!r}).")
        if reason in _CONTEXT_FULL:
            return events + self.fail(
                "context_length_exceeded",
                f"The upstream ran out of context window (finish_reason {reason!r}). {COMPACT_ADVICE}",
            )
        incomplete = _INCOMPLETE.get(reason) if reason else None
        self._close(events, "incomplete" if incomplete else "completed")
        if self._pending_annotations:
            self._note("warning", "dropped_annotations", "citations arrived with no assistant text to attach to")
        # A call cut off by the token limit or a dropped stream is unfinished: running a "repaired"
        # truncated command or patch could do damage, so only whole calls survive.
        self._emit_tool_calls(events, require_complete=reason is None or incomplete is not None)
        if reason is None and self._next_index == 0:
            # Nothing usable and no finish_reason: a broken stream, not an empty answer; retryable.
            return events + self.fail("server_error", "The upstream stream ended without any output.")
        if incomplete:
            self._status = "incomplete"
            response = self._response("incomplete", incomplete_details={"reason": incomplete})
            events.append(self._event("response.incomplete", response=response))
        else:
            if reason is not None and reason not in ("stop", "tool_calls", "function_call", "end_turn"):
                self._note("info", "unknown_finish_reason", f"treated finish_reason {reason!r} as stop")
            self._status = "completed"
            events.append(self._event("response.completed", response=self._response("completed")))
        return events

    def fail(self, code: str, message: str) -> list[Event]:
        """``response.failed`` with ``error {code, message}``; items still open are abandoned."""
        if self._status is not None:
            return []
        events = self.start()
        self._status = "failed"
        self._open = None
        self._error = {"code": code, "message": message}
        response = self._response("failed", error=self._error)
        events.append(self._event("response.failed", response=response))
        return events

    # -- chunk contents ----------------------------------------------------------------------------

    def _feed_choice(self, choice: dict[str, Any], events: list[Event]) -> None:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice.get("message")
        if isinstance(delta, dict) and not self._plain_text(delta, events):
            reasoning = delta.get("reasoning_content")
            if not isinstance(reasoning, str) or not reasoning:
                reasoning = delta.get("reasoning")  # vLLM, OpenRouter, Ollama
            if isinstance(reasoning, str) and reasoning:
                self._reasoning(reasoning, events)
            content = delta.get("content")
            if isinstance(content, list):
                content = "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
            if not content and isinstance(delta.get("refusal"), str):
                content = delta["refusal"]  # a refusal part would make Codex drop the message (§1.3)
            if isinstance(content, str) and content:
                self._content_chars += len(content)
                if self._think is not None:
                    self._segments(self._think.feed(content), events)
                else:
                    self._message_text(content, events)
            annotations = delta.get("annotations")
            if isinstance(annotations, list):
                for raw in annotations:
                    annotation = _url_citation(raw)
                    if annotation is not None:
                        self._add_annotation(annotation)
            tool_calls = delta.get("tool_calls")
            if isinstance(tool_calls, list):
                self._tool_deltas(tool_calls)
            function_call = delta.get("function_call")
            if isinstance(function_call, dict):  # the legacy single-call form
                self._tool_deltas([{"index": 0, "function": function_call}])
        usage = choice.get("usage")  # Kimi reports usage inside the choice
        if isinstance(usage, dict):
            self._usage = convert_usage(usage)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._finish_reason = reason

    def _plain_text(self, delta: dict[str, Any], events: list[Event]) -> bool:
        """The common delta, text and nothing else (maybe a role): handled here, without looking for the
        fields it cannot have. False for any other delta."""
        content = delta.get("content")
        if type(content) is not str or not content or self._think is not None:
            return False
        if len(delta) != 1 and (len(delta) != 2 or "role" not in delta):
            return False
        self._content_chars += len(content)
        self._message_text(content, events)
        return True

    def _segments(self, segments: list[tuple[bool, str]], events: list[Event]) -> None:
        for is_reasoning, text in segments:
            if text:
                if is_reasoning:
                    self._reasoning(text, events)
                else:
                    self._message_text(text, events)

    def _reasoning(self, text: str, events: list[Event]) -> None:
        item = self._open
        if item is None or item.kind != "reasoning":
            if not text.strip():
                self._held_reasoning += text
                return
            text = _trim_leading_lines(self._held_reasoning + text)
            self._held_reasoning = ""
            item = self._open_item("reasoning", events)
        item.parts.append(text)
        if self._ctx.expose_reasoning:
            # Built inline (not through _event): this runs once per upstream chunk.
            seq = self._seq
            self._seq = seq + 2
            events.append(
                {
                    "type": "response.reasoning_summary_text.delta",
                    "sequence_number": seq,
                    "item_id": item.id,
                    "output_index": item.index,
                    "summary_index": 0,
                    "delta": text,
                }
            )
            events.append(
                {
                    "type": "response.reasoning_text.delta",
                    "sequence_number": seq + 1,
                    "item_id": item.id,
                    "output_index": item.index,
                    "content_index": 0,
                    "delta": text,
                }
            )

    def _message_text(self, text: str, events: list[Event]) -> None:
        item = self._open
        if item is None or item.kind != "message":
            if not text.strip():
                self._held_text += text
                return
            text = _trim_leading_lines(self._held_text + text)
            self._held_text = ""
            item = self._open_item("message", events)
            item.base = max(0, self._content_chars - len(text))
            item.annotations, self._pending_annotations = self._pending_annotations, []
        item.parts.append(text)
        self._text.append(text)
        # Built inline (not through _event): this runs once per upstream chunk.
        seq = self._seq
        self._seq = seq + 1
        events.append(
            {
                "type": "response.output_text.delta",
                "sequence_number": seq,
                "item_id": item.id,
                "output_index": item.index,
                "content_index": 0,
                "delta": text,
                "logprobs": [],
            }
        )

    def _add_annotation(self, annotation: dict[str, Any]) -> None:
        if self._open is not None and self._open.kind == "message":
            self._open.annotations.append(annotation)
        else:
            self._pending_annotations.append(annotation)

    def _tool_deltas(self, deltas: list[Any]) -> None:
        for delta in deltas:
            if not isinstance(delta, dict):
                continue
            function = delta.get("function")
            function = function if isinstance(function, dict) else {}
            index = delta.get("index")
            index = index if isinstance(index, int) and not isinstance(index, bool) else None
            call_id = delta.get("id")
            call_id = call_id if isinstance(call_id, str) and call_id else ""
            call: _ToolCall | None
            if index is not None:
                call = self._by_index.get(index)
                if call is not None and call_id and call.call_id and call_id != call.call_id:
                    call = None  # a vendor reusing one index for several calls
            elif call_id:
                call = self._by_id.get(call_id)
            else:
                call = self._calls[-1] if self._calls else None  # a continuation without index or id
            if call is None:
                call = _ToolCall(order=len(self._calls), index=index)
                self._calls.append(call)
                if index is not None:
                    self._by_index[index] = call
            if call_id and not call.call_id:
                call.call_id = call_id
                self._by_id[call_id] = call
            name = function.get("name")
            if isinstance(name, str) and name and not call.name:
                call.name = name
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                call.arguments.append(arguments)
            elif isinstance(arguments, dict):  # some servers send an object, not JSON text
                call.arguments = [orjson.dumps(arguments).decode()]

    # -- items -------------------------------------------------------------------------------------

    def _open_item(self, kind: Literal["message", "reasoning"], events: list[Event]) -> _OpenItem:
        self._close(events, "completed")
        index = self._next_index
        self._next_index += 1
        if kind == "message":
            item = _OpenItem(kind, f"msg_{self._suffix}_{index}", index)
            added: dict[str, Any] = {
                "id": item.id,
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
            events.append(self._event("response.output_item.added", output_index=index, item=added))
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=item.id,
                    output_index=index,
                    content_index=0,
                    part={"type": "output_text", "text": "", "annotations": []},
                )
            )
        else:
            item = _OpenItem(kind, f"rs_{self._suffix}_{index}", index)
            added = {"id": item.id, "type": "reasoning", "summary": []}
            events.append(self._event("response.output_item.added", output_index=index, item=added))
            if self._ctx.expose_reasoning:
                common = {"item_id": item.id, "output_index": index}
                events.append(
                    self._event(
                        "response.reasoning_summary_part.added",
                        **common,
                        summary_index=0,
                        part={"type": "summary_text", "text": ""},
                    )
                )
                events.append(
                    self._event(
                        "response.content_part.added",
                        **common,
                        content_index=0,
                        part={"type": "reasoning_text", "text": ""},
                    )
                )
        self._open = item
        return item

    def _close(self, events: list[Event], status: str) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        text = "".join(item.parts)
        common = {"item_id": item.id, "output_index": item.index}
        if item.kind == "reasoning":
            done = reasoning_item(item.id, text, expose=self._ctx.expose_reasoning)
            if self._ctx.expose_reasoning:
                summary_part = {"type": "summary_text", "text": text}
                events.append(self._event("response.reasoning_summary_text.done", **common, summary_index=0, text=text))
                events.append(
                    self._event("response.reasoning_summary_part.done", **common, summary_index=0, part=summary_part)
                )
                events.append(self._event("response.reasoning_text.done", **common, content_index=0, text=text))
                events.append(
                    self._event(
                        "response.content_part.done",
                        **common,
                        content_index=0,
                        part={"type": "reasoning_text", "text": text},
                    )
                )
        else:
            annotations = self._annotations(item, text)
            for position, annotation in enumerate(annotations):
                events.append(
                    self._event(
                        "response.output_text.annotation.added",
                        **common,
                        content_index=0,
                        annotation_index=position,
                        annotation=annotation,
                    )
                )
            part = {"type": "output_text", "text": text, "annotations": annotations}
            events.append(self._event("response.output_text.done", **common, content_index=0, text=text, logprobs=[]))
            events.append(self._event("response.content_part.done", **common, content_index=0, part=part))
            done = {"id": item.id, "type": "message", "role": "assistant", "status": status, "content": [part]}
        self._output.append(done)
        events.append(self._event("response.output_item.done", output_index=item.index, item=done))

    def _annotations(self, item: _OpenItem, text: str) -> list[dict[str, Any]]:
        size = len(text)
        resolved = []
        for annotation in item.annotations:
            start = min(max(0, annotation["start_index"] - item.base), size)
            end = min(max(start, annotation["end_index"] - item.base), size)
            resolved.append({**annotation, "start_index": start, "end_index": end})
        # A bare URL list (Perplexity-style ``citations``) points at "[n]" markers in the text.
        for number in range(self._citations_attached, len(self._citations)):
            url = self._citations[number]
            marker = f"[{number + 1}]"
            start = text.find(marker)
            span = (start, start + len(marker)) if start >= 0 else (0, 0)
            resolved.append(
                {"type": "url_citation", "url": url, "title": url, "start_index": span[0], "end_index": span[1]}
            )
        self._citations_attached = len(self._citations)
        return resolved

    def _emit_tool_calls(self, events: list[Event], *, require_complete: bool) -> None:
        used_ids: set[str] = set()
        for call in sorted(self._calls, key=lambda c: (math.inf if c.index is None else c.index, c.order)):
            arguments = "".join(call.arguments)
            if not call.name:
                self._note("warning", "dropped_tool_call", "dropped a tool call without a name")
                continue
            if require_complete and arguments.strip() and parse_object(arguments) is None:
                self._note("warning", "dropped_tool_call", f"dropped the unfinished call to {call.name}", call.name)
                continue
            call_id = call.call_id or f"call_{self._suffix}_{call.order}"
            if call_id in used_ids:  # the SDK and Codex match outputs to calls by call_id
                call_id = f"{call_id}_{call.order}"
            used_ids.add(call_id)
            entry = self._ctx.tool_map.entry(call.name)
            index = self._next_index
            self._next_index += 1
            prefix = _ITEM_PREFIX[entry.kind if entry is not None else ToolKind.FUNCTION]
            item_id = f"{prefix}_{self._suffix}_{index}"
            done = self._ctx.tool_map.to_item(item_id=item_id, call_id=call_id, name=call.name, arguments=arguments)
            added = dict(done, status="in_progress")
            kind = done["type"]
            if kind == "function_call":
                added["arguments"] = ""
            elif kind == "custom_tool_call":
                added["input"] = ""
            elif kind == "tool_search_call":
                added["arguments"] = {}
            events.append(self._event("response.output_item.added", output_index=index, item=added))
            common = {"item_id": item_id, "output_index": index}
            if kind == "function_call":
                text = done["arguments"]
                events.append(self._event("response.function_call_arguments.delta", **common, delta=text))
                events.append(self._event("response.function_call_arguments.done", **common, arguments=text))
            elif kind == "custom_tool_call":
                text = done["input"]
                if text:
                    events.append(self._event("response.custom_tool_call_input.delta", **common, delta=text))
                events.append(self._event("response.custom_tool_call_input.done", **common, input=text))
            self._output.append(done)
            events.append(self._event("response.output_item.done", output_index=index, item=done))

    # -- envelopes ---------------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _response(
        self,
        status: str,
        *,
        error: dict[str, Any] | None = None,
        incomplete_details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response: dict[str, Any] = {
            "id": self._ctx.response_id,
            "object": "response",
            "created_at": self._ctx.created_at,
            "status": status,
            "model": self._ctx.model,
            "output": list(self._output),
            "usage": self._usage,
            "error": error,
            "incomplete_details": incomplete_details,
        }
        for key, value in self._ctx.echo.items():
            response.setdefault(key, value)
        return response

    def _note(self, level: Literal["debug", "info", "warning"], code: str, message: str, subject: str = "") -> None:
        self._notes.append(Note(level, code, subject, message))


def reasoning_item(item_id: str, text: str, *, expose: bool) -> dict[str, Any]:
    """The complete ``reasoning`` output item; the text always travels sealed (``reasoning.py``)."""
    if not expose:
        return {"id": item_id, "type": "reasoning", "summary": [], "encrypted_content": seal(text)}
    return {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}],
        "content": [{"type": "reasoning_text", "text": text}],
        "encrypted_content": seal(text),
    }


def _url_citation(raw: object) -> dict[str, Any] | None:
    """A chat ``url_citation`` annotation (nested or flat) -> the Responses annotation."""
    if not isinstance(raw, dict) or raw.get("type") != "url_citation":
        return None
    body = raw.get("url_citation")
    body = body if isinstance(body, dict) else raw
    url = body.get("url")
    if not isinstance(url, str) or not url:
        return None
    title = body.get("title")
    return {
        "type": "url_citation",
        "url": url,
        "title": title if isinstance(title, str) and title else url,
        "start_index": _count(body.get("start_index")),
        "end_index": _count(body.get("end_index")),
    }
