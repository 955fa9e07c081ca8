"""chat_to_response (non-streamed) and the synthetic probe response."""

from __future__ import annotations

from typing import Any

import pytest
from openai._models import validate_type
from openai.types.responses import Response

from mimo2codex.protocol.reasoning import unseal
from mimo2codex.protocol.response import chat_to_response, synthetic_events, synthetic_response
from mimo2codex.protocol.stream import StreamTranslator
from tests.protocol.test_stream import make_ctx
from tests.sdk_invariants import check_event_sequence


def completion(message: dict[str, Any], finish: str | None = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1731000000,
        "model": "deepseek-chat",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
        **extra,
    }


def assert_valid_response(response: dict[str, Any]) -> None:
    """The SDK's strict models accept it (error codes Codex needs aside)."""
    value = response
    if response.get("error") and response["error"]["code"] not in (
        "server_error",
        "rate_limit_exceeded",
        "invalid_prompt",
    ):
        value = {**response, "error": {**response["error"], "code": "server_error"}}
    validate_type(type_=Response, value=value)


USAGE = {
    "prompt_tokens": 100,
    "completion_tokens": 20,
    "total_tokens": 120,
    "prompt_cache_hit_tokens": 64,
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def test_text_with_reasoning_and_usage() -> None:
    response = chat_to_response(
        completion({"content": "Answer.", "reasoning_content": "Think."}, usage=USAGE), make_ctx()
    )
    assert_valid_response(response)
    assert response["object"] == "response"
    assert response["status"] == "completed"
    assert (response["id"], response["model"], response["created_at"]) == (
        "resp_golden",
        "codex-test-model",
        1731000000,
    )
    reasoning, message = response["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Think."}]
    assert unseal(reasoning["encrypted_content"]) == "Think."
    assert message["content"] == [{"type": "output_text", "text": "Answer.", "annotations": []}]
    assert response["usage"] == {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 120,
    }
    assert response["error"] is None
    assert response["incomplete_details"] is None
    assert response["parallel_tool_calls"] is True  # echo fields the SDK requires
    assert response["tools"] == []


def test_tool_calls_without_index_stay_separate_and_are_raised() -> None:
    message = {
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd": "ls"}'}},
            {"id": "c2", "type": "function", "function": {"name": "apply_patch", "arguments": '{"input": "P"}'}},
            {"id": "c3", "type": "function", "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{}"}},
            {"id": "c4", "type": "function", "function": {"name": "tool_search", "arguments": '{"query": "q"}'}},
        ],
    }
    response = chat_to_response(completion(message, "tool_calls"), make_ctx())
    assert_valid_response(response)
    assert [(i["type"], i["call_id"]) for i in response["output"]] == [
        ("function_call", "c1"),
        ("custom_tool_call", "c2"),
        ("function_call", "c3"),
        ("tool_search_call", "c4"),
    ]
    assert response["output"][1]["input"] == "P"
    assert response["output"][2]["namespace"] == "multi_agent_v1"
    assert response["output"][3]["arguments"] == {"query": "q"}


def test_tool_calls_without_ids_get_distinct_ids() -> None:
    message = {
        "tool_calls": [
            {"function": {"name": "exec_command", "arguments": "{}"}},
            {"function": {"name": "exec_command", "arguments": "{}"}},
        ]
    }
    response = chat_to_response(completion(message, "tool_calls"), make_ctx())
    assert [item["call_id"] for item in response["output"]] == ["call_golden_0", "call_golden_1"]


def test_same_items_as_the_stream() -> None:
    message = {
        "content": "Let me look.",
        "reasoning_content": "Plan.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "exec_command", "arguments": '{"cmd": "ls"}'}}
        ],
    }
    non_stream = chat_to_response(completion(message, "tool_calls", usage=USAGE), make_ctx())
    translator = StreamTranslator(make_ctx())
    events = translator.start()
    for delta in (
        {"reasoning_content": "Pl"},
        {"reasoning_content": "an."},
        {"content": "Let me "},
        {"content": "look."},
        {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"cmd": "ls"}'}}]},
    ):
        events += translator.feed({"choices": [{"index": 0, "delta": delta}]})
    events += translator.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}], "usage": USAGE})
    events += translator.finish()
    check_event_sequence(events)
    assert non_stream == events[-1]["response"]


def test_think_tags_in_a_whole_message() -> None:
    response = chat_to_response(completion({"content": "<think>\nhmm\n</think>\n\nYes."}), make_ctx(think_tags=True))
    assert [item["type"] for item in response["output"]] == ["reasoning", "message"]
    assert response["output"][1]["content"][0]["text"] == "Yes."


def test_length_is_incomplete() -> None:
    response = chat_to_response(completion({"content": "cut off"}, "length"), make_ctx())
    assert_valid_response(response)
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}


def test_error_body_is_a_failed_response() -> None:
    response = chat_to_response(
        {"error": {"message": "This model's maximum context length is 8192 tokens."}}, make_ctx()
    )
    assert_valid_response(response)
    assert response["status"] == "failed"
    assert response["error"]["code"] == "context_length_exceeded"
    assert response["output"] == []


def test_no_choices_is_a_failed_response() -> None:
    response = chat_to_response({"id": "x", "object": "chat.completion", "choices": []}, make_ctx())
    assert response["status"] == "failed"
    assert response["error"]["code"] == "server_error"


def test_annotations_and_citations_on_the_message() -> None:
    message = {
        "content": "See [1] and docs.",
        "annotations": [
            {
                "type": "url_citation",
                "url_citation": {"url": "https://d.x", "title": "Docs", "start_index": 12, "end_index": 16},
            }
        ],
    }
    response = chat_to_response(completion(message, citations=["https://one.x"]), make_ctx())
    assert_valid_response(response)
    annotations = response["output"][0]["content"][0]["annotations"]
    assert [(a["url"], a["start_index"], a["end_index"]) for a in annotations] == [
        ("https://d.x", 12, 16),
        ("https://one.x", 4, 7),
    ]


def test_usage_inside_the_choice() -> None:
    chat = completion({"content": "x"})
    chat["choices"][0]["usage"] = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert chat_to_response(chat, make_ctx())["usage"]["total_tokens"] == 4


def test_the_input_is_not_mutated() -> None:
    chat = completion(
        {"tool_calls": [{"id": "c", "function": {"name": "exec_command", "arguments": "{}"}}]}, "tool_calls"
    )
    before = repr(chat)
    chat_to_response(chat, make_ctx())
    assert repr(chat) == before


@pytest.mark.parametrize("text", ["pong", "多语言 ✅", ""])
def test_synthetic_response(text: str) -> None:
    ctx = make_ctx(think_tags=True)
    events = synthetic_events(ctx, text)
    check_event_sequence(events)
    response = synthetic_response(ctx, text)
    assert response == events[-1]["response"]
    assert_valid_response(response)
    assert response["status"] == "completed"
    expected = [[{"type": "output_text", "text": text, "annotations": []}]] if text else []
    assert [item["content"] for item in response["output"]] == expected
    assert response["usage"]["total_tokens"] == 0


def test_synthetic_text_is_never_read_as_think_tags() -> None:
    response = synthetic_response(make_ctx(think_tags=True), "<think>literal</think>")
    assert response["output"][0]["content"][0]["text"] == "<think>literal</think>"
