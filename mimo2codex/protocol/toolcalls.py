"""Tool calls: the model's calls, accumulated from the argument pieces a chat stream sends.

A streamed call arrives as deltas: the first names the call (``index``, ``id``, ``function.name``),
the next ones carry pieces of its ``arguments`` JSON. Vendors interleave the pieces of parallel
calls, reuse an index, drop the index or the id, or send the arguments as an object, so the calls
are buffered whole and handed out once the stream ends (Codex ignores argument deltas anyway)::

    calls = ToolCalls()
    calls.feed(delta["tool_calls"])                  # for each chunk
    for call_id, name, arguments in calls.finished(suffix, require_complete=True, notes=notes):
        ...                                          # raised into Codex items by the ToolMap
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import orjson

from mimo2codex.protocol.arguments import parse_object
from mimo2codex.protocol.notes import Note


@dataclass(slots=True)
class ToolCall:
    #: arrival order among the calls of the response
    order: int
    #: the vendor's ``index``, if it sent one
    index: int | None
    call_id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCalls:
    """The tool calls of one response, in arrival order."""

    __slots__ = ("_by_id", "_by_index", "calls")

    def __init__(self) -> None:
        self.calls: list[ToolCall] = []
        self._by_index: dict[int, ToolCall] = {}
        self._by_id: dict[str, ToolCall] = {}

    def feed(self, deltas: list[Any]) -> None:
        """Add a chunk's ``tool_calls`` deltas to the calls they continue, or start new calls."""
        for delta in deltas:
            if not isinstance(delta, dict):
                continue
            function = delta.get("function")
            function = function if isinstance(function, dict) else {}
            index = delta.get("index")
            index = index if isinstance(index, int) and not isinstance(index, bool) else None
            call_id = delta.get("id")
            call_id = call_id if isinstance(call_id, str) and call_id else ""
            call: ToolCall | None
            if index is not None:
                call = self._by_index.get(index)
                if call is not None and call_id and call.call_id and call_id != call.call_id:
                    call = None  # a vendor reusing one index for several calls
            elif call_id:
                call = self._by_id.get(call_id)
            else:
                call = self.calls[-1] if self.calls else None  # a continuation without index or id
            if call is None:
                call = ToolCall(order=len(self.calls), index=index)
                self.calls.append(call)
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

    def finished(self, suffix: str, *, require_complete: bool, notes: list[Note]) -> list[tuple[str, str, str]]:
        """``(call_id, name, arguments)`` of each call to emit, in the vendor's index order.

        A call without a name is dropped, and so is one whose arguments are not a whole JSON object
        when ``require_complete``; each drop adds a note. A call without an id gets
        ``call_{suffix}_{order}``, and a repeated id is made unique.
        """
        finished: list[tuple[str, str, str]] = []
        used_ids: set[str] = set()
        for call in sorted(self.calls, key=lambda c: (math.inf if c.index is None else c.index, c.order)):
            arguments = "".join(call.arguments)
            if not call.name:
                notes.append(Note("warning", "dropped_tool_call", "", "dropped a tool call without a name"))
                continue
            if require_complete and arguments.strip() and parse_object(arguments) is None:
                notes.append(
                    Note("warning", "dropped_tool_call", call.name, f"dropped the unfinished call to {call.name}")
                )
                continue
            call_id = call.call_id or f"call_{suffix}_{call.order}"
            if call_id in used_ids:  # the SDK and Codex match outputs to calls by call_id
                call_id = f"{call_id}_{call.order}"
            used_ids.add(call_id)
            finished.append((call_id, call.name, arguments))
        return finished
