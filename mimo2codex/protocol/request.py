"""Responses API request -> Chat Completions request.

::

    chat = responses_to_chat(request_json, profile)
    upstream_body = chat.body          # POST to {base}/chat/completions
    ctx.tool_map = chat.tool_map       # raises the model's tool calls back into Codex items
    for note in chat.notes: log(note)  # what was dropped or changed, and why

The history Codex sends is rebuilt into what strict vendors accept (CONTRACT Part B): one
assistant message per turn (text + ``reasoning_content`` + ``tool_calls``), each tool answer right
after the assistant message that called it, a synthetic ``"aborted"`` answer for a call that has
none, string-only tool messages, images only where the model can see them. Every item that cannot
be sent is reported as a :class:`Note`; anything malformed raises :class:`InvalidRequest` naming
the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from mimo2codex.errors import InvalidRequest
from mimo2codex.protocol.arguments import repair_arguments
from mimo2codex.protocol.fields import optional_str, required_str
from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.profile import ReasoningReplay, UpstreamProfile
from mimo2codex.protocol.reasoning import item_text, replay, unseal
from mimo2codex.protocol.toolmap import ToolMap
from mimo2codex.protocol.tools import (
    LOCAL_SHELL_NAME,
    TOOL_SEARCH_NAME,
    ToolLowering,
    chat_name,
    lower_tool_choice,
)

#: the Chat role of each Responses message role (tool messages are handled as tool outputs)
_ROLES = {"user": "user", "developer": "system", "system": "system", "assistant": "assistant"}
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
_IMAGE_PARTS = frozenset({"input_image", "image_url"})
_CHAT_DETAILS = {"low": "low", "high": "high", "auto": "auto", "original": "high"}
_EFFORTS = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
    "ultra": "high",
}
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
_ABORTED = "aborted"
_IMAGE_FOLLOWS = "[image: attached in the next user message]"
_IMAGE_TEXT = "Attached image:"


@dataclass(slots=True)
class ChatRequest:
    """The translated request: the upstream body, the tool map for the answer, and the notes."""

    body: dict[str, Any]
    tool_map: ToolMap
    notes: list[Note]


def responses_to_chat(request: dict[str, Any], profile: UpstreamProfile) -> ChatRequest:
    """Translate a Responses API request body into a Chat Completions body for ``profile``."""
    if not isinstance(request, dict):
        raise InvalidRequest("the request body must be a JSON object")
    notes: list[Note] = []
    lowering = ToolLowering(profile, notes)
    tools = request.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("tools must be an array", param="tools")
        lowering.add_all(tools, "tools")
    messages = _History(profile, lowering, notes).translate(request)

    body: dict[str, Any] = {"model": profile.model, "messages": messages}
    if lowering.tools:
        body["tools"] = lowering.tools
        choice, choice_notes = lower_tool_choice(request.get("tool_choice"), lowering.tool_map)
        notes.extend(choice_notes)
        if choice is not None:
            body["tool_choice"] = choice
        parallel = _optional_bool(request, "parallel_tool_calls")
        if profile.force_parallel_tool_calls:
            body["parallel_tool_calls"] = True
        elif parallel is not None:
            body["parallel_tool_calls"] = parallel
    _sampling(request, profile, body, notes)
    _output_format(request, body)
    stream = _optional_bool(request, "stream")
    if stream is not None:
        body["stream"] = stream
        if stream and profile.stream_usage:
            body["stream_options"] = {"include_usage": True}
    if profile.extra_body:
        body.update(profile.extra_body)
    for field in profile.drop_fields:
        body.pop(field, None)
    return ChatRequest(body, lowering.tool_map, notes)


# -- top-level options ------------------------------------------------------------------------


def _optional_bool(request: dict[str, Any], key: str) -> bool | None:
    value = request.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise InvalidRequest(f"{key} must be a boolean", param=key)


def _number(request: dict[str, Any], key: str) -> float | int | None:
    value = request.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{key} must be a number", param=key)
    return value


def _sampling(request: dict[str, Any], profile: UpstreamProfile, body: dict[str, Any], notes: list[Note]) -> None:
    for key in ("temperature", "top_p"):
        value = _number(request, key)
        if value is not None:
            body[key] = value
    max_tokens = request.get("max_output_tokens")
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidRequest("max_output_tokens must be a positive integer", param="max_output_tokens")
        body[profile.max_tokens_field] = max_tokens
    reasoning = request.get("reasoning")
    if reasoning is None:
        return
    if not isinstance(reasoning, dict):
        raise InvalidRequest("reasoning must be an object", param="reasoning")
    effort = reasoning.get("effort")
    if effort is None or not profile.supports_reasoning_effort:
        return
    if not isinstance(effort, str):
        raise InvalidRequest("reasoning.effort must be a string", param="reasoning.effort")
    mapped = _EFFORTS.get(effort)
    if mapped is not None:
        body["reasoning_effort"] = mapped
    elif effort != "none":
        notes.append(Note("info", "reasoning_effort", effort, f"reasoning effort {effort!r} is unknown; not sent"))


def _output_format(request: dict[str, Any], body: dict[str, Any]) -> None:
    text = request.get("text")
    if text is None:
        return
    if not isinstance(text, dict):
        raise InvalidRequest("text must be an object", param="text")
    fmt = text.get("format")
    if fmt is None:
        return
    if not isinstance(fmt, dict):
        raise InvalidRequest("text.format must be an object", param="text.format")
    kind = fmt.get("type")
    if kind == "json_schema":
        schema = fmt.get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequest("text.format.schema must be an object", param="text.format.schema")
        name = fmt.get("name")
        if name is None:
            name = "response"
        elif not isinstance(name, str):
            raise InvalidRequest("text.format.name must be a string", param="text.format.name")
        json_schema: dict[str, Any] = {"name": name, "schema": schema}
        strict = fmt.get("strict")
        if isinstance(strict, bool):
            json_schema["strict"] = strict
        description = fmt.get("description")
        if isinstance(description, str):
            json_schema["description"] = description
        body["response_format"] = {"type": "json_schema", "json_schema": json_schema}
    elif kind == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif kind != "text":
        raise InvalidRequest(
            "text.format.type must be 'text', 'json_schema' or 'json_object'", param="text.format.type"
        )


# -- history ----------------------------------------------------------------------------------


class _Turn:
    """The assistant side of one turn: merged into ONE chat assistant message (DeepSeek V4)."""

    __slots__ = ("calls", "reasoning", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.reasoning: list[str] = []
        self.calls: list[dict[str, Any]] = []


class _Output:
    """A tool's answer, waiting to be placed right after the message that made the call."""

    __slots__ = ("images", "text", "where")

    def __init__(self, text: str, images: list[dict[str, Any]], where: str) -> None:
        self.text = text
        self.images = images
        self.where = where


