"""responses_to_chat: golden files over real Codex requests, then one test per translation rule.

Regenerate the goldens with ``UPDATE_GOLDEN=1 pytest tests/protocol/test_request.py`` and review the
diff by eye: a golden is a claim about what the vendor must receive.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimo2codex.errors import InvalidRequest
from mimo2codex.protocol.profile import ReasoningReplay, UpstreamProfile
from mimo2codex.protocol.reasoning import inline_think, seal
from mimo2codex.protocol.request import ChatRequest, responses_to_chat
from mimo2codex.protocol.tools import FREEFORM_USAGE
from tests.fakes.strict_upstream import VendorRules, check_request

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "codex-cli-0.169.0"
DATA = Path(__file__).resolve().parents[1] / "data" / "request"

GENERIC = UpstreamProfile(model="generic-model", label="generic-model on generic")
THINKING = UpstreamProfile(
    model="mimo-v2.5-pro",
    label="mimo-v2.5-pro on mimo",
    supports_images=False,
    supports_reasoning_effort=True,
    max_tokens_field="max_completion_tokens",
    reasoning_replay=ReasoningReplay.REQUIRED,
    force_parallel_tool_calls=True,
    extra_body={"thinking": {"type": "enabled"}},
)
STRIP = UpstreamProfile(
    model="deepseek-reasoner",
    label="deepseek-reasoner on deepseek",
    supports_images=False,
    reasoning_replay=ReasoningReplay.STRIP,
    stream_usage=False,
    drop_fields=frozenset({"parallel_tool_calls", "temperature"}),
)
INLINE = UpstreamProfile(
    model="MiniMax-M2.7",
    label="MiniMax-M2.7 on minimax",
    supports_images=False,
    max_tokens_field="max_completion_tokens",
    reasoning_replay=ReasoningReplay.INLINE,
    think_tags=True,
)
PROFILES = {"generic": GENERIC, "thinking": THINKING, "strip": STRIP, "inline": INLINE}
CASES = {
    "turn1-plain-prompt": FIXTURES / "turn1-plain-prompt.request.json",
    "turn1-tool-task": FIXTURES / "turn1-tool-task.request.json",
    "turn2-after-exec_command": FIXTURES / "turn2-after-exec_command.request.json",
    # every item type Codex can send, in one session (a modified variant, hence kept in tests/data)
    "full-session": DATA / "full-session.request.json",
    # deepseek-chat (no reasoning) turns, then deepseek-v4-pro turns: a session resumed on another model
    "model-switch": DATA / "model-switch.request.json",
}
PNG = "data:image/png;base64,iVBORw0KGgo="


def load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(path.read_bytes())
    return value


def translate(request: dict[str, Any], profile: UpstreamProfile = GENERIC) -> ChatRequest:
    return responses_to_chat(request, profile)


def messages(request: dict[str, Any], profile: UpstreamProfile = GENERIC) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = translate(request, profile).body["messages"]
    return result


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def call(call_id: str, name: str = "exec_command", arguments: str = '{"cmd":"ls"}', **extra: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": arguments, "call_id": call_id, **extra}


def output(call_id: str, value: Any = "ok") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": value}


def reasoning(text: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}],
        "content": None,
        "encrypted_content": None,
    }


EXEC_TOOL = {
    "type": "function",
    "name": "exec_command",
    "description": "Run a command.",
    "strict": False,
    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
}


def codes(result: ChatRequest) -> list[tuple[str, str, str]]:
    return [(n.level, n.code, n.subject) for n in result.notes]


# -- golden files ---------------------------------------------------------------------------------


def _abbreviate(value: Any) -> Any:
    """Long prompt strings shown by head, length and hash: reviewable goldens that still catch changes."""
    if isinstance(value, str) and len(value) > 1200:
        digest = hashlib.sha256(value.encode()).hexdigest()[:16]
        return f"{value[:300]}…[{len(value)} chars, sha256:{digest}]…{value[-120:]}"
    if isinstance(value, dict):
        return {key: _abbreviate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_abbreviate(item) for item in value]
    return value


def _snapshot(result: ChatRequest) -> dict[str, Any]:
    return {
        "body": _abbreviate(result.body),
        "tool_map": {
            flat: {"kind": entry.kind.value, "name": entry.name, "namespace": entry.namespace}
            for flat, entry in result.tool_map.entries.items()
        },
        "notes": [[n.level, n.code, n.subject, n.message] for n in result.notes],
    }


@pytest.mark.parametrize("profile_name", PROFILES)
@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, profile_name: str) -> None:
    request = load(CASES[case])
    pristine = copy.deepcopy(request)
    snapshot = _snapshot(translate(request, PROFILES[profile_name]))
    assert request == pristine, "the translator must not mutate the client's request"
    golden = DATA / f"{case}.{profile_name}.json"
    rendered = orjson.dumps(snapshot, option=orjson.OPT_INDENT_2).decode() + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"missing golden {golden.name}; run with UPDATE_GOLDEN=1 and review it"
    assert orjson.loads(golden.read_bytes()) == orjson.loads(rendered)


def test_fixture_tools_and_messages_are_translated_whole() -> None:
    """The real turn-2 request: merged system prompt, the call and its answer, namespaced tools."""
    result = translate(load(CASES["turn2-after-exec_command"]), THINKING)
    body = result.body
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "user", "assistant", "tool"]
    assert body["messages"][0]["content"].startswith("You are a coding agent running in the Codex CLI")
    assert "<skills_instructions>" in body["messages"][0]["content"]
    turn = body["messages"][3]
    assert turn["reasoning_content"] == "I will run a command"
    assert turn["tool_calls"][0]["function"] == {
        "name": "exec_command",
        "arguments": '{"cmd": "echo hi > out.txt && cat out.txt"}',
    }
    names = [t["function"]["name"] for t in body["tools"]]
    assert "multi_agent_v1__spawn_agent" in names
    assert len(names) == len(set(names))
    assert body["thinking"] == {"type": "enabled"}


# -- input shapes ---------------------------------------------------------------------------------


def test_string_input_is_one_user_message() -> None:
    assert messages({"input": "hi"}) == [{"role": "user", "content": "hi"}]


def test_instructions_become_the_first_system_message() -> None:
    result = messages({"instructions": "Be brief.", "input": [user("hi")]})
    assert result == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


def test_developer_becomes_system_and_consecutive_system_messages_merge() -> None:
    request = {
        "instructions": "A",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "B"}]},
            {"type": "message", "role": "system", "content": "C"},
            user("hi"),
            {"type": "message", "role": "developer", "content": "D"},
        ],
    }
    assert messages(request) == [
        {"role": "system", "content": "A\n\nB\n\nC"},
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "D"},
    ]


def test_chat_shaped_items_without_type() -> None:
    request = {
        "input": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "think",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "exec_command", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "done"}]},
            {"role": "assistant", "content": "all good"},
        ]
    }
    assert messages(request) == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "think",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "exec_command", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
        {"role": "assistant", "content": "all good"},
    ]


def test_text_part_kinds_and_joining() -> None:
    request = {
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hel"}, {"type": "output_text", "text": "lo"}],
            },
            {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        ]
    }
    assert messages(request) == [{"role": "user", "content": "a\nb"}, {"role": "assistant", "content": "Hello\n\nNo."}]


# -- one assistant message per turn -------------------------------------------------------------


def test_one_assistant_message_per_turn() -> None:
    request = {
        "input": [
            user("go"),
            reasoning("plan"),
            assistant("Running two commands."),
            call("c1"),
            reasoning("more"),
            call("c2", arguments='{"cmd":"pwd"}'),
            output("c1", "one"),
            output("c2", "two"),
            assistant("Done."),
            user("next"),
            assistant("Sure."),
        ]
    }
    result = messages(request)
    assert [m["role"] for m in result] == ["user", "assistant", "tool", "tool", "assistant", "user", "assistant"]
    turn = result[1]
    assert turn["content"] == "Running two commands."
    assert turn["reasoning_content"] == "plan\n\nmore"
    assert [c["id"] for c in turn["tool_calls"]] == ["c1", "c2"]
    assert result[4] == {"role": "assistant", "content": "Done."}


def test_tool_call_turn_content_is_empty_string_never_null() -> None:
    result = messages({"input": [user("go"), call("c1"), output("c1")]})
    assert result[1]["content"] == ""
    assert "content" in result[1]


def test_reasoning_only_turn_is_dropped_with_note() -> None:
    result = translate({"input": [user("go"), reasoning("thinking..."), user("again")]})
    assert [m["role"] for m in result.body["messages"]] == ["user", "user"]
    assert ("debug", "dropped_item", "reasoning") in codes(result)


# -- reasoning replay ---------------------------------------------------------------------------

_REPLAY_REQUEST = {
    "input": [
        user("go"),
        reasoning("why c1"),
        call("c1"),
        output("c1"),
        call("c2"),  # a tool-call turn without reasoning (history from another provider)
        output("c2"),
        assistant("done"),  # a text turn without reasoning
    ]
}


def _assistants(profile: UpstreamProfile) -> list[dict[str, Any]]:
    return [m for m in messages(_REPLAY_REQUEST, profile) if m["role"] == "assistant"]


def test_strip_never_sends_reasoning_content() -> None:
    assert all("reasoning_content" not in m for m in _assistants(STRIP))


def test_keep_sends_reasoning_where_known_only() -> None:
    turns = _assistants(GENERIC)
    assert [m.get("reasoning_content") for m in turns] == ["why c1", None, None]


def test_required_backfills_every_assistant_message_of_a_tool_turn() -> None:
    # DeepSeek: between two user messages with tool calls, the closing answer needs reasoning too
    turns = _assistants(THINKING)
    fill = THINKING.reasoning_backfill
    assert [m.get("reasoning_content") for m in turns] == ["why c1", fill, fill]
    assert ("debug", "reasoning_backfilled", THINKING.label) in codes(translate(_REPLAY_REQUEST, THINKING))


def test_model_switch_history_is_accepted_by_each_strict_vendor() -> None:
    """The deepseek-chat -> deepseek-v4-pro session: V4 accepts it (every tool turn's messages carry
    reasoning), R1 accepts it stripped; sent as KEEP (no backfill), V4 would answer its 400."""
    request = load(CASES["model-switch"])
    v4 = UpstreamProfile(
        model="deepseek-v4-pro", supports_images=False, reasoning_replay=ReasoningReplay.REQUIRED, stream_usage=False
    )
    r1 = UpstreamProfile(
        model="deepseek-reasoner", supports_images=False, reasoning_replay=ReasoningReplay.STRIP, stream_usage=False
    )
    assert check_request(translate(request, v4).body, VendorRules.deepseek_v4()) == []
    assert check_request(translate(request, r1).body, VendorRules.deepseek_r1()) == []
    keep = dataclasses.replace(v4, reasoning_replay=ReasoningReplay.KEEP)
    assert {v.rule for v in check_request(translate(request, keep).body, VendorRules.deepseek_v4())} == {
        "reasoning_required"
    }


def test_inline_puts_reasoning_back_into_the_text_as_think_tags() -> None:
    turns = _assistants(INLINE)
    assert all("reasoning_content" not in m for m in turns)
    assert turns[0]["content"] == "<think>\nwhy c1\n</think>\n\n"
    assert [m["content"] for m in turns[1:]] == ["", "done"]  # no reasoning, nothing invented
    assert check_request(translate(_REPLAY_REQUEST, INLINE).body, VendorRules.minimax()) == []


def test_inline_think_keeps_content_parts_and_skips_other_roles() -> None:
    parts = [{"type": "text", "text": "answer"}]
    messages = [
        {"role": "assistant", "content": parts, "reasoning_content": "why"},
        {"role": "assistant", "content": None, "reasoning_content": "  "},
        {"role": "user", "content": "hi", "reasoning_content": "not mine"},
    ]
    inline_think(messages)
    assert messages == [
        {"role": "assistant", "content": [{"type": "text", "text": "<think>\nwhy\n</think>\n\n"}, *parts]},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "hi", "reasoning_content": "not mine"},
    ]


def test_sealed_reasoning_is_preferred_over_summary() -> None:
    item = reasoning("summary shown to the user")
    item["encrypted_content"] = seal("the full chain of thought")
    result = messages({"input": [user("go"), item, assistant("ok")]})
    assert result[1]["reasoning_content"] == "the full chain of thought"


def test_openai_encrypted_reasoning_is_dropped_with_note() -> None:
    item: dict[str, Any] = {"type": "reasoning", "summary": [], "content": None, "encrypted_content": "gAAAA-openai"}
    result = translate({"input": [user("go"), item, call("c1"), output("c1")]}, THINKING)
    assert result.body["messages"][1]["reasoning_content"] == THINKING.reasoning_backfill
    assert ("debug", "dropped_item", "reasoning") in codes(result)


# -- tool pairing -------------------------------------------------------------------------------


def test_outputs_are_reordered_in_call_order_right_after_their_call() -> None:
    request = {
        "input": [
            user("go"),
            call("c1"),
            call("c2"),
            user("interjection"),
            output("c2", "two"),
            output("c1", "one"),
        ]
    }
    result = messages(request)
    assert [(m["role"], m.get("tool_call_id")) for m in result] == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("tool", "c2"),
        ("user", None),
    ]
    assert [m["content"] for m in result[2:4]] == ["one", "two"]


def test_call_without_output_gets_an_aborted_answer() -> None:
    result = translate({"input": [user("go"), call("c1"), user("stop")]})
    assert result.body["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": "aborted"}
    assert ("info", "aborted_call", "c1") in codes(result)


def test_orphan_output_is_dropped_with_note() -> None:
    result = translate({"input": [user("go"), output("ghost", "stale")]})
    assert result.body["messages"] == [{"role": "user", "content": "go"}]
    assert ("debug", "dropped_item", "tool output") in codes(result)


def test_duplicate_call_id_and_duplicate_output_are_dropped_with_notes() -> None:
    request = {"input": [user("go"), call("c1"), output("c1", "first"), call("c1"), output("c1", "second")]}
    result = translate(request)
    tool_messages = [m for m in result.body["messages"] if m["role"] == "tool"]
    assert tool_messages == [{"role": "tool", "tool_call_id": "c1", "content": "first"}]
    assert codes(result).count(("debug", "dropped_item", "tool output")) == 1
    assert ("debug", "dropped_item", "tool call") in codes(result)


def test_tool_output_array_is_flattened_to_a_string() -> None:
    parts = [{"type": "input_text", "text": "line 1"}, {"type": "output_text", "text": "line 2"}]
    result = messages({"input": [user("go"), call("c1"), output("c1", parts)]})
    assert result[2]["content"] == "line 1\nline 2"


def test_malformed_arguments_are_repaired_before_going_upstream() -> None:
    result = translate({"input": [user("go"), call("c1", arguments='{"cmd": "ls -l'), output("c1")]})
    assert result.body["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"cmd": "ls -l"}'
    assert ("info", "repaired_arguments", "exec_command") in codes(result)
    garbage = messages({"input": [user("go"), call("c2", arguments="not json"), output("c2")]})
    assert garbage[1]["tool_calls"][0]["function"]["arguments"] == "{}"


# -- images -------------------------------------------------------------------------------------

_VIEW_IMAGE = {
    "input": [
        user("look at it"),
        call("c1", name="view_image", arguments='{"path":"a.png"}'),
        call("c2"),
        output("c1", [{"type": "input_image", "image_url": PNG, "detail": "high"}]),
        output("c2", "listing"),
        assistant("It is a cat."),
    ]
}


def test_view_image_output_with_vision_goes_to_a_user_message_after_the_tool_block() -> None:
    result = messages(_VIEW_IMAGE, GENERIC)
    assert [m["role"] for m in result] == ["user", "assistant", "tool", "tool", "user", "assistant"]
    assert isinstance(result[2]["content"], str)
    assert "next user message" in result[2]["content"]
    assert result[4]["content"] == [
        {"type": "text", "text": "Image returned by tool call c1:"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "high"}},
    ]


def test_view_image_output_without_vision_is_a_placeholder_naming_the_model() -> None:
    result = translate(_VIEW_IMAGE, THINKING)
    chat = result.body["messages"]
    assert [m["role"] for m in chat] == ["user", "assistant", "tool", "tool", "assistant"]
    assert chat[2]["content"] == "[image omitted: mimo-v2.5-pro on mimo does not accept image input]"
    assert ("info", "image_omitted", THINKING.label) in codes(result)


def test_user_image_message_always_carries_text() -> None:
    request = {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": PNG}]}]}
    content = messages(request, GENERIC)[0]["content"]
    assert content[0]["type"] == "text"
    assert content[0]["text"].strip()
    assert content[1] == {"type": "image_url", "image_url": {"url": PNG}}


def test_user_image_keeps_part_order_and_detail() -> None:
    request = {
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "<image>"},
                    {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "low"},
                    {"type": "input_text", "text": "</image> what is it?"},
                ],
            }
        ]
    }
    assert messages(request, GENERIC)[0]["content"] == [
        {"type": "text", "text": "<image>"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
        {"type": "text", "text": "</image> what is it?"},
    ]


def test_user_image_without_vision_becomes_placeholder_text() -> None:
    request = {
        "input": [
            {
                "role": "user",
                "content": [{"type": "input_text", "text": "see:"}, {"type": "input_image", "image_url": PNG}],
            }
        ]
    }
    result = translate(request, STRIP)
    assert result.body["messages"][0]["content"] == (
        "see:\n[image omitted: deepseek-reasoner on deepseek does not accept image input]"
    )
    assert ("info", "image_omitted", STRIP.label) in codes(result)


def test_image_file_id_becomes_placeholder_with_note() -> None:
    request = {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-123"}]}]}
    result = translate(request, GENERIC)
    assert "file-123" in result.body["messages"][0]["content"]
    assert ("info", "image_omitted", "file-123") in codes(result)


def test_images_in_system_and_assistant_content_become_text() -> None:
    request = {
        "input": [
            {
                "role": "developer",
                "content": [{"type": "input_text", "text": "rules"}, {"type": "input_image", "image_url": PNG}],
            },
            user("hi"),
        ]
    }
    result = translate(request, GENERIC)
    system = result.body["messages"][0]["content"]
    assert isinstance(system, str)
    assert system.startswith("rules\n[input_image omitted")
    assert ("info", "part_omitted", "input_image") in codes(result)


# -- tools in history ---------------------------------------------------------------------------


def test_namespace_call_replays_under_the_flat_name_and_raises_back() -> None:
    tools = [
        {
            "type": "namespace",
            "name": "multi_agent_v1",
            "description": "Agents.",
            "tools": [{"type": "function", "name": "spawn_agent", "parameters": {"type": "object", "properties": {}}}],
        }
    ]
    request = {
        "tools": tools,
        "input": [user("go"), call("c1", name="spawn_agent", namespace="multi_agent_v1"), output("c1")],
    }
    result = translate(request)
    declared = [t["function"]["name"] for t in result.body["tools"]]
    replayed = result.body["messages"][1]["tool_calls"][0]["function"]["name"]
    assert declared == ["multi_agent_v1__spawn_agent"] == [replayed]
    item = result.tool_map.to_item(item_id="fc_1", call_id="c2", name=replayed, arguments="{}")
    assert (item["type"], item["name"], item["namespace"]) == ("function_call", "spawn_agent", "multi_agent_v1")


def test_apply_patch_custom_call_replays_as_input_json_and_raises_back() -> None:
    patch = '*** Begin Patch\n*** Add File: a.txt\n+say "hi"\n*** End Patch\n'
    tools = [{"type": "custom", "name": "apply_patch", "description": "Edit files.", "format": {"type": "text"}}]
    request = {
        "tools": tools,
        "input": [
            user("go"),
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": patch},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "Success."},
        ],
    }
    result = translate(request)
    function = result.body["messages"][1]["tool_calls"][0]["function"]
    assert function["name"] == "apply_patch"
    assert orjson.loads(function["arguments"]) == {"input": patch}
    assert result.body["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": "Success."}
    item = result.tool_map.to_item(item_id="ctc", call_id="c9", name="apply_patch", arguments=function["arguments"])
    assert (item["type"], item["input"]) == ("custom_tool_call", patch)
    assert FREEFORM_USAGE in result.body["tools"][0]["function"]["description"]


def test_tool_search_call_replays_and_loaded_tools_become_callable() -> None:
    request = {
        "tools": [
            {
                "type": "tool_search",
                "execution": "client",
                "description": "Find tools.",
                "parameters": {"type": "object"},
            }
        ],
        "input": [
            user("go"),
            {
                "type": "tool_search_call",
                "call_id": "s1",
                "execution": "client",
                "arguments": {"query": "git", "limit": 1},
            },
            {
                "type": "tool_search_output",
                "call_id": "s1",
                "execution": "client",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "mcp__git",
                        "description": "Git.",
                        "tools": [
                            {"type": "function", "name": "log", "description": "Show history.", "defer_loading": True}
                        ],
                    }
                ],
            },
            call("c1", name="log", namespace="mcp__git", arguments="{}"),
            output("c1", "abc123 init"),
        ],
    }
    result = translate(request)
    body = result.body
    assert [t["function"]["name"] for t in body["tools"]] == ["tool_search", "mcp__git__log"]
    search = body["messages"][1]["tool_calls"][0]["function"]
    assert search == {"name": "tool_search", "arguments": '{"query":"git","limit":1}'}
    assert body["messages"][2]["content"] == "Tools found (callable from now on):\n- mcp__git__log: Show history."
    assert body["messages"][3]["tool_calls"][0]["function"]["name"] == "mcp__git__log"
    item = result.tool_map.to_item(item_id="x", call_id="c2", name="mcp__git__log", arguments="{}")
    assert (item["name"], item["namespace"]) == ("log", "mcp__git")


def test_tools_loaded_in_history_are_not_added_without_a_tool_search_tool() -> None:
    request = {
        "tools": [],
        "input": [
            user("summarize"),
            {"type": "tool_search_call", "call_id": "s1", "execution": "client", "arguments": {"query": "x"}},
            {"type": "tool_search_output", "call_id": "s1", "execution": "client", "tools": []},
        ],
    }
    body = translate(request).body
    assert "tools" not in body
    assert body["messages"][2]["content"] == "No matching tools found."


def test_local_shell_call_replays_with_command_array() -> None:
    request = {
        "tools": [{"type": "local_shell"}],
        "input": [
            user("go"),
            {
                "type": "local_shell_call",
                "call_id": "l1",
                "status": "completed",
                "action": {"type": "exec", "command": ["ls", "-a"], "working_directory": "/w", "timeout_ms": 100},
            },
            {"type": "local_shell_call_output", "id": "l1", "output": ".\n..\n"},
        ],
    }
    result = translate(request)
    function = result.body["messages"][1]["tool_calls"][0]["function"]
    assert function["name"] == "local_shell"
    assert orjson.loads(function["arguments"]) == {"command": ["ls", "-a"], "workdir": "/w", "timeout_ms": 100}
    assert result.body["messages"][2]["content"] == ".\n..\n"
    item = result.tool_map.to_item(item_id="x", call_id="l2", name="local_shell", arguments=function["arguments"])
    assert item["action"] == {
        "type": "exec",
        "command": ["ls", "-a"],
        "working_directory": "/w",
        "timeout_ms": 100,
        "env": {},
    }


@pytest.mark.parametrize(
    "item",
    [
        {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "x"}},
        {"type": "compaction", "encrypted_content": "opaque"},
        {"type": "compaction_trigger"},
        {"type": "item_reference", "id": "msg_1"},
        {"type": "image_generation_call", "status": "completed", "result": "aGk="},
        {"type": "some_future_item", "data": 1},
        {"type": "tool_search_call", "execution": "server", "call_id": None, "arguments": {}},
    ],
)
def test_items_without_chat_equivalent_are_dropped_with_a_debug_note(item: dict[str, Any]) -> None:
    result = translate({"input": [user("go"), item, assistant("ok")]})
    assert result.body["messages"] == [{"role": "user", "content": "go"}, {"role": "assistant", "content": "ok"}]
    assert [(n.level, n.code) for n in result.notes] == [("debug", "dropped_item")]
    assert item["type"] in result.notes[0].subject or item["type"] in result.notes[0].message


# -- tools, tool_choice and options -------------------------------------------------------------


def test_empty_tool_list_omits_tools_tool_choice_and_parallel_tool_calls() -> None:
    for tools in ([], [{"type": "web_search"}]):
        body = translate(
            {"input": "hi", "tools": tools, "tool_choice": "auto", "parallel_tool_calls": True}, THINKING
        ).body
        assert not {"tools", "tool_choice", "parallel_tool_calls"} & body.keys()


def test_tool_choice_and_parallel_tool_calls() -> None:
    request = {
        "input": "hi",
        "tools": [EXEC_TOOL],
        "tool_choice": {"type": "function", "name": "exec_command"},
        "parallel_tool_calls": False,
    }
    body = translate(request).body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "exec_command"}}
    assert body["parallel_tool_calls"] is False
    assert translate(request, THINKING).body["parallel_tool_calls"] is True  # forced by the profile


def test_options_mapping() -> None:
    request = {
        "model": "gpt-5-codex",
        "input": "hi",
        "temperature": 0.3,
        "top_p": 0.9,
        "max_output_tokens": 1000,
        "reasoning": {"effort": "minimal", "summary": "auto"},
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "k",
        "client_metadata": {"a": "b"},
        "service_tier": "priority",
        "truncation": "auto",
        "metadata": {"m": "1"},
        "user": "u",
        "safety_identifier": "s",
        "background": False,
        "previous_response_id": "resp_1",
        "text": {"verbosity": "low"},
    }
    assert translate(request, GENERIC).body == {
        "model": "generic-model",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 1000,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    thinking = translate(request, THINKING).body
    assert thinking["max_completion_tokens"] == 1000
    assert "max_tokens" not in thinking
    assert thinking["reasoning_effort"] == "low"
    assert thinking["thinking"] == {"type": "enabled"}
    strip = translate(request, STRIP).body
    assert "stream_options" not in strip
    assert "temperature" not in strip


@pytest.mark.parametrize(
    ("effort", "expected"),
    [("minimal", "low"), ("low", "low"), ("medium", "medium"), ("high", "high"), ("xhigh", "high"), ("none", None)],
)
def test_reasoning_effort_mapping(effort: str, expected: str | None) -> None:
    body = translate({"input": "hi", "reasoning": {"effort": effort}}, THINKING).body
    assert body.get("reasoning_effort") == expected
    assert "reasoning_effort" not in translate({"input": "hi", "reasoning": {"effort": effort}}, GENERIC).body


def test_text_format_mapping() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "name": "answer", "schema": schema, "strict": True, "description": "An answer."}
    body = translate({"input": "hi", "text": {"format": fmt}}).body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True, "description": "An answer."},
    }
    assert translate({"input": "hi", "text": {"format": {"type": "json_object"}}}).body["response_format"] == {
        "type": "json_object"
    }
    assert "response_format" not in translate({"input": "hi", "text": {"format": {"type": "text"}}}).body


def test_extra_body_is_merged_and_drop_fields_removed_last() -> None:
    profile = UpstreamProfile(
        model="m", extra_body={"thinking": {"type": "disabled"}, "top_k": 5}, drop_fields=frozenset({"top_k"})
    )
    body = translate({"input": "hi"}, profile).body
    assert body["thinking"] == {"type": "disabled"}
    assert "top_k" not in body
    assert body["model"] == "m"


# -- wrong-typed fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"input": 5}, "input"),
        ({"input": [5]}, "input[0]"),
        ({"input": [{"type": 5}]}, "input[0].type"),
        ({"input": [{"type": "message", "role": "king", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "message", "role": "user", "content": 3}]}, "input[0].content"),
        (
            {"input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": 1}]}]},
            "input[0].content[0].text",
        ),
        ({"input": [{"type": "message", "role": "user", "content": ["x"]}]}, "input[0].content[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": 7}]}]},
            "input[0].content[0].image_url",
        ),
        ({"input": [user("go"), call("c1", arguments="{}") | {"call_id": 3}]}, "input[1].call_id"),
        ({"input": [user("go"), call("c1") | {"name": None}]}, "input[1].name"),
        ({"input": [user("go"), call("c1") | {"namespace": 1}]}, "input[1].namespace"),
        ({"input": [user("go"), call("c1"), output("c1", 42)]}, "input[2].output"),
        ({"input": [user("go"), call("c1"), output("c1", [{"type": "input_text"}])]}, "input[2].output[0].text"),
        (
            {"input": [{"type": "custom_tool_call", "call_id": "c", "name": "apply_patch", "input": {}}]},
            "input[0].input",
        ),
        (
            {"input": [{"type": "local_shell_call", "call_id": "c", "action": {"command": "ls"}}]},
            "input[0].action.command",
        ),
        ({"input": [{"type": "tool_search_output", "call_id": "c", "tools": "x"}]}, "input[0].tools"),
        ({"input": [{"role": "assistant", "tool_calls": {}}]}, "input[0].tool_calls"),
        (
            {"input": [{"role": "assistant", "tool_calls": [{"id": "c", "function": "f"}]}]},
            "input[0].tool_calls[0].function",
        ),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].tool_call_id"),
        ({"input": "hi", "instructions": ["x"]}, "instructions"),
        ({"input": "hi", "tools": {}}, "tools"),
        ({"input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"input": "hi", "tools": [{"type": "function", "name": "f", "parameters": "x"}]}, "tools[0].parameters"),
        ({"input": "hi", "tools": [EXEC_TOOL], "tool_choice": "always"}, "tool_choice"),
        ({"input": "hi", "tools": [EXEC_TOOL], "tool_choice": {"type": "function"}}, "tool_choice.name"),
        ({"input": "hi", "tools": [EXEC_TOOL], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"input": "hi", "temperature": "hot"}, "temperature"),
        ({"input": "hi", "top_p": True}, "top_p"),
        ({"input": "hi", "max_output_tokens": 1.5}, "max_output_tokens"),
        ({"input": "hi", "stream": "true"}, "stream"),
        ({"input": "hi", "reasoning": "high"}, "reasoning"),
        ({"input": "hi", "reasoning": {"effort": 3}}, "reasoning.effort"),
        ({"input": "hi", "text": "json"}, "text"),
        ({"input": "hi", "text": {"format": {"type": "json_schema"}}}, "text.format.schema"),
        ({"input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"input": []}, "input"),
    ],
)
def test_wrong_typed_fields_raise_invalid_request_naming_the_field(request_body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        responses_to_chat(request_body, THINKING)
    assert caught.value.message.startswith(field + " "), caught.value.message
    assert caught.value.status_code == 400


def test_non_object_request_raises_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        responses_to_chat([], GENERIC)  # type: ignore[arg-type]


# Anything JSON can hold, in any field and any item: only InvalidRequest may escape.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_ITEM_TYPES = [
    "message",
    "reasoning",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "tool_search_call",
    "tool_search_output",
    "local_shell_call",
    "local_shell_call_output",
    "additional_tools",
    "compaction",
    None,
]
_KEYS = [
    "role",
    "content",
    "call_id",
    "name",
    "namespace",
    "arguments",
    "input",
    "output",
    "tools",
    "action",
    "execution",
    "tool_calls",
    "tool_call_id",
    "summary",
    "encrypted_content",
    "id",
    "reasoning_content",
]
_item = st.builds(
    lambda kind, fields: ({"type": kind} if kind else {}) | fields,
    st.sampled_from(_ITEM_TYPES),
    st.dictionaries(st.sampled_from(_KEYS), _json | st.sampled_from(["user", "assistant", "tool", "c1"]), max_size=5),
)
_TOP_KEYS = [
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_output_tokens",
    "reasoning",
    "text",
    "stream",
    "instructions",
]


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(_item, max_size=6),
    top=st.dictionaries(st.sampled_from(_TOP_KEYS), _json, max_size=4),
)
def test_garbage_raises_only_invalid_request(items: list[dict[str, Any]], top: dict[str, Any]) -> None:
    for profile in (GENERIC, THINKING):
        with contextlib.suppress(InvalidRequest):
            responses_to_chat({"input": [user("go"), *items], **top}, profile)
