"""Responses API request -> Chat Completions request.

::

    chat = responses_to_chat(request_json, profile)
    upstream_body = chat.body          # POST to {base}/chat/completions
    ctx.tool_map = chat.tool_map       # raises the model's tool calls back into Codex items
    for note in chat.notes: log(note)  # what was dropped or changed, and why

This module builds the body: the tools (lowered by ``tools.py``), the ``messages`` and the
top-level options (sampling, reasoning effort, output format, streaming), then the profile's extra
and dropped fields. The history Codex sends is rebuilt into what strict vendors accept (CONTRACT
Part B) by ``history.py`` (reading the input items), ``content.py`` (their content parts) and
``turns.py`` (one assistant message per turn, each tool answer right after its call). Every item
that cannot be sent is reported as a :class:`Note`; anything malformed raises
:class:`InvalidRequest` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mimo2codex.errors import InvalidRequest
from mimo2codex.protocol.history import History
from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.toolmap import ToolMap
from mimo2codex.protocol.tools import ToolLowering, lower_tool_choice

#: Responses ``reasoning.effort`` -> Chat ``reasoning_effort``, which takes low, medium or high
_EFFORTS = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "high",
    "ultra": "high",
}


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
    messages = History(profile, lowering, notes).translate(request)

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
