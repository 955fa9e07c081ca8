"""The input history: ``instructions`` and ``input`` items read into the segments of a chat history.

Codex sends the whole conversation as typed items. :class:`History` reads them once, in order, each
item type through its handler (``_ITEM_HANDLERS``): messages (their content lowered by
``content.py``), reasoning, the calls of every tool kind (``function``, ``custom``, ``tool_search``,
``local_shell``) as chat function calls under the names ``tools.py`` gave their tools, the tool
answers, and the items that make more tools callable mid-session. ``turns.py`` then assembles the
chat ``messages``::

    lowering = ToolLowering(profile, notes)        # the request's tools, already lowered
    messages = History(profile, lowering, notes).translate(request)

Items with no chat equivalent are dropped with a :class:`Note` saying why; anything malformed raises
:class:`InvalidRequest` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from mimo2codex.errors import InvalidRequest
from mimo2codex.protocol.arguments import repair_arguments
from mimo2codex.protocol.content import ContentLowering
from mimo2codex.protocol.fields import optional_str, required_str
from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.profile import ReasoningReplay, UpstreamProfile
from mimo2codex.protocol.reasoning import item_text, unseal
from mimo2codex.protocol.toolmap import ToolMap
from mimo2codex.protocol.tools import LOCAL_SHELL_NAME, TOOL_SEARCH_NAME, ToolLowering, chat_name
from mimo2codex.protocol.turns import Segment, ToolOutput, Turn, assemble

#: the Chat role of each Responses message role (tool messages are handled as tool outputs)
_ROLES = {"user": "user", "developer": "system", "system": "system", "assistant": "assistant"}
#: items with no Chat equivalent, and why each is dropped
_DROPPED_ITEMS = {
    "web_search_call": "the search ran on OpenAI's servers and its results are not part of the history",
    "image_generation_call": "generated images cannot be replayed as assistant content",
    "compaction_trigger": "remote compaction is an OpenAI-only feature",
    "item_reference": "it points at an item stored on OpenAI's servers",
    "file_search_call": "it is an OpenAI-hosted tool call",
    "code_interpreter_call": "it is an OpenAI-hosted tool call",
    "computer_call": "it is an OpenAI-hosted tool call",
    "computer_call_output": "it is an OpenAI-hosted tool output",
    "mcp_call": "it is an OpenAI-hosted tool call",
    "mcp_list_tools": "it is an OpenAI-hosted tool listing",
    "mcp_approval_request": "it is an OpenAI-hosted tool approval",
    "mcp_approval_response": "it is an OpenAI-hosted tool approval",
    "agent_message": "it is an OpenAI-internal item",
    "context_compaction": "it is an OpenAI-internal item",
    "configuration_update": "it is an OpenAI-internal item",
    "ghost_snapshot": "it is a Codex-internal item",
}


class History:
    """Reads ``instructions`` + ``input`` once into segments; ``translate`` returns them assembled (``turns.py``)."""

    __slots__ = (
        "call_ids",
        "content",
        "keep_reasoning",
        "lowering",
        "notes",
        "outputs",
        "profile",
        "segments",
        "tool_map",
        "turn",
    )

    def __init__(self, profile: UpstreamProfile, lowering: ToolLowering, notes: list[Note]) -> None:
        self.profile = profile
        self.content = ContentLowering(profile, notes)
        self.keep_reasoning = profile.reasoning_replay is not ReasoningReplay.STRIP
        self.lowering = lowering
        self.tool_map = lowering.tool_map
        self.notes = notes
        self.segments: list[Segment] = []
        self.turn: Turn | None = None
        self.outputs: dict[str, ToolOutput] = {}
        self.call_ids: set[str] = set()

    def translate(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        instructions = request.get("instructions")
        if isinstance(instructions, str):
            if instructions:
                self.segments.append({"role": "system", "content": instructions})
        elif instructions is not None:
            raise InvalidRequest("instructions must be a string", param="instructions")
        items = request.get("input")
        if isinstance(items, str):
            self.segments.append({"role": "user", "content": items})
        elif isinstance(items, list):
            for index, item in enumerate(items):
                where = f"input[{index}]"
                if not isinstance(item, dict):
                    raise InvalidRequest(f"{where} must be an object", param=where)
                kind = item.get("type")
                if kind is None or kind == "message":
                    self._message(item, where)
                elif not isinstance(kind, str):
                    raise InvalidRequest(f"{where}.type must be a string", param=f"{where}.type")
                else:
                    handler = _ITEM_HANDLERS.get(kind)
                    if handler is not None:
                        handler(self, item, where)
                    else:
                        reason = _DROPPED_ITEMS.get(kind, "the gateway does not know this item type")
                        self._drop(kind, where, reason)
        elif items is not None:
            raise InvalidRequest("input must be a string or an array", param="input")
        messages = assemble(self.segments, self.outputs, self.profile, self.notes)
        if not messages:
            raise InvalidRequest("input must contain at least one message", param="input")
        return messages

    # -- items --------------------------------------------------------------------------------

    def _message(self, item: dict[str, Any], where: str) -> None:
        role = item.get("role")
        if role == "tool":  # a Chat-shaped tool answer
            call_id = _call_id(item, "tool_call_id", where)
            self._output(call_id, item.get("content"), where, "content")
            return
        chat_role = _ROLES.get(role) if isinstance(role, str) else None
        if chat_role is None:
            raise InvalidRequest(
                f"{where}.role must be one of 'user', 'assistant', 'system', 'developer', 'tool'",
                param=f"{where}.role",
            )
        content = item.get("content")
        if chat_role == "assistant":
            self._assistant_message(item, content, where)
            return
        self.turn = None
        if chat_role == "user":
            self.segments.append({"role": "user", "content": self.content.user(content, f"{where}.content")})
        else:
            self.segments.append({"role": "system", "content": self.content.plain(content, f"{where}.content")})

    def _assistant_message(self, item: dict[str, Any], content: object, where: str) -> None:
        text = self.content.plain(content, f"{where}.content", joiner="") if content is not None else ""
        turn = self._open_turn()
        reasoning = item.get("reasoning_content")  # Chat-shaped history
        if isinstance(reasoning, str) and reasoning and self.keep_reasoning:
            turn.reasoning.append(reasoning)
        if text:
            turn.texts.append(text)
        tool_calls = item.get("tool_calls")
        if tool_calls is None:
            return
        if not isinstance(tool_calls, list):
            raise InvalidRequest(f"{where}.tool_calls must be an array", param=f"{where}.tool_calls")
        for index, call in enumerate(tool_calls):
            call_where = f"{where}.tool_calls[{index}]"
            if not isinstance(call, dict):
                raise InvalidRequest(f"{call_where} must be an object", param=call_where)
            call_id = _call_id(call, "id", call_where)
            function = call.get("function")
            if not isinstance(function, dict):
                raise InvalidRequest(f"{call_where}.function must be an object", param=f"{call_where}.function")
            name = required_str(function, "name", f"{call_where}.function")
            self._call(call_id, chat_name(name), function.get("arguments"), call_where)

    def _reasoning(self, item: dict[str, Any], where: str) -> None:
        if not self.keep_reasoning:
            return
        text = item_text(item)
        if text:
            self._open_turn().reasoning.append(text)
        elif isinstance(item.get("encrypted_content"), str) and unseal(item["encrypted_content"]) is None:
            self._drop("reasoning", where, "its only content is encrypted by OpenAI")

    def _function_call(self, item: dict[str, Any], where: str) -> None:
        call_id = _call_id(item, "call_id", where)
        name = required_str(item, "name", where)
        namespace = optional_str(item, "namespace", where)
        self._call(call_id, self._flat(name, namespace or None), item.get("arguments"), where)

    def _custom_tool_call(self, item: dict[str, Any], where: str) -> None:
        call_id = _call_id(item, "call_id", where)
        name = required_str(item, "name", where)
        namespace = optional_str(item, "namespace", where)
        raw = item.get("input")
        if not isinstance(raw, str):
            raise InvalidRequest(f"{where}.input must be a string", param=f"{where}.input")
        arguments = orjson.dumps({"input": raw}).decode()
        self._call(call_id, self._flat(name, namespace or None), arguments, where)

    def _tool_search_call(self, item: dict[str, Any], where: str) -> None:
        call_id = item.get("call_id")
        if call_id is None or item.get("execution") == "server":
            self._drop("tool_search_call", where, "the search ran on OpenAI's servers")
            return
        call_id = _call_id(item, "call_id", where)
        arguments = item.get("arguments")
        if arguments is None:
            arguments = {}
        elif not isinstance(arguments, dict | str):
            raise InvalidRequest(f"{where}.arguments must be an object", param=f"{where}.arguments")
        self._call(call_id, self._flat(TOOL_SEARCH_NAME, None), arguments, where)

    def _local_shell_call(self, item: dict[str, Any], where: str) -> None:
        call_id = item.get("call_id") or item.get("id")
        if not isinstance(call_id, str):
            raise InvalidRequest(f"{where}.call_id must be a non-empty string", param=f"{where}.call_id")
        action = item.get("action")
        if not isinstance(action, dict):
            raise InvalidRequest(f"{where}.action must be an object", param=f"{where}.action")
        command = action.get("command")
        if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
            raise InvalidRequest(f"{where}.action.command must be an array of strings", param=f"{where}.action.command")
        arguments: dict[str, Any] = {"command": command}
        workdir = action.get("working_directory")
        if isinstance(workdir, str):
            arguments["workdir"] = workdir
        timeout = action.get("timeout_ms")
        if isinstance(timeout, int) and not isinstance(timeout, bool):
            arguments["timeout_ms"] = timeout
        self._call(call_id, self._flat(LOCAL_SHELL_NAME, None), arguments, where)

    def _call_output(self, item: dict[str, Any], where: str) -> None:
        call_id = _call_id(item, "call_id", where)
        self._output(call_id, item.get("output"), where, "output")

    def _local_shell_output(self, item: dict[str, Any], where: str) -> None:
        call_id = item.get("call_id") or item.get("id")
        if not isinstance(call_id, str):
            raise InvalidRequest(f"{where}.call_id must be a non-empty string", param=f"{where}.call_id")
        self._output(call_id, item.get("output"), where, "output")

    def _tool_search_output(self, item: dict[str, Any], where: str) -> None:
        call_id = item.get("call_id")
        if call_id is None or item.get("execution") == "server":
            self._drop("tool_search_output", where, "the search ran on OpenAI's servers")
            return
        call_id = _call_id(item, "call_id", where)
        tools = item.get("tools")
        if tools is None:
            tools = []
        elif not isinstance(tools, list):
            raise InvalidRequest(f"{where}.tools must be an array", param=f"{where}.tools")
        if self.lowering.has_tool_search:
            # Tools a client tool_search loaded stay callable for the rest of the session.
            self.lowering.add_all(tools, f"{where}.tools", from_history=True)
        self._record_output(call_id, _loaded_tools_text(tools, self.tool_map), [], where)

    def _additional_tools(self, item: dict[str, Any], where: str) -> None:
        tools = item.get("tools")
        if not isinstance(tools, list):
            raise InvalidRequest(f"{where}.tools must be an array", param=f"{where}.tools")
        self.lowering.add_all(tools, f"{where}.tools", from_history=True)

    def _compaction(self, item: dict[str, Any], where: str) -> None:
        self._drop("compaction", where, "its encrypted_content is opaque OpenAI data")

    # -- building blocks ----------------------------------------------------------------------

    def _open_turn(self) -> Turn:
        turn = self.turn
        if turn is None:
            turn = self.turn = Turn()
            self.segments.append(turn)
        return turn

    def _flat(self, name: str, namespace: str | None) -> str:
        return chat_name(self.tool_map.flat_name(name, namespace))

    def _call(self, call_id: str, name: str, arguments: object, where: str) -> None:
        if call_id in self.call_ids:
            self._drop("tool call", where, f"its call_id {call_id!r} was already used by an earlier call")
            return
        self.call_ids.add(call_id)
        repaired = repair_arguments(arguments)
        if isinstance(arguments, str) and repaired != arguments:
            self.notes.append(
                Note(
                    "info",
                    "repaired_arguments",
                    name,
                    f"repaired malformed arguments of tool call {call_id!r} ({where})",
                )
            )
        self._open_turn().calls.append(
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": repaired}}
        )

    def _output(self, call_id: str, output: object, where: str, field: str) -> None:
        """Record a tool answer (``where`` is the item, ``field`` holds the answer)."""
        if isinstance(output, str):
            self._record_output(call_id, output, [], where)
            return
        if isinstance(output, dict) and isinstance(output.get("content"), str):  # {content, success}
            self._record_output(call_id, output["content"], [], where)
            return
        if not isinstance(output, list):
            raise InvalidRequest(f"{where}.{field} must be a string or an array", param=f"{where}.{field}")
        text, images = self.content.tool_output(output, f"{where}.{field}")
        self._record_output(call_id, text, images, where)

    def _record_output(self, call_id: str, text: str, images: list[dict[str, Any]], where: str) -> None:
        self.turn = None  # a tool answer ends the assistant turn
        if call_id in self.outputs:
            self._drop("tool output", where, f"call {call_id!r} already has an output")
            return
        self.outputs[call_id] = ToolOutput(text, images, where)

    def _drop(self, what: str, where: str, reason: str) -> None:
        self.notes.append(Note("debug", "dropped_item", what, f"dropped {what} ({where}): {reason}"))


_ITEM_HANDLERS: dict[str, Callable[[History, dict[str, Any], str], None]] = {
    "reasoning": History._reasoning,
    "function_call": History._function_call,
    "function_call_output": History._call_output,
    "custom_tool_call": History._custom_tool_call,
    "custom_tool_call_output": History._call_output,
    "tool_search_call": History._tool_search_call,
    "tool_search_output": History._tool_search_output,
    "local_shell_call": History._local_shell_call,
    "local_shell_call_output": History._local_shell_output,
    "additional_tools": History._additional_tools,
    "compaction": History._compaction,
    "compaction_summary": History._compaction,
}


def _call_id(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where}.{key} must be a non-empty string", param=f"{where}.{key}")
    return value


def _loaded_tools_text(tools: list[Any], tool_map: ToolMap) -> str:
    """The tool message for a ``tool_search_output``: which tools the search made callable."""
    lines: list[str] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        name = tool.get("name")
        if not isinstance(name, str):
            continue
        if tool.get("type") == "namespace" and isinstance(tool.get("tools"), list):
            for child in tool["tools"]:
                if isinstance(child, dict) and isinstance(child.get("name"), str):
                    lines.append(_loaded_line(chat_name(tool_map.flat_name(child["name"], name)), child))
        else:
            lines.append(_loaded_line(chat_name(tool_map.flat_name(name)), tool))
    if not lines:
        return "No matching tools found."
    return "Tools found (callable from now on):\n" + "\n".join(lines)


def _loaded_line(flat: str, tool: dict[str, Any]) -> str:
    description = tool.get("description")
    if isinstance(description, str) and description.strip():
        return f"- {flat}: {description.strip().splitlines()[0][:200]}"
    return f"- {flat}"
