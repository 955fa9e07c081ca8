"""What every Responses event stream mimo2codex produces must satisfy.

:func:`check_event_sequence` raises AssertionError naming the first offending event. It checks

* the openai SDK: each event validates against the SDK's strict pydantic models, and the whole
  sequence runs through the SDK's real stream accumulator (``ResponseStreamState``), whose final
  response must equal ours;
* the grammar of CONTRACT §6/§7 that the SDK does not enforce: contiguous ``sequence_number`` from 0,
  one response id, items that never interleave, deltas that add up to the ``*.done`` texts and to the
  complete item, one terminal event, last;
* what Codex needs from each item (§1.3-§1.5): string ``arguments`` holding a JSON object, call ids,
  no ``interrupted`` / ``end_turn``, usage with all its fields, no top-level ``error`` key (the SDK
  raises on it).

Used by the protocol unit tests, the golden tests, property-based tests and the live tests::

    check_event_sequence(events)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard, get_args

import orjson
import pydantic
from openai._models import construct_type, validate_type
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseError, ResponseStreamEvent

from mimo2codex.protocol.reasoning import unseal

_TERMINAL = {"response.completed": "completed", "response.incomplete": "incomplete", "response.failed": "failed"}
_LIFECYCLE = {"response.created": "in_progress", "response.in_progress": "in_progress", **_TERMINAL}
# Codex needs codes the SDK's ResponseError literal lacks (context_length_exceeded, insufficient_quota).
_SDK_ERROR_CODES = frozenset(get_args(ResponseError.model_fields["code"].annotation))
_INCOMPLETE_REASONS = frozenset({"max_output_tokens", "content_filter"})
_USAGE_FIELDS = ("input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details", "total_tokens")


@dataclass
class _Item:
    index: int
    added: dict[str, Any]
    #: content_index -> accumulated text; parts closed by content_part.done
    parts: dict[int, str] = field(default_factory=dict)
    part_types: dict[int, str] = field(default_factory=dict)
    parts_done: dict[int, dict[str, Any]] = field(default_factory=dict)
    text_done: dict[int, str] = field(default_factory=dict)
    annotations: dict[int, list[Any]] = field(default_factory=dict)
    summaries: dict[int, str] = field(default_factory=dict)
    summaries_text_done: dict[int, str] = field(default_factory=dict)
    summaries_done: dict[int, str] = field(default_factory=dict)
    arguments: str | None = None
    arguments_done: str | None = None


def check_event_sequence(events: list[dict[str, Any]]) -> None:
    """Raise AssertionError unless ``events`` is a stream Codex and the openai SDK both accept."""
    assert events, "no events"
    _check_sdk_models(events)
    done_items = _check_grammar(events)
    _check_sdk_accumulator(events, done_items)


def _text(value: object) -> TypeGuard[str]:
    """A non-empty string."""
    return isinstance(value, str) and bool(value)


def _count(value: object) -> bool:
    """A token count: an int (not a bool), zero or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _where(position: int, event: dict[str, Any]) -> str:
    return f"event #{position} ({event.get('type')!r})"


def _check_sdk_models(events: list[dict[str, Any]]) -> None:
    for position, event in enumerate(events):
        where = _where(position, event)
        assert isinstance(event, dict), f"{where}: not a dict"
        assert orjson.loads(orjson.dumps(event)) == event, f"{where}: does not survive a JSON round trip"
        assert not event.get("error"), f"{where}: a top-level 'error' key makes the openai SDK raise APIError"
        value = event
        response = event.get("response")
        if isinstance(response, dict) and isinstance(response.get("error"), dict):
            code = response["error"].get("code")
            if code not in _SDK_ERROR_CODES:
                value = {**event, "response": {**response, "error": {**response["error"], "code": "server_error"}}}
        try:
            validate_type(type_=ResponseStreamEvent, value=value)  # type: ignore[arg-type]
        except pydantic.ValidationError as exc:
            raise AssertionError(f"{where}: rejected by the openai SDK models:\n{exc}") from None


