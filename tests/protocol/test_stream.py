"""StreamTranslator: golden streams recorded from vendors, and one test per translation rule.

Goldens: ``tests/data/stream/<case>.sse`` (raw upstream bytes) -> ``<case>.events.json`` (what we emit),
with optional ``<case>.context.json`` overriding the ResponseContext. Regenerate with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/protocol/test_stream.py`` and review the diff by eye.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimo2codex.protocol.context import ResponseContext
from mimo2codex.protocol.notes import Note
from mimo2codex.protocol.reasoning import unseal
from mimo2codex.protocol.sse import DONE, SSEDecoder, parse_chat_data
from mimo2codex.protocol.stream import StreamTranslator
from mimo2codex.protocol.toolmap import ToolEntry, ToolKind, ToolMap
from mimo2codex.protocol.usage import convert_usage
from tests.sdk_invariants import check_event_sequence

DATA = Path(__file__).parent.parent / "data" / "stream"
CASES = sorted(path.stem for path in DATA.glob("*.sse"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def tool_map() -> ToolMap:
    tools = ToolMap()
    tools.add("exec_command", ToolEntry(ToolKind.FUNCTION, "exec_command"))
    tools.add("write_stdin", ToolEntry(ToolKind.FUNCTION, "write_stdin"))
    tools.add("apply_patch", ToolEntry(ToolKind.CUSTOM, "apply_patch"))
    tools.add("multi_agent_v1__spawn_agent", ToolEntry(ToolKind.FUNCTION, "spawn_agent", "multi_agent_v1"))
    tools.add("tool_search", ToolEntry(ToolKind.TOOL_SEARCH, "tool_search"))
    return tools


def make_ctx(**options: Any) -> ResponseContext:
    return ResponseContext(
        response_id="resp_golden", created_at=1731000000, model="codex-test-model", tool_map=tool_map(), **options
    )


def case_ctx(case: str) -> ResponseContext:
    path = DATA / f"{case}.context.json"
    return make_ctx(**(orjson.loads(path.read_bytes()) if path.exists() else {}))


@dataclass
class Run:
    events: list[dict[str, Any]] = field(default_factory=list)
    saw_done: bool = False
    notes: list[list[str]] = field(default_factory=list)

    def golden(self) -> dict[str, Any]:
        return {"saw_done": self.saw_done, "notes": self.notes, "events": self.events}


def run_sse(ctx: ResponseContext, pieces: list[bytes]) -> Run:
    """What the server does with an upstream body: decode, parse, translate."""
    run = Run()
    translator = StreamTranslator(ctx)
    run.events += translator.start()

    def handle(sse_events: list[Any]) -> None:
        for sse_event in sse_events:
            parsed = parse_chat_data(sse_event.data)
            if parsed is DONE:
                run.saw_done = True
            elif isinstance(parsed, Note):
                run.notes.append([parsed.level, parsed.code, parsed.message])
            else:
                run.events += translator.feed(parsed)

    decoder = SSEDecoder()
    for piece in pieces:
        handle(decoder.feed(piece))
    handle(decoder.flush())
    run.events += translator.finish()
    run.notes += [[note.level, note.code, note.message] for note in translator.notes]
    return run


def dump_golden(value: dict[str, Any]) -> bytes:
    """One event per line: reviewable, and diffs point at the event that changed."""
    events = b",\n  ".join(orjson.dumps(event) for event in value["events"])
    head = b'{"saw_done": ' + orjson.dumps(value["saw_done"]) + b',\n "notes": ' + orjson.dumps(value["notes"])
    return head + b',\n "events": [\n  ' + events + b"\n ]\n}\n"


def random_pieces(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pieces, position = [], 0
    while position < len(data):
        size = rng.choice((1, 2, 3, rng.randint(1, 64)))
        pieces.append(data[position : position + size])
        position += size
    return pieces


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    data = (DATA / f"{case}.sse").read_bytes()
    run = run_sse(case_ctx(case), [data])
    golden_path = DATA / f"{case}.events.json"
    if UPDATE:
        golden_path.write_bytes(dump_golden(run.golden()))
    assert run.golden() == orjson.loads(golden_path.read_bytes())
    check_event_sequence(run.events)


@pytest.mark.parametrize("case", CASES)
def test_golden_split_anywhere(case: str) -> None:
    data = (DATA / f"{case}.sse").read_bytes()
    whole = run_sse(case_ctx(case), [data]).golden()
    assert run_sse(case_ctx(case), [data[i : i + 1] for i in range(len(data))]).golden() == whole
    for seed in range(8):
        assert run_sse(case_ctx(case), random_pieces(data, seed)).golden() == whole, f"seed {seed}"
    # Every two-piece split, checked at the decoder (the translator only sees decoded events).
    reference = SSEDecoder()
    expected = reference.feed(data) + reference.flush()
    for cut in range(1, len(data)):
        decoder = SSEDecoder()
        assert decoder.feed(data[:cut]) + decoder.feed(data[cut:]) + decoder.flush() == expected, f"cut {cut}"


def test_goldens_cover_the_vendor_shapes() -> None:
    # Guards against a golden silently disappearing from the data directory.
    assert len(CASES) >= 20
    assert all((DATA / f"{case}.events.json").exists() for case in CASES)


# -- helpers for the rule tests ----------------------------------------------------------------------


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **extra}


def translate(chunks: list[dict[str, Any]], **options: Any) -> tuple[list[dict[str, Any]], StreamTranslator]:
    translator = StreamTranslator(make_ctx(**options))
    events = translator.start()
    for item in chunks:
        events += translator.feed(item)
    events += translator.finish()
    check_event_sequence(events)
    return events, translator


def final(events: list[dict[str, Any]]) -> dict[str, Any]:
    response: dict[str, Any] = events[-1]["response"]
    return response


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in final(events)["output"] if item["type"] == "message" for part in item["content"]]


# -- lifecycle ---------------------------------------------------------------------------------------


def test_start_emits_created_then_in_progress_once() -> None:
    translator = StreamTranslator(make_ctx())
    events = translator.start()
    assert types(events) == ["response.created", "response.in_progress"]
    assert [e["sequence_number"] for e in events] == [0, 1]
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["output"] == []
    assert translator.start() == []


def test_feed_before_start_still_begins_with_created() -> None:
    translator = StreamTranslator(make_ctx())
    events = translator.feed(chunk({"content": "hi"}, "stop")) + translator.finish()
    assert events[0]["type"] == "response.created"
    check_event_sequence(events)


def test_nothing_after_the_terminal_event() -> None:
    translator = StreamTranslator(make_ctx())
    translator.start()
    translator.feed(chunk({"content": "hi"}, "stop"))
    assert translator.finish()[-1]["type"] == "response.completed"
    assert translator.feed(chunk({"content": "more"})) == []
    assert translator.finish() == []
    assert translator.fail("server_error", "late") == []
    assert translator.start() == []


def test_terminal_response_carries_echo_model_and_created_at() -> None:
    ctx = make_ctx()
    ctx.echo = {**ctx.echo, "instructions": "be brief", "tool_choice": "required", "model": "not-this"}
    translator = StreamTranslator(ctx)
    events = translator.start() + translator.feed(chunk({"content": "x"}, "stop")) + translator.finish()
    response = final(events)
    assert response["id"] == "resp_golden"
    assert response["model"] == "codex-test-model"  # an echo field never overrides the core ones
    assert response["created_at"] == 1731000000
    assert response["instructions"] == "be brief"
    assert response["tool_choice"] == "required"
    assert response["error"] is None
    assert response["incomplete_details"] is None
    assert "end_turn" not in response


def test_item_ids_are_deterministic_per_response() -> None:
    chunks = [chunk({"reasoning_content": "r"}), chunk({"content": "t"}), chunk({}, "stop")]
    first, _ = translate(chunks)
    second, _ = translate(chunks)
    assert first == second
    assert [item["id"] for item in final(first)["output"]] == ["rs_golden_0", "msg_golden_1"]


# -- text ----------------------------------------------------------------------------------------------


def test_text_deltas_and_the_complete_message_item() -> None:
    events, translator = translate(
        [chunk({"role": "assistant", "content": ""}), chunk({"content": "He"}), chunk({"content": "llo"}, "stop")]
    )
    assert types(events)[2:] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    delta = events[4]
    assert delta["logprobs"] == []
    assert delta["content_index"] == 0
    item = final(events)["output"][0]
    assert item == {
        "id": "msg_golden_0",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Hello", "annotations": []}],
    }
    assert "phase" not in item
    assert translator.text == "Hello"


def test_leading_blank_lines_are_dropped_and_whitespace_only_text_is_no_message() -> None:
    events, _ = translate([chunk({"content": "\n\n"}), chunk({"content": "  indented\n"}), chunk({}, "stop")])
    assert texts(events) == ["  indented\n"]
    events, _ = translate([chunk({"content": "\n \n"}), chunk({}, "stop")])
    assert final(events)["output"] == []


def test_whitespace_between_reasoning_and_tool_call_opens_no_message() -> None:
    events, _ = translate(
        [
            chunk({"reasoning_content": "think"}),
            chunk({"content": "\n\n"}),
            chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": "{}"}}]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert [item["type"] for item in final(events)["output"]] == ["reasoning", "function_call"]


def test_content_parts_list_and_refusal_become_text() -> None:
    events, _ = translate(
        [chunk({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}), chunk({}, "stop")]
    )
    assert texts(events) == ["ab"]
    events, _ = translate([chunk({"content": None, "refusal": "I can't help with that."}), chunk({}, "stop")])
    assert texts(events) == ["I can't help with that."]


def test_only_choice_zero_is_used() -> None:
    two = {"choices": [{"index": 1, "delta": {"content": "other"}}, {"index": 0, "delta": {"content": "mine"}}]}
    events, _ = translate([two, chunk({}, "stop")])
    assert texts(events) == ["mine"]


# -- reasoning -----------------------------------------------------------------------------------------


def test_reasoning_item_events_and_sealed_text() -> None:
    events, _ = translate(
        [
            chunk({"reasoning_content": "Step 1."}),
            chunk({"reasoning_content": " Step 2."}),
            chunk({"content": "Answer"}, "stop"),
        ]
    )
    assert types(events)[2:13] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.content_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.reasoning_text.done",
        "response.content_part.done",
    ]
    assert events[2]["item"] == {"id": "rs_golden_0", "type": "reasoning", "summary": []}
    item = final(events)["output"][0]
    assert item["summary"] == [{"type": "summary_text", "text": "Step 1. Step 2."}]
    assert item["content"] == [{"type": "reasoning_text", "text": "Step 1. Step 2."}]
    assert unseal(item["encrypted_content"]) == "Step 1. Step 2."


def test_reasoning_field_used_by_vllm_and_openrouter() -> None:
    events, _ = translate([chunk({"reasoning": "via reasoning"}), chunk({"content": "ok"}, "stop")])
    assert final(events)["output"][0]["summary"][0]["text"] == "via reasoning"


def test_reasoning_content_wins_when_a_server_sends_both_fields() -> None:
    events, _ = translate([chunk({"reasoning_content": "once", "reasoning": "once"}), chunk({}, "stop")])
    assert final(events)["output"][0]["content"][0]["text"] == "once"


def test_hidden_reasoning_still_travels_sealed() -> None:
    events, _ = translate(
        [chunk({"reasoning_content": "secret plan"}), chunk({"content": "done"}, "stop")], expose_reasoning=False
    )
    assert not any("reasoning_summary" in t or "reasoning_text" in t for t in types(events))
    item = final(events)["output"][0]
    assert item == {
        "id": "rs_golden_0",
        "type": "reasoning",
        "summary": [],
        "encrypted_content": item["encrypted_content"],
    }
    assert unseal(item["encrypted_content"]) == "secret plan"


def test_reasoning_after_text_opens_a_new_item_instead_of_interleaving() -> None:
    events, _ = translate(
        [
            chunk({"reasoning_content": "a"}),
            chunk({"content": "b"}),
            chunk({"reasoning_content": "c"}),
            chunk({"content": "d"}, "stop"),
        ]
    )
    assert [item["type"] for item in final(events)["output"]] == ["reasoning", "message", "reasoning", "message"]


def test_whitespace_reasoning_during_text_does_not_split_the_message() -> None:
    events, _ = translate(
        [
            chunk({"content": "one"}),
            chunk({"content": " two", "reasoning_content": "\n"}),
            chunk({"content": " three"}, "stop"),
        ]
    )
    assert [item["type"] for item in final(events)["output"]] == ["message"]
    assert texts(events) == ["one two three"]


# -- think tags ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pieces",
    [
        ["<think>plan</think>answer"],
        ["<thi", "nk>pl", "an</thi", "nk>answer"],
        ["\n<think>", "plan", "<", "/", "think", ">", "\n\nanswer"],
        list("<think>plan</think>answer"),
    ],
)
def test_think_tags_split_anywhere(pieces: list[str]) -> None:
    events, _ = translate([chunk({"content": p}) for p in pieces] + [chunk({}, "stop")], think_tags=True)
    output = final(events)["output"]
    assert [item["type"] for item in output] == ["reasoning", "message"]
    assert output[0]["content"][0]["text"] == "plan"
    assert texts(events) == ["answer"]


def test_think_tags_off_leaves_content_alone() -> None:
    events, _ = translate([chunk({"content": "<think>x</think>y"}, "stop")])
    assert texts(events) == ["<think>x</think>y"]


def test_think_tag_not_at_the_start_is_text() -> None:
    events, _ = translate(
        [chunk({"content": "Use <think> tags"}), chunk({"content": " like </think>"}, "stop")], think_tags=True
    )
    assert texts(events) == ["Use <think> tags like </think>"]


def test_unclosed_think_block_is_reasoning_and_a_lone_prefix_is_text() -> None:
    events, _ = translate([chunk({"content": "<think>never closed </thi"})], think_tags=True)
    assert final(events)["output"][0]["content"][0]["text"] == "never closed </thi"
    events, _ = translate([chunk({"content": "<thi"}, "stop")], think_tags=True)
    assert texts(events) == ["<thi"]


def test_think_tags_and_reasoning_content_together() -> None:
    events, _ = translate(
        [chunk({"reasoning_content": "native"}), chunk({"content": "<think>tagged</think>text"}, "stop")],
        think_tags=True,
    )
    output = final(events)["output"]
    assert [item["type"] for item in output] == ["reasoning", "message"]
    assert output[0]["content"][0]["text"] == "nativetagged"


# -- tool calls ------------------------------------------------------------------------------------------


def call(index: int | None = None, id: str | None = None, name: str | None = None, args: Any = None) -> dict[str, Any]:
    delta: dict[str, Any] = {"function": {}}
    if index is not None:
        delta["index"] = index
    if id is not None:
        delta["id"] = id
    if name is not None:
        delta["function"]["name"] = name
    if args is not None:
        delta["function"]["arguments"] = args
    return delta


def tool_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in final(events)["output"] if item["type"] not in ("message", "reasoning")]


def test_tool_calls_are_emitted_complete_at_the_end() -> None:
    translator = StreamTranslator(make_ctx())
    events = translator.start()
    events += translator.feed(chunk({"tool_calls": [call(0, "c1", "exec_command", '{"cmd"')]}))
    events += translator.feed(chunk({"tool_calls": [call(0, args=': "ls"}')]}, "tool_calls"))
    assert not translator.output_started  # nothing emitted yet: the server may still retry
    assert translator.tool_call_count == 1
    events += translator.finish()
    check_event_sequence(events)
    assert types(events)[2:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[2]["item"]["arguments"] == ""
    assert events[2]["item"]["status"] == "in_progress"
    assert events[3]["delta"] == '{"cmd": "ls"}'
    assert tool_items(events) == [
        {
            "type": "function_call",
            "id": "fc_golden_0",
            "call_id": "c1",
            "name": "exec_command",
            "arguments": '{"cmd": "ls"}',
            "status": "completed",
        }
    ]
    assert translator.output_started


def test_tool_calls_follow_index_order_not_arrival_order() -> None:
    events, _ = translate(
        [
            chunk({"tool_calls": [call(1, "second", "exec_command", "{}")]}),
            chunk({"tool_calls": [call(0, "first", "exec_command", "{}")]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert [item["call_id"] for item in tool_items(events)] == ["first", "second"]


def test_missing_call_id_gets_a_deterministic_one() -> None:
    events, _ = translate([chunk({"tool_calls": [call(0, None, "exec_command", "{}")]}), chunk({}, "tool_calls")])
    assert tool_items(events)[0]["call_id"] == "call_golden_0"


def test_duplicate_call_ids_are_made_unique() -> None:
    events, _ = translate(
        [
            chunk({"tool_calls": [call(0, "dup", "exec_command", "{}"), call(1, "dup", "write_stdin", "{}")]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert [item["call_id"] for item in tool_items(events)] == ["dup", "dup_1"]


def test_an_index_reused_with_a_new_id_is_a_new_call() -> None:
    events, _ = translate(
        [
            chunk({"tool_calls": [call(0, "a", "exec_command", '{"cmd": "1"}')]}),
            chunk({"tool_calls": [call(0, "b", "exec_command", '{"cmd": ')]}),
            chunk({"tool_calls": [call(0, args='"2"}')]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert [(item["call_id"], item["arguments"]) for item in tool_items(events)] == [
        ("a", '{"cmd": "1"}'),
        ("b", '{"cmd": "2"}'),
    ]


def test_repeated_id_and_name_in_every_chunk_do_not_duplicate() -> None:
    events, _ = translate(
        [
            chunk({"tool_calls": [call(0, "same", "exec_command", '{"cmd":')]}),
            chunk({"tool_calls": [call(0, "same", "exec_command", ' "pwd"}')]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert [(item["name"], item["arguments"]) for item in tool_items(events)] == [("exec_command", '{"cmd": "pwd"}')]


def test_object_arguments_are_serialized() -> None:
    events, _ = translate(
        [chunk({"tool_calls": [call(0, "c", "exec_command", {"cmd": "ls"})]}), chunk({}, "tool_calls")]
    )
    assert tool_items(events)[0]["arguments"] == '{"cmd":"ls"}'


def test_legacy_function_call_delta() -> None:
    events, _ = translate(
        [
            chunk({"function_call": {"name": "exec_command", "arguments": '{"cmd":'}}),
            chunk({"function_call": {"arguments": ' "id"}'}}, "function_call"),
        ]
    )
    item = tool_items(events)[0]
    assert (item["name"], item["arguments"], item["call_id"]) == ("exec_command", '{"cmd": "id"}', "call_golden_0")
    assert final(events)["status"] == "completed"


def test_garbled_arguments_are_repaired_when_the_call_finished() -> None:
    events, _ = translate(
        [chunk({"tool_calls": [call(0, "c", "exec_command", '{"cmd": "ls')]}), chunk({}, "tool_calls")]
    )
    assert tool_items(events)[0]["arguments"] == '{"cmd": "ls"}'


def test_nameless_tool_call_is_dropped_with_a_note() -> None:
    events, translator = translate(
        [chunk({"content": "x", "tool_calls": [call(0, "c", None, "{}")]}), chunk({}, "tool_calls")]
    )
    assert tool_items(events) == []
    assert [note.code for note in translator.notes] == ["dropped_tool_call"]


def test_unknown_tool_name_stays_a_function_call_for_codex_to_reject() -> None:
    events, _ = translate([chunk({"tool_calls": [call(0, "c", "made_up", "{}")]}), chunk({}, "tool_calls")])
    assert tool_items(events)[0]["name"] == "made_up"


def test_custom_tool_input_events() -> None:
    events, _ = translate(
        [
            chunk({"tool_calls": [call(0, "p", "apply_patch", '{"input": "*** Begin Patch\\n"}')]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert types(events)[2:6] == [
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
    ]
    assert events[2]["item"]["input"] == ""
    assert tool_items(events)[0]["input"] == "*** Begin Patch\n"


def test_tool_names_and_count_for_the_request_log() -> None:
    _, translator = translate(
        [
            chunk({"tool_calls": [call(0, "a", "exec_command", "{}"), call(1, "b", "apply_patch", "{}")]}),
            chunk({}, "tool_calls"),
        ]
    )
    assert translator.tool_names == ["exec_command", "apply_patch"]
    assert translator.tool_call_count == 2
    assert translator.finish_reason == "tool_calls"


# -- finish reasons -------------------------------------------------------------------------------------


def test_length_is_incomplete_max_output_tokens_and_the_item_is_incomplete() -> None:
    events, _ = translate([chunk({"content": "cut"}, "length")])
    response = final(events)
    assert events[-1]["type"] == "response.incomplete"
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["output"][0]["status"] == "incomplete"


@pytest.mark.parametrize("reason", ["content_filter", "sensitive"])
def test_content_filter_is_incomplete_content_filter(reason: str) -> None:
    events, _ = translate([chunk({"content": "partial"}, reason)])
    assert final(events)["incomplete_details"] == {"reason": "content_filter"}


@pytest.mark.parametrize("reason", ["insufficient_system_resource", "network_error", "error", "abort"])
def test_aborted_generation_is_a_retryable_failure(reason: str) -> None:
    events, _ = translate([chunk({"content": "partial"}, reason)])
    assert events[-1]["type"] == "response.failed"
    assert final(events)["error"]["code"] == "server_error"


def test_context_window_filled_while_generating_is_context_length_exceeded() -> None:
    events, _ = translate([chunk({"content": "partial"}, "model_context_window_exceeded")])
    assert final(events)["error"]["code"] == "context_length_exceeded"


@pytest.mark.parametrize("reason", ["stop", "tool_calls", "function_call", "eos_token", None])
def test_other_endings_with_content_complete(reason: str | None) -> None:
    events, _ = translate([chunk({"content": "fine"}, reason)])
    assert events[-1]["type"] == "response.completed"


def test_never_interrupted_nor_end_turn() -> None:
    for reason in ("length", "content_filter", "stop", None, "interrupted"):
        events, _ = translate([chunk({"content": "x"}, reason)])
        blob = orjson.dumps(events)
        assert b"interrupted" not in blob
        assert b"end_turn" not in blob


def test_truncated_tool_call_is_dropped_on_length() -> None:
    events, translator = translate(
        [
            chunk(
                {
                    "content": "doing",
                    "tool_calls": [
                        call(0, "ok", "exec_command", '{"cmd": "ls"}'),
                        call(1, "cut", "exec_command", '{"cmd": "rm -rf /tmp/bu'),
                    ],
                },
                "length",
            )
        ]
    )
    assert [item["call_id"] for item in tool_items(events)] == ["ok"]
    assert [note.subject for note in translator.notes if note.code == "dropped_tool_call"] == ["exec_command"]


def test_stream_cut_before_any_output_fails_retryably() -> None:
    events, _ = translate([chunk({"role": "assistant", "content": ""})])
    assert events[-1]["type"] == "response.failed"
    assert final(events)["error"]["code"] == "server_error"


def test_stream_cut_mid_tool_call_with_nothing_else_fails() -> None:
    events, translator = translate([chunk({"tool_calls": [call(0, "c", "exec_command", '{"cmd": "rm -rf /tmp/x')]})])
    assert events[-1]["type"] == "response.failed"
    assert translator.finish_reason is None


def test_empty_answer_with_stop_completes_empty() -> None:
    events, _ = translate([chunk({"content": ""}, "stop")])
    assert events[-1]["type"] == "response.completed"
    assert final(events)["output"] == []


# -- errors ---------------------------------------------------------------------------------------------


def test_error_chunk_fails_with_the_classified_code() -> None:
    translator = StreamTranslator(make_ctx())
    events = translator.start() + translator.feed(chunk({"content": "so far"}))
    events += translator.feed(
        {"error": {"message": "This model's maximum context length is 65536 tokens.", "type": "invalid_request_error"}}
    )
    check_event_sequence(events)
    response = final(events)
    assert response["status"] == "failed"
    assert response["error"]["code"] == "context_length_exceeded"
    assert response["output"] == []  # the half-streamed message never enters Codex's history
    assert translator.status == "failed"
    assert translator.finish() == []


def test_rate_limit_error_chunk_tells_codex_when_to_retry() -> None:
    events, _ = translate([{"error": {"message": "Rate limit exceeded", "type": "rate_limit_error", "code": 429}}])
    error = final(events)["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert "try again in 5s" in error["message"].lower()


def test_error_after_finish_reason_is_ignored() -> None:
    events, translator = translate([chunk({"content": "all here"}, "stop"), {"error": {"message": "late hiccup"}}])
    assert events[-1]["type"] == "response.completed"
    assert [note.code for note in translator.notes] == ["error_after_finish"]


def test_fail_directly() -> None:
    translator = StreamTranslator(make_ctx())
    events = translator.fail("rate_limit_exceeded", "slow down, try again in 3s")
    assert types(events) == ["response.created", "response.in_progress", "response.failed"]
    assert final(events)["error"] == {"code": "rate_limit_exceeded", "message": "slow down, try again in 3s"}
    check_event_sequence(events)


# -- usage ------------------------------------------------------------------------------------------------


def test_usage_chunk_after_finish_reason() -> None:
    events, translator = translate(
        [
            chunk({"content": "x"}, "stop"),
            {"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}},
        ]
    )
    expected = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 12,
    }
    assert final(events)["usage"] == expected
    assert translator.usage == expected


def test_no_usage_is_null() -> None:
    events, translator = translate([chunk({"content": "x"}, "stop")])
    assert final(events)["usage"] is None
    assert translator.usage is None


@pytest.mark.parametrize(
    ("usage", "cached", "reasoning", "total"),
    [
        ({"prompt_tokens": 9, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 8}}, 8, 0, 10),
        (
            {"prompt_tokens": 9, "completion_tokens": 1, "prompt_cache_hit_tokens": 7, "prompt_cache_miss_tokens": 2},
            7,
            0,
            10,
        ),
        (
            {
                "prompt_tokens": 9,
                "completion_tokens": 5,
                "cached_tokens": 4,
                "completion_tokens_details": {"reasoning_tokens": 3},
            },
            4,
            3,
            14,
        ),
        ({"prompt_tokens": None, "completion_tokens": "many", "total_tokens": 3.0}, 0, 0, 3),
    ],
)
def test_usage_variants(usage: dict[str, Any], cached: int, reasoning: int, total: int) -> None:
    converted = convert_usage(usage)
    assert converted["input_tokens_details"]["cached_tokens"] == cached
    assert converted["output_tokens_details"]["reasoning_tokens"] == reasoning
    assert converted["total_tokens"] == total
    assert all(isinstance(converted[k], int) for k in ("input_tokens", "output_tokens", "total_tokens"))


def test_usage_inside_the_choice_kimi() -> None:
    events, _ = translate(
        [
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": "x"},
                        "finish_reason": "stop",
                        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
                    }
                ]
            }
        ]
    )
    assert final(events)["usage"]["total_tokens"] == 6


# -- citations ----------------------------------------------------------------------------------------------


def test_url_citation_annotations_are_converted_and_announced() -> None:
    annotation = {
        "type": "url_citation",
        "url_citation": {"url": "https://e.x/a", "title": "A", "start_index": 0, "end_index": 4},
    }
    events, _ = translate([chunk({"content": "Read"}), chunk({"annotations": [annotation]}), chunk({}, "stop")])
    expected = {"type": "url_citation", "url": "https://e.x/a", "title": "A", "start_index": 0, "end_index": 4}
    assert final(events)["output"][0]["content"][0]["annotations"] == [expected]
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [(e["annotation_index"], e["annotation"]) for e in added] == [(0, expected)]


def test_annotation_offsets_follow_dropped_leading_text() -> None:
    annotation = {"type": "url_citation", "url": "https://e.x", "title": "", "start_index": 21, "end_index": 25}
    events, _ = translate(
        [
            chunk({"content": "<think>x</think>\nSee "}),
            chunk({"content": "this", "annotations": [annotation]}),
            chunk({}, "stop"),
        ],
        think_tags=True,
    )
    text = texts(events)[0]
    resolved = final(events)["output"][-1]["content"][0]["annotations"][0]
    assert text[resolved["start_index"] : resolved["end_index"]] == "this"
    assert resolved["title"] == "https://e.x"  # the SDK requires a title; the URL is the honest fallback


def test_citation_url_list_points_at_markers() -> None:
    urls = ["https://a.x", "https://b.x"]
    events, _ = translate([chunk({"content": "One [1]. Two [2]."}, citations=urls), chunk({}, "stop", citations=urls)])
    annotations = final(events)["output"][0]["content"][0]["annotations"]
    assert [(a["url"], a["start_index"], a["end_index"]) for a in annotations] == [
        ("https://a.x", 4, 7),
        ("https://b.x", 13, 16),
    ]


def test_annotations_with_no_text_are_dropped_with_a_note() -> None:
    annotation = {"type": "url_citation", "url": "https://e.x", "start_index": 0, "end_index": 1}
    _, translator = translate(
        [chunk({"annotations": [annotation], "tool_calls": [call(0, "c", "exec_command", "{}")]}, "tool_calls")]
    )
    assert "dropped_annotations" in [note.code for note in translator.notes]


# -- the checker itself must catch broken streams -------------------------------------------------------------


def good_stream() -> list[dict[str, Any]]:
    events, _ = translate(
        [
            chunk({"reasoning_content": "r"}),
            chunk({"content": "t"}),
            chunk({"tool_calls": [call(0, "c", "exec_command", "{}")]}, "tool_calls"),
        ]
    )
    return events


def _mutations() -> dict[str, Any]:
    def drop_type(events: list[dict[str, Any]]) -> None:
        del events[4]["type"]

    def renumber(events: list[dict[str, Any]]) -> None:
        events[5]["sequence_number"] = 99

    def change_id(events: list[dict[str, Any]]) -> None:
        events[-1]["response"]["id"] = "resp_other"

    def wrong_text(events: list[dict[str, Any]]) -> None:
        next(e for e in events if e["type"] == "response.output_text.done")["text"] = "nope"

    def object_arguments(events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] == "response.output_item.done" and event["item"]["type"] == "function_call":
                event["item"]["arguments"] = {}

    def interrupted(events: list[dict[str, Any]]) -> None:
        events[-1]["type"] = "response.incomplete"
        events[-1]["response"]["status"] = "incomplete"
        events[-1]["response"]["incomplete_details"] = {"reason": "interrupted"}

    def missing_done(events: list[dict[str, Any]]) -> None:
        position = next(i for i, e in enumerate(events) if e["type"] == "response.output_item.done")
        del events[position]
        for number, event in enumerate(events):
            event["sequence_number"] = number

    def top_level_error(events: list[dict[str, Any]]) -> None:
        events[-1]["error"] = {"message": "x"}

    def usage_without_total(events: list[dict[str, Any]]) -> None:
        events[-1]["response"]["usage"] = {"input_tokens": 1, "output_tokens": 1}

    def phase(events: list[dict[str, Any]]) -> None:
        for event in events:
            if event["type"] == "response.output_item.done" and event["item"]["type"] == "message":
                event["item"]["phase"] = "foo"

    return {
        f.__name__: f
        for f in (
            drop_type,
            renumber,
            change_id,
            wrong_text,
            object_arguments,
            interrupted,
            missing_done,
            top_level_error,
            usage_without_total,
            phase,
        )
    }


def test_checker_accepts_the_good_stream() -> None:
    check_event_sequence(good_stream())


@pytest.mark.parametrize("mutation", sorted(_mutations()))
def test_checker_rejects_broken_streams(mutation: str) -> None:
    events = orjson.loads(orjson.dumps(good_stream()))
    _mutations()[mutation](events)
    with pytest.raises(AssertionError):
        check_event_sequence(events)


# -- property: any chunk sequence yields a stream the SDK and Codex accept -----------------------------------

_TEXT = st.lists(
    st.sampled_from(["a", " ", "\n", "秋", "😀", "<think>", "</think>", "<", "/", "{", '"']), max_size=8
).map("".join)
_ARGUMENT_PIECES = st.sampled_from(["", "{", '"cmd"', ": ", '"ls"', "}", '{"input": "P"}', "{}", "garbage", 'x"'])
_TOOL_DELTA = st.fixed_dictionaries(
    {},
    optional={
        "index": st.integers(0, 2),
        "id": st.sampled_from(["c1", "c2", "c3", ""]),
        "function": st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(
                    ["exec_command", "apply_patch", "tool_search", "multi_agent_v1__spawn_agent", "unknown", ""]
                ),
                "arguments": _ARGUMENT_PIECES,
            },
        ),
    },
)
_ANNOTATION = st.fixed_dictionaries(
    {
        "type": st.just("url_citation"),
        "url": st.just("https://e.x"),
        "start_index": st.integers(0, 30),
        "end_index": st.integers(0, 30),
    }
)
_DELTA = st.one_of(
    st.fixed_dictionaries({"reasoning_content": _TEXT}),
    st.fixed_dictionaries({"reasoning": _TEXT}),
    st.fixed_dictionaries({"content": _TEXT}),
    st.fixed_dictionaries({"tool_calls": st.lists(_TOOL_DELTA, max_size=2)}),
    st.fixed_dictionaries({"annotations": st.lists(_ANNOTATION, max_size=1)}),
    st.fixed_dictionaries(
        {"function_call": st.fixed_dictionaries({"name": st.just("exec_command"), "arguments": _ARGUMENT_PIECES})}
    ),
)
_FINISH = st.sampled_from(
    [
        None,
        "stop",
        "length",
        "tool_calls",
        "content_filter",
        "insufficient_system_resource",
        "model_context_window_exceeded",
        "eos",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    deltas=st.lists(_DELTA, max_size=12),
    finish=_FINISH,
    usage=st.booleans(),
    error=st.booleans(),
    think_tags=st.booleans(),
    expose_reasoning=st.booleans(),
)
def test_any_chunk_sequence_gives_a_valid_stream(
    deltas: list[dict[str, Any]], finish: str | None, usage: bool, error: bool, think_tags: bool, expose_reasoning: bool
) -> None:
    chunks = [chunk(delta) for delta in deltas] + [chunk({}, finish)]
    if error:
        chunks.insert(len(chunks) // 2, {"error": {"message": "boom", "code": 503}})
    if usage:
        chunks.append({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}})
    events, translator = translate(chunks, think_tags=think_tags, expose_reasoning=expose_reasoning)
    assert translator.status == final(events)["status"]
    if not think_tags and not error:
        # Every visible character of content reaches the user's transcript
        sent = "".join(d["content"] for d in deltas if "content" in d)
        if sent.strip() and finish not in ("insufficient_system_resource", "model_context_window_exceeded"):
            # (blank lines opening a message are dropped, so compare without whitespace)
            assert "".join("".join(texts(events)).split()) == "".join(sent.split())
