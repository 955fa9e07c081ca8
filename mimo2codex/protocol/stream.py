"""Chat Completions chunks -> Responses stream events, incrementally.

:class:`StreamTranslator` is the one accumulator for model output: the streaming route feeds it each
upstream chunk, and the non-streaming route (``response.py``) feeds it the whole completion as a
single chunk, so both produce the same items::

    translator = StreamTranslator(ctx)
    send(translator.start())                 # response.created, response.in_progress
    for chunk in upstream_chunks:
        send(translator.feed(chunk))
    send(translator.finish())                # closes items, tool calls, response.completed

This module is the state machine: which item is open, what text is held back, when the response
ends and with which status. The event shapes are ``events.py``'s; tool calls are buffered by
``toolcalls.py`` and emitted at the end, complete (Codex ignores argument deltas, and vendors
interleave the argument pieces of parallel calls); ``thinktags.py`` splits inline ``<think>``
reasoning, ``citations.py`` places citations, ``usage.py`` converts the token counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from mimo2codex.protocol.citations import Citations, url_citation
from mimo2codex.protocol.context import ResponseContext
from mimo2codex.protocol.events import Event, EventSequence
from mimo2codex.protocol.failure import COMPACT_ADVICE, classify_upstream_failure, is_error_body, to_error
from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.thinktags import ThinkSplitter
from mimo2codex.protocol.toolcalls import ToolCalls
from mimo2codex.protocol.toolmap import ToolKind
from mimo2codex.protocol.usage import convert_usage

#: finish_reason -> incomplete_details.reason. Never "interrupted": Codex re-samples forever (§1.5).
_INCOMPLETE: Final = {"length": "max_output_tokens", "content_filter": "content_filter", "sensitive": "content_filter"}
#: finish_reasons that mean the vendor aborted the generation: a retryable failure, not an answer.
_ABORTED: Final = frozenset({"insufficient_system_resource", "network_error", "error", "abort"})
#: GLM: the context window filled up while generating.
_CONTEXT_FULL: Final = frozenset({"model_context_window_exceeded"})
#: the id prefix of a tool-call item, by the kind of tool called (``msg_`` and ``rs_`` for the others)
_ITEM_PREFIX: Final = {
    ToolKind.FUNCTION: "fc",
    ToolKind.CUSTOM: "ctc",
    ToolKind.TOOL_SEARCH: "tsc",
    ToolKind.LOCAL_SHELL: "lsh",
}


@dataclass(slots=True)
class _OpenItem:
    kind: Literal["message", "reasoning"]
    id: str
    index: int
    parts: list[str] = field(default_factory=list)
    #: message: upstream content characters before the item's first one (citation offsets)
    base: int = 0
    #: message: its annotations, spans counted over the whole content; resolved against its text at close
    annotations: list[dict[str, Any]] = field(default_factory=list)


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
        self._events = EventSequence()
        self._started = False
        self._status: str | None = None
        self._error: dict[str, str] | None = None
        self._output: list[dict[str, Any]] = []
        self._next_index = 0
        self._open: _OpenItem | None = None
        # whitespace seen while no item of its kind was open: emitted only if real text follows
        self._held_text = ""
        self._held_reasoning = ""
        self._think = ThinkSplitter() if ctx.think_tags else None
        self._content_chars = 0
        self._calls = ToolCalls()
        self._citations = Citations()
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
        return len(self._calls.calls)

    @property
    def tool_names(self) -> list[str]:
        """The chat names of the tool calls received so far, in arrival order."""
        return [call.name for call in self._calls.calls]

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
            self._events.event("response.created", response=opening),
            self._events.event("response.in_progress", response=dict(opening)),
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
            self._citations.add_urls(citations)
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
        if self._citations.pending:
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
            events.append(self._events.event("response.incomplete", response=response))
        else:
            if reason is not None and reason not in ("stop", "tool_calls", "function_call", "end_turn"):
                self._note("info", "unknown_finish_reason", f"treated finish_reason {reason!r} as stop")
            self._status = "completed"
            events.append(self._events.event("response.completed", response=self._response("completed")))
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
        events.append(self._events.event("response.failed", response=response))
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
                    annotation = url_citation(raw)
                    if annotation is not None:
                        self._add_annotation(annotation)
            tool_calls = delta.get("tool_calls")
            if isinstance(tool_calls, list):
                self._calls.feed(tool_calls)
            function_call = delta.get("function_call")
            if isinstance(function_call, dict):  # the legacy single-call form
                self._calls.feed([{"index": 0, "function": function_call}])
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
            self._events.reasoning_deltas(events, item.id, item.index, text)

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
            item.annotations = self._citations.take_pending()
        item.parts.append(text)
        self._text.append(text)
        events.append(self._events.text_delta(item.id, item.index, text))

    def _add_annotation(self, annotation: dict[str, Any]) -> None:
        if self._open is not None and self._open.kind == "message":
            self._open.annotations.append(annotation)
        else:
            self._citations.pending.append(annotation)

    # -- items -------------------------------------------------------------------------------------

    def _open_item(self, kind: Literal["message", "reasoning"], events: list[Event]) -> _OpenItem:
        self._close(events, "completed")
        index = self._next_index
        self._next_index += 1
        if kind == "message":
            item = _OpenItem(kind, f"msg_{self._suffix}_{index}", index)
            self._events.message_added(events, item.id, index)
        else:
            item = _OpenItem(kind, f"rs_{self._suffix}_{index}", index)
            self._events.reasoning_added(events, item.id, index, expose=self._ctx.expose_reasoning)
        self._open = item
        return item

    def _close(self, events: list[Event], status: str) -> None:
        item = self._open
        if item is None:
            return
        self._open = None
        text = "".join(item.parts)
        if item.kind == "reasoning":
            done = self._events.reasoning_done(events, item.id, item.index, text, expose=self._ctx.expose_reasoning)
        else:
            annotations = self._citations.resolve(item.annotations, item.base, text)
            done = self._events.message_done(events, item.id, item.index, text, annotations=annotations, status=status)
        self._output.append(done)

    def _emit_tool_calls(self, events: list[Event], *, require_complete: bool) -> None:
        tool_map = self._ctx.tool_map
        for call_id, name, arguments in self._calls.finished(
            self._suffix, require_complete=require_complete, notes=self._notes
        ):
            entry = tool_map.entry(name)
            index = self._next_index
            self._next_index += 1
            prefix = _ITEM_PREFIX[entry.kind if entry is not None else ToolKind.FUNCTION]
            item_id = f"{prefix}_{self._suffix}_{index}"
            done = tool_map.to_item(item_id=item_id, call_id=call_id, name=name, arguments=arguments)
            self._events.tool_call(events, index, done)
            self._output.append(done)

    # -- envelopes ---------------------------------------------------------------------------------

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