def _check_grammar(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert events[0].get("type") == "response.created", f"first event is {events[0].get('type')!r}"
    response_id = events[0]["response"].get("id")
    assert _text(response_id), "response.created without response.id"
    done_items: list[dict[str, Any]] = []
    call_ids: set[str] = set()
    item: _Item | None = None
    added_count = 0
    for position, event in enumerate(events):
        where = _where(position, event)
        kind = event.get("type")
        assert _text(kind), f"{where}: no type"
        assert event.get("sequence_number") == position, f"{where}: sequence_number {event.get('sequence_number')}"
        assert kind != "error", f"{where}: the 'error' event is not terminal for Codex (§1.6)"
        if kind in _LIFECYCLE:
            response = event["response"]
            assert response.get("id") == response_id, f"{where}: response id changed"
            assert response.get("object") == "response", f"{where}: response.object"
            assert response.get("status") == _LIFECYCLE[kind], f"{where}: status {response.get('status')!r}"
            assert "end_turn" not in response, f"{where}: end_turn makes Codex re-sample (§1.4)"
            if kind in _TERMINAL:
                assert position == len(events) - 1, f"{where}: terminal event is not the last"
                assert item is None or kind == "response.failed", f"{where}: item {item.index} still open"
                _check_terminal(where, kind, response, done_items)
            elif kind == "response.created":
                assert response.get("output") == [], f"{where}: output must be empty at first"
            continue
        assert kind.startswith("response."), f"{where}: unexpected event type"
        if kind == "response.output_item.added":
            assert item is None, f"{where}: item {item.index if item else ''} is still open (items never interleave)"
            assert event.get("output_index") == added_count, f"{where}: output_index {event.get('output_index')}"
            added = event["item"]
            assert isinstance(added.get("type"), str), f"{where}: item without type"
            item = _Item(added_count, added)
            added_count += 1
            continue
        assert item is not None, f"{where}: no open item"
        assert event.get("output_index") == item.index, f"{where}: output_index != open item {item.index}"
        if kind == "response.output_item.done":
            done = event["item"]
            _check_done_item(where, item, done, call_ids)
            done_items.append(done)
            item = None
            continue
        assert event.get("item_id") == item.added.get("id"), f"{where}: item_id != open item's id"
        _accumulate(where, kind, event, item)
    assert events[-1].get("type") in _TERMINAL, f"stream ends with {events[-1].get('type')!r}, not a terminal event"
    return done_items


def _accumulate(where: str, kind: str, event: dict[str, Any], item: _Item) -> None:
    item_type = item.added["type"]
    if kind == "response.content_part.added":
        index = event["content_index"]
        assert index == len(item.parts), f"{where}: content_index {index} skips a part"
        part = event["part"]
        expected = "output_text" if item_type == "message" else "reasoning_text"
        assert part.get("type") == expected, f"{where}: part type {part.get('type')!r} in a {item_type}"
        assert part.get("text") == "", f"{where}: a part starts empty"
        item.parts[index] = ""
        item.part_types[index] = part["type"]
        item.annotations[index] = []
    elif kind in ("response.output_text.delta", "response.reasoning_text.delta"):
        index = event["content_index"]
        assert index in item.parts, f"{where}: delta before its part"
        assert index not in item.parts_done, f"{where}: delta after its part"
        expected = "output_text" if kind == "response.output_text.delta" else "reasoning_text"
        assert item.part_types[index] == expected, f"{where}: delta for a {item.part_types[index]} part"
        assert _text(event["delta"]), f"{where}: empty delta"
        item.parts[index] += event["delta"]
    elif kind == "response.output_text.annotation.added":
        index = event["content_index"]
        assert index in item.parts, f"{where}: annotation before its part"
        assert index not in item.parts_done, f"{where}: annotation after its part"
        assert event["annotation_index"] == len(item.annotations[index]), f"{where}: annotation_index"
        item.annotations[index].append(event["annotation"])
    elif kind in ("response.output_text.done", "response.reasoning_text.done"):
        index = event["content_index"]
        assert event["text"] == item.parts.get(index), f"{where}: text != the sum of its deltas"
        item.text_done[index] = event["text"]
    elif kind == "response.content_part.done":
        index = event["content_index"]
        assert index in item.text_done, f"{where}: content_part.done before its text .done"
        part = event["part"]
        assert part.get("text") == item.parts[index], f"{where}: part text != the sum of its deltas"
        if part.get("type") == "output_text":
            assert part.get("annotations") == item.annotations[index], f"{where}: annotations != annotation events"
        item.parts_done[index] = part
    elif kind == "response.reasoning_summary_part.added":
        index = event["summary_index"]
        assert index == len(item.summaries), f"{where}: summary_index {index} skips a part"
        assert event["part"] == {"type": "summary_text", "text": ""}, f"{where}: a summary part starts empty"
        item.summaries[index] = ""
    elif kind == "response.reasoning_summary_text.delta":
        index = event["summary_index"]
        assert index in item.summaries, f"{where}: delta before its summary part"
        assert index not in item.summaries_done, f"{where}: delta after its summary part"
        assert _text(event["delta"]), f"{where}: empty delta"
        item.summaries[index] += event["delta"]
    elif kind == "response.reasoning_summary_text.done":
        index = event["summary_index"]
        assert event["text"] == item.summaries.get(index), f"{where}: text != the sum of its deltas"
        item.summaries_text_done[index] = event["text"]
    elif kind == "response.reasoning_summary_part.done":
        index = event["summary_index"]
        assert index in item.summaries_text_done, f"{where}: summary_part.done before its text .done"
        assert event["part"] == {"type": "summary_text", "text": item.summaries[index]}, f"{where}: part text"
        item.summaries_done[index] = item.summaries[index]
    elif kind in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
        expected = "function_call" if "function_call" in kind else "custom_tool_call"
        assert item_type == expected, f"{where}: on a {item_type} item"
        assert item.arguments_done is None, f"{where}: delta after .done"
        item.arguments = (item.arguments or "") + event["delta"]
    elif kind in ("response.function_call_arguments.done", "response.custom_tool_call_input.done"):
        expected = "function_call" if "function_call" in kind else "custom_tool_call"
        assert item_type == expected, f"{where}: on a {item_type} item"
        text = event["arguments"] if expected == "function_call" else event["input"]
        assert text == (item.arguments or ""), f"{where}: != the sum of its deltas"
        item.arguments_done = text
    else:
        raise AssertionError(f"{where}: an event mimo2codex should not produce")


def _check_done_item(where: str, item: _Item, done: dict[str, Any], call_ids: set[str]) -> None:
    added = item.added
    kind = done.get("type")
    assert kind == added["type"], f"{where}: type changed from {added['type']!r}"
    assert done.get("id") == added.get("id"), f"{where}: id changed"
    assert done.get("call_id") == added.get("call_id"), f"{where}: call_id changed"
    assert done.get("status") != "in_progress", f"{where}: a done item is still in_progress"
    assert item.parts.keys() == item.parts_done.keys(), f"{where}: content parts left open"
    assert item.summaries.keys() == item.summaries_done.keys(), f"{where}: summary parts left open"
    if kind == "message":
        assert done.get("role") == "assistant", f"{where}: message without role assistant (§1.3)"
        assert done.get("phase") in (None, "commentary", "final_answer"), f"{where}: phase {done.get('phase')!r}"
        content = done.get("content")
        assert content, f"{where}: message without content"
        for part in content:
            assert part.get("type") == "output_text", f"{where}: part {part.get('type')!r} drops the message"
            assert isinstance(part.get("text"), str), f"{where}: part text"
            assert isinstance(part.get("annotations"), list), f"{where}: part annotations"
        assert content == [item.parts_done[i] for i in sorted(item.parts_done)], f"{where}: content != the parts"
    elif kind == "reasoning":
        summary = done.get("summary")
        assert isinstance(summary, list), f"{where}: reasoning without summary list (§1.3)"
        assert [p.get("type") for p in summary] == ["summary_text"] * len(summary), f"{where}: summary part type"
        assert [p.get("text") for p in summary] == [item.summaries_done[i] for i in sorted(item.summaries_done)], (
            f"{where}: summary != the summary deltas"
        )
        content = done.get("content") or []
        assert [p.get("type") for p in content] == ["reasoning_text"] * len(content), f"{where}: content type"
        assert [p.get("text") for p in content] == [item.parts_done[i]["text"] for i in sorted(item.parts_done)], (
            f"{where}: content != the reasoning_text deltas"
        )
        sealed = unseal(done.get("encrypted_content"))
        if sealed is not None and content:
            assert sealed == "".join(p["text"] for p in content), f"{where}: sealed text != content"
    elif kind in ("function_call", "custom_tool_call"):
        assert _text(done.get("name")), f"{where}: no name (§1.3)"
        call_id = done.get("call_id")
        assert _text(call_id), f"{where}: no call_id (§1.3)"
        assert call_id not in call_ids, f"{where}: duplicate call_id {call_id!r}"
        call_ids.add(call_id)
        if "namespace" in done:
            assert _text(done["namespace"]), f"{where}: empty namespace"
        field_name = "arguments" if kind == "function_call" else "input"
        text = done.get(field_name)
        assert isinstance(text, str), f"{where}: {field_name} must be a string (§1.3)"
        assert added.get(field_name) == "", f"{where}: the added item carries {field_name}"
        if item.arguments_done is not None:
            assert text == item.arguments_done, f"{where}: {field_name} != the streamed {field_name}"
        if kind == "function_call":
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            assert isinstance(parsed, dict), f"{where}: arguments {text!r} are not a JSON object"
    elif kind == "tool_search_call":
        assert isinstance(done.get("arguments"), dict), f"{where}: tool_search_call arguments must be an object"
        assert done.get("execution") == "client", f"{where}: execution"
        assert _text(done.get("call_id")), f"{where}: no call_id"
    elif kind == "local_shell_call":
        assert (done.get("action") or {}).get("type") == "exec", f"{where}: action"
    else:
        raise AssertionError(f"{where}: item type {kind!r} is not one mimo2codex produces")


def _check_terminal(where: str, kind: str, response: dict[str, Any], done_items: list[dict[str, Any]]) -> None:
    assert response.get("output") == done_items, f"{where}: output != the output_item.done items"
    usage = response.get("usage")
    if usage is not None:
        assert tuple(sorted(usage)) == tuple(sorted(_USAGE_FIELDS)), f"{where}: usage fields {sorted(usage)}"
        for name in ("input_tokens", "output_tokens", "total_tokens"):
            assert _count(usage[name]), f"{where}: usage.{name}"
        assert isinstance(usage["input_tokens_details"].get("cached_tokens"), int), f"{where}: cached_tokens"
        assert isinstance(usage["output_tokens_details"].get("reasoning_tokens"), int), f"{where}: reasoning_tokens"
    if kind == "response.incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        assert reason in _INCOMPLETE_REASONS, f"{where}: incomplete reason {reason!r} (never 'interrupted', §1.5)"
    else:
        assert response.get("incomplete_details") is None, f"{where}: incomplete_details on {kind}"
    if kind == "response.failed":
        error = response.get("error") or {}
        assert _text(error.get("code")), f"{where}: failed without error.code (§1.6)"
        assert _text(error.get("message")), f"{where}: failed without message"
    else:
        assert response.get("error") is None, f"{where}: error on {kind}"


def _check_sdk_accumulator(events: list[dict[str, Any]], done_items: list[dict[str, Any]]) -> None:
    state: ResponseStreamState[object] = ResponseStreamState(input_tools=omit, text_format=omit)
    for position, event in enumerate(events):
        try:
            state.handle_event(construct_type(type_=ResponseStreamEvent, value=event))  # type: ignore[arg-type]
        except (RuntimeError, IndexError, AssertionError, KeyError) as exc:
            raise AssertionError(f"{_where(position, event)}: the openai SDK accumulator failed: {exc!r}") from None
    if events[-1]["type"] != "response.completed":
        return
    final = state._completed_response
    assert final is not None, "the SDK saw no response.completed"
    assert final.id == events[0]["response"]["id"], "the SDK's final response has another id"
    produced = [_without_parsed(item.to_dict()) for item in final.output]
    assert produced == done_items, f"the SDK's final output differs:\n{produced}\n!=\n{done_items}"


def _without_parsed(item: dict[str, Any]) -> dict[str, Any]:
    """Drop what the SDK's parse step adds (``parsed``, ``parsed_arguments``)."""
    item = {k: v for k, v in item.items() if k != "parsed_arguments"}
    if item.get("type") == "message":
        item["content"] = [{k: v for k, v in part.items() if k != "parsed"} for part in item["content"]]
    return item