_Segment = dict[str, Any] | _Turn


class _History:
    """Reads ``instructions`` + ``input`` once, then assembles the chat ``messages``."""

    __slots__ = (
        "call_ids",
        "keep_reasoning",
        "label",
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
        self.label = profile.label or profile.model
        self.keep_reasoning = profile.reasoning_replay is not ReasoningReplay.STRIP
        self.lowering = lowering
        self.tool_map = lowering.tool_map
        self.notes = notes
        self.segments: list[_Segment] = []
        self.turn: _Turn | None = None
        self.outputs: dict[str, _Output] = {}
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
        messages = self._assemble()
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
            self.segments.append({"role": "user", "content": self._user_content(content, f"{where}.content")})
        else:
            self.segments.append({"role": "system", "content": self._plain_content(content, f"{where}.content")})

    def _assistant_message(self, item: dict[str, Any], content: object, where: str) -> None:
        text = self._plain_content(content, f"{where}.content", joiner="") if content is not None else ""
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

    def _open_turn(self) -> _Turn:
        turn = self.turn
        if turn is None:
            turn = self.turn = _Turn()
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
        texts: list[str] = []
        images: list[dict[str, Any]] = []
        for index, part in enumerate(output):
            part_where = f"{where}.{field}[{index}]"
            kind = _part_type(part, part_where)
            if kind in _TEXT_PARTS:
                texts.append(required_str(part, "text", part_where))
            elif kind in _IMAGE_PARTS:
                image = self._image(part, part_where)
                if image is None:
                    texts.append(self._omitted_file(part, part_where))
                elif self.profile.supports_images:
                    images.append(image)
                    texts.append(_IMAGE_FOLLOWS)
                else:
                    texts.append(self._omitted_image(part_where))
            else:
                texts.append(self._omitted_part(kind, part_where))
        self._record_output(call_id, "\n".join(texts), images, where)

    def _record_output(self, call_id: str, text: str, images: list[dict[str, Any]], where: str) -> None:
        self.turn = None  # a tool answer ends the assistant turn
        if call_id in self.outputs:
            self._drop("tool output", where, f"call {call_id!r} already has an output")
            return
        self.outputs[call_id] = _Output(text, images, where)

    def _drop(self, what: str, where: str, reason: str) -> None:
        self.notes.append(Note("debug", "dropped_item", what, f"dropped {what} ({where}): {reason}"))

    # -- content ------------------------------------------------------------------------------

    def _user_content(self, content: object, where: str) -> str | list[dict[str, Any]]:
        """A user message's content: a string, or parts when it carries images the model can see."""
        if isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise InvalidRequest(f"{where} must be a string or an array", param=where)
        texts: list[str] = []
        parts: list[dict[str, Any]] | None = None  # created at the first image
        for index, part in enumerate(content):
            part_where = f"{where}[{index}]"
            kind = _part_type(part, part_where)
            if kind in _TEXT_PARTS:
                text = required_str(part, "text", part_where)
            elif kind in _IMAGE_PARTS:
                image = self._image(part, part_where)
                if image is None:
                    text = self._omitted_file(part, part_where)
                elif self.profile.supports_images:
                    if parts is None:
                        parts = [{"type": "text", "text": t} for t in texts]
                    parts.append(image)
                    continue
                else:
                    text = self._omitted_image(part_where)
            else:
                text = self._omitted_part(kind, part_where)
            if parts is None:
                texts.append(text)
            else:
                parts.append({"type": "text", "text": text})
        if parts is None:
            return texts[0] if len(texts) == 1 else "\n".join(texts)
        # MiMo vision rejects an image message without text: 400 "Param Incorrect: `text` is not set".
        if not any(p["type"] == "text" and p["text"].strip() for p in parts):
            parts.insert(0, {"type": "text", "text": _IMAGE_TEXT})
        return parts

    def _plain_content(self, content: object, where: str, joiner: str = "\n") -> str:
        """System and assistant content: always a string (images cannot be sent there)."""
        if isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise InvalidRequest(f"{where} must be a string or an array", param=where)
        texts: list[str] = []
        for index, part in enumerate(content):
            part_where = f"{where}[{index}]"
            kind = _part_type(part, part_where)
            if kind in _TEXT_PARTS:
                texts.append(required_str(part, "text", part_where))
            elif kind == "refusal":
                texts.append(required_str(part, "refusal", part_where))
            else:
                texts.append(self._omitted_part(kind, part_where, "only user messages can carry it"))
        return texts[0] if len(texts) == 1 else joiner.join(texts)

    def _image(self, part: dict[str, Any], where: str) -> dict[str, Any] | None:
        """The chat ``image_url`` part for an image part; None for a ``file_id`` reference."""
        url = part.get("image_url")
        detail = part.get("detail")
        if isinstance(url, dict):  # Chat-shaped {"image_url": {"url", "detail"}}
            detail = url.get("detail")
            url = url.get("url")
        if not isinstance(url, str) or not url:
            if url is None and isinstance(part.get("file_id"), str):
                return None
            raise InvalidRequest(f"{where}.image_url must be a non-empty string", param=f"{where}.image_url")
        image_url = {"url": url}
        chat_detail = _CHAT_DETAILS.get(detail) if isinstance(detail, str) else None
        if chat_detail is not None:
            image_url["detail"] = chat_detail
        return {"type": "image_url", "image_url": image_url}

    def _omitted_image(self, where: str) -> str:
        self.notes.append(
            Note(
                "info",
                "image_omitted",
                self.label,
                f"replaced an image with a placeholder ({where}): {self.label} does not accept image input",
            )
        )
        return f"[image omitted: {self.label} does not accept image input]"

    def _omitted_file(self, part: dict[str, Any], where: str) -> str:
        file_id = part.get("file_id")
        self.notes.append(
            Note(
                "info",
                "image_omitted",
                str(file_id),
                f"replaced image file {file_id!r} with a placeholder ({where}): "
                "OpenAI file ids cannot be fetched by other vendors",
            )
        )
        return f"[image omitted: {file_id} is an OpenAI file id that {self.label} cannot read]"

    def _omitted_part(self, kind: str, where: str, reason: str | None = None) -> str:
        why = reason or f"{self.label} does not accept it through this gateway"
        self.notes.append(
            Note("info", "part_omitted", kind, f"replaced a {kind!r} part with a placeholder ({where}): {why}")
        )
        return f"[{kind} omitted: {why}]"

    # -- assembly -----------------------------------------------------------------------------

    def _assemble(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        profile = self.profile
        for segment in _join_split_turns(self.segments):
            if not isinstance(segment, _Turn):
                previous = messages[-1] if messages else None
                if segment["role"] == "system" and previous is not None and previous["role"] == "system":
                    # One system block: some chat templates accept only one leading system message.
                    messages[-1] = {"role": "system", "content": f"{previous['content']}\n\n{segment['content']}"}
                else:
                    messages.append(segment)
                continue
            text = "\n\n".join(segment.texts)
            calls = segment.calls
            if not calls and not text:
                if segment.reasoning:
                    self.notes.append(
                        Note(
                            "debug",
                            "dropped_item",
                            "reasoning",
                            "dropped reasoning of a turn that has no text or tool call",
                        )
                    )
                continue
            message: dict[str, Any] = {"role": "assistant", "content": text}
            reasoning = "\n\n".join(segment.reasoning)
            if reasoning.strip():  # thinking-mode vendors reject blank reasoning like a missing one
                message["reasoning_content"] = reasoning
            if not calls:
                messages.append(message)
                continue
            message["tool_calls"] = calls
            messages.append(message)
            image_parts: list[dict[str, Any]] = []
            for call in calls:
                call_id = call["id"]
                output = self.outputs.pop(call_id, None)
                if output is None:
                    self.notes.append(
                        Note("info", "aborted_call", call_id, f"tool call {call_id!r} has no output; sent {_ABORTED!r}")
                    )
                    messages.append({"role": "tool", "tool_call_id": call_id, "content": _ABORTED})
                    continue
                messages.append({"role": "tool", "tool_call_id": call_id, "content": output.text})
                if output.images:
                    image_parts.append({"type": "text", "text": f"Image returned by tool call {call_id}:"})
                    image_parts.extend(output.images)
            if image_parts:
                messages.append({"role": "user", "content": image_parts})
        for call_id, output in self.outputs.items():
            self._drop("tool output", output.where, f"no tool call has call_id {call_id!r}")
        backfilled = replay(messages, profile.reasoning_replay, profile.reasoning_backfill)
        if backfilled:
            self.notes.append(
                Note(
                    "debug",
                    "reasoning_backfilled",
                    self.label,
                    f"backfilled reasoning_content on {backfilled} assistant turn(s)",
                )
            )
        return messages


def _join_split_turns(segments: list[_Segment]) -> list[_Segment]:
    """Adjacent turns as one: only items that produce no message (a tool output with no call in the
    history, dropped at assembly) stood between them, and DeepSeek V4 rejects two assistant messages in
    a row. A turn with tool calls stays closed: its tool answers will follow it."""
    joined: list[_Segment] = []
    for segment in segments:
        previous = joined[-1] if joined else None
        if isinstance(segment, _Turn) and isinstance(previous, _Turn) and not previous.calls:
            previous.texts.extend(segment.texts)
            previous.reasoning.extend(segment.reasoning)
            previous.calls.extend(segment.calls)
        else:
            joined.append(segment)
    return joined


_ITEM_HANDLERS: dict[str, Callable[[_History, dict[str, Any], str], None]] = {
    "reasoning": _History._reasoning,
    "function_call": _History._function_call,
    "function_call_output": _History._call_output,
    "custom_tool_call": _History._custom_tool_call,
    "custom_tool_call_output": _History._call_output,
    "tool_search_call": _History._tool_search_call,
    "tool_search_output": _History._tool_search_output,
    "local_shell_call": _History._local_shell_call,
    "local_shell_call_output": _History._local_shell_output,
    "additional_tools": _History._additional_tools,
    "compaction": _History._compaction,
    "compaction_summary": _History._compaction,
}


def _part_type(part: object, where: str) -> str:
    if not isinstance(part, dict):
        raise InvalidRequest(f"{where} must be an object", param=where)
    kind = part.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest(f"{where}.type must be a string", param=f"{where}.type")
    return kind


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
