"""Stored conversations, the pure part: input items with ids, the continued history, list pages."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from mimo2codex.errors import InvalidRequest
from mimo2codex.protocol.conversation import continuation, input_items, items_page, wants_storage


def ids() -> Callable[[str], str]:
    counter = itertools.count(1)
    return lambda prefix: f"{prefix}_{next(counter)}"


def test_store_defaults_to_true_like_openai() -> None:
    assert wants_storage({})
    assert wants_storage({"store": None})
    assert wants_storage({"store": True})
    assert not wants_storage({"store": False})


def test_a_string_is_one_user_message_with_an_id() -> None:
    assert input_items("hi", ids()) == [
        {
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_text", "text": "hi"}],
            "id": "msg_1",
        }
    ]


def test_items_keep_their_ids_and_get_typed_ones() -> None:
    raw = [
        {"role": "assistant", "content": "earlier"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "ok", "id": "fco_given"},
    ]
    items = input_items(raw, ids())
    assert items[0]["content"] == [{"type": "output_text", "text": "earlier", "annotations": []}]
    assert [i["id"] for i in items] == ["msg_1", "fc_2", "fco_given"]
    assert raw[0] == {"role": "assistant", "content": "earlier"}  # the request is not changed


def test_bad_input_is_a_400() -> None:
    with pytest.raises(InvalidRequest):
        input_items(42, ids())
    with pytest.raises(InvalidRequest):
        input_items(["x"], ids())


def test_continuation_is_inputs_then_output() -> None:
    inputs = input_items("q", ids())
    output = [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]}]
    assert continuation(inputs, output) == [*inputs, *output]
    assert continuation(inputs, None) == inputs


def test_pages_follow_the_cursor_in_both_orders() -> None:
    items = input_items([{"role": "user", "content": f"m{n}"} for n in range(5)], ids())
    first = items_page(items, order="asc", limit=2)
    assert [i["id"] for i in first["data"]] == ["msg_1", "msg_2"]
    assert (first["first_id"], first["last_id"], first["has_more"]) == ("msg_1", "msg_2", True)
    last = items_page(items, order="asc", after="msg_4", limit=2)
    assert [i["id"] for i in last["data"]] == ["msg_5"]
    assert last["has_more"] is False
    newest = items_page(items)
    assert newest["data"][0]["id"] == "msg_5"
    assert newest["object"] == "list"
    assert items_page([], order="asc") == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("limit", {"limit": 0}), ("limit", {"limit": 101}), ("order", {"order": "up"}), ("after", {"after": "nope"})],
)
def test_bad_page_parameters_name_the_parameter(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        items_page(input_items("x", ids()), **kwargs)
    assert caught.value.param == field
