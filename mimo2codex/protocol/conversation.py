"""Stateful Responses, the pure part: input items as OpenAI lists them, history, and list pages.

A response created with ``store`` is kept with its own input items (each given an ``id``, as
``GET /v1/responses/{id}/input_items`` returns them) and its history: every earlier item plus this
response's output, which is what the next request's ``previous_response_id`` continues from::

    items = input_items(body.get("input"), new_id)
    body["input"] = previous.history + items          # previous_response_id
    ...
    history = continuation(previous_history + items, response["output"])
    page = items_page(items, order="desc", after=None, limit=20)

Ids come from the caller (``new_id(prefix)``): the core has no randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mimo2codex.errors import InvalidRequest

#: ``GET .../input_items``: OpenAI's bounds and default for ``limit``
MAX_PAGE = 100
DEFAULT_PAGE = 20

_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
    "reasoning": "rs",
}


def wants_storage(body: dict[str, Any]) -> bool:
    """``store`` as OpenAI reads it: absent (or null) means true; Codex sends ``false``."""
    return body.get("store") is not False


def input_items(raw: object, new_id: Callable[[str], str]) -> list[dict[str, Any]]:
    """A request's ``input`` as typed items with ids (a string is one user message)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    if not isinstance(raw, list):
        raise InvalidRequest("input must be a string or an array", param="input")
    items: list[dict[str, Any]] = []
    for index, value in enumerate(raw):
        if not isinstance(value, dict):
            raise InvalidRequest(f"input[{index}] must be an object", param=f"input[{index}]")
        item = dict(value)
        kind = item.setdefault("type", "message")
        if kind == "message":
            item.setdefault("status", "completed")
            if isinstance(item.get("content"), str):
                part = "output_text" if item.get("role") == "assistant" else "input_text"
                text_part: dict[str, Any] = {"type": part, "text": item["content"]}
                if part == "output_text":
                    text_part["annotations"] = []
                item["content"] = [text_part]
        if not isinstance(item.get("id"), str) or not item["id"]:
            item["id"] = new_id(_ID_PREFIXES.get(str(kind), "item"))
        items.append(item)
    return items


def continuation(inputs: list[dict[str, Any]], output: object) -> list[dict[str, Any]]:
    """What a later ``previous_response_id`` starts from: every input item, then this output."""
    produced = [item for item in output if isinstance(item, dict)] if isinstance(output, list) else []
    return [*inputs, *produced]


def items_page(
    items: list[dict[str, Any]], *, order: str = "desc", after: str | None = None, limit: int = DEFAULT_PAGE
) -> dict[str, Any]:
    """One page of ``GET /v1/responses/{id}/input_items`` (OpenAI's cursor list shape)."""
    if order not in ("asc", "desc"):
        raise InvalidRequest("order must be 'asc' or 'desc'", param="order")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}", param="limit")
    ordered = items if order == "asc" else items[::-1]
    start = 0
    if after is not None:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            raise InvalidRequest(f"no input item has id {after!r}", param="after")
        start = ids.index(after) + 1
    data = ordered[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(ordered),
    }
