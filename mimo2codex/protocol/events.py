"""Responses stream events: the numbered events of one response, item by item.

The grammar is the one Codex and the openai SDK accept (CONTRACT §1.2, §6, §7): every event carries
the next ``sequence_number``; items never interleave, and each goes ``output_item.added`` -> its parts
and deltas -> ``output_item.done`` carrying the complete item, which is all Codex keeps. The stream
translator decides what to emit and when; this module knows the shape of each event::

    events = EventSequence()
    out: list[Event] = []
    events.message_added(out, item_id, index)
    out.append(events.text_delta(item_id, index, "Hello"))
    item = events.message_done(out, item_id, index, "Hello", annotations=[], status="completed")
"""

from __future__ import annotations

from typing import Any

from mimo2codex.protocol.reasoning import seal

Event = dict[str, Any]


class EventSequence:
    """Builds the events of one response, numbering them in the order they are built."""

    __slots__ = ("_seq",)

    def __init__(self) -> None:
        self._seq = 0

    def event(self, kind: str, **fields: Any) -> Event:
        """One event of type ``kind`` with the next sequence number."""
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    # -- deltas: built without **fields, as they run once per upstream chunk -----------------------

    def text_delta(self, item_id: str, index: int, text: str) -> Event:
        seq = self._seq
        self._seq = seq + 1
        return {
            "type": "response.output_text.delta",
            "sequence_number": seq,
            "item_id": item_id,
            "output_index": index,
            "content_index": 0,
            "delta": text,
            "logprobs": [],
        }

    def reasoning_deltas(self, events: list[Event], item_id: str, index: int, text: str) -> None:
        """The reasoning text's summary delta and content delta (only when reasoning is exposed)."""
        seq = self._seq
        self._seq = seq + 2
        events.append(
            {
                "type": "response.reasoning_summary_text.delta",
                "sequence_number": seq,
                "item_id": item_id,
                "output_index": index,
                "summary_index": 0,
                "delta": text,
            }
        )
        events.append(
            {
                "type": "response.reasoning_text.delta",
                "sequence_number": seq + 1,
                "item_id": item_id,
                "output_index": index,
                "content_index": 0,
                "delta": text,
            }
        )

    # -- message items -----------------------------------------------------------------------------

    def message_added(self, events: list[Event], item_id: str, index: int) -> None:
        added: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        events.append(self.event("response.output_item.added", output_index=index, item=added))
        events.append(
            self.event(
                "response.content_part.added",
                item_id=item_id,
                output_index=index,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            )
        )

    def message_done(
        self,
        events: list[Event],
        item_id: str,
        index: int,
        text: str,
        *,
        annotations: list[dict[str, Any]],
        status: str,
    ) -> dict[str, Any]:
        """The closing events of a message item; returns the complete item."""
        common = {"item_id": item_id, "output_index": index}
        for position, annotation in enumerate(annotations):
            events.append(
                self.event(
                    "response.output_text.annotation.added",
                    **common,
                    content_index=0,
                    annotation_index=position,
                    annotation=annotation,
                )
            )
        part = {"type": "output_text", "text": text, "annotations": annotations}
        events.append(self.event("response.output_text.done", **common, content_index=0, text=text, logprobs=[]))
        events.append(self.event("response.content_part.done", **common, content_index=0, part=part))
        done = {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": [part]}
        events.append(self.event("response.output_item.done", output_index=index, item=done))
        return done

    # -- reasoning items ---------------------------------------------------------------------------

    def reasoning_added(self, events: list[Event], item_id: str, index: int, *, expose: bool) -> None:
        added = {"id": item_id, "type": "reasoning", "summary": []}
        events.append(self.event("response.output_item.added", output_index=index, item=added))
        if expose:
            common = {"item_id": item_id, "output_index": index}
            events.append(
                self.event(
                    "response.reasoning_summary_part.added",
                    **common,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                )
            )
            events.append(
                self.event(
                    "response.content_part.added",
                    **common,
                    content_index=0,
                    part={"type": "reasoning_text", "text": ""},
                )
            )

    def reasoning_done(
        self, events: list[Event], item_id: str, index: int, text: str, *, expose: bool
    ) -> dict[str, Any]:
        """The closing events of a reasoning item; returns the complete item."""
        done = reasoning_item(item_id, text, expose=expose)
        if expose:
            common = {"item_id": item_id, "output_index": index}
            summary_part = {"type": "summary_text", "text": text}
            events.append(self.event("response.reasoning_summary_text.done", **common, summary_index=0, text=text))
            events.append(
                self.event("response.reasoning_summary_part.done", **common, summary_index=0, part=summary_part)
            )
            events.append(self.event("response.reasoning_text.done", **common, content_index=0, text=text))
            events.append(
                self.event(
                    "response.content_part.done",
                    **common,
                    content_index=0,
                    part={"type": "reasoning_text", "text": text},
                )
            )
        events.append(self.event("response.output_item.done", output_index=index, item=done))
        return done

    # -- tool-call items ---------------------------------------------------------------------------

    def tool_call(self, events: list[Event], index: int, done: dict[str, Any]) -> None:
        """All the events of a complete tool-call item (``done``), from added to done."""
        added = dict(done, status="in_progress")
        kind = done["type"]
        if kind == "function_call":
            added["arguments"] = ""
        elif kind == "custom_tool_call":
            added["input"] = ""
        elif kind == "tool_search_call":
            added["arguments"] = {}
        events.append(self.event("response.output_item.added", output_index=index, item=added))
        common = {"item_id": done["id"], "output_index": index}
        if kind == "function_call":
            text = done["arguments"]
            events.append(self.event("response.function_call_arguments.delta", **common, delta=text))
            events.append(self.event("response.function_call_arguments.done", **common, arguments=text))
        elif kind == "custom_tool_call":
            text = done["input"]
            if text:
                events.append(self.event("response.custom_tool_call_input.delta", **common, delta=text))
            events.append(self.event("response.custom_tool_call_input.done", **common, input=text))
        events.append(self.event("response.output_item.done", output_index=index, item=done))


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
