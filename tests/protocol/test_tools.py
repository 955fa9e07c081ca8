"""lower_tools / lower_tool_choice: Responses tools -> Chat functions, one test per lowering rule."""

from __future__ import annotations

import re
from typing import Any

import pytest

from mimo2codex.errors import InvalidRequest
from mimo2codex.protocol.profile import UpstreamProfile
from mimo2codex.protocol.toolmap import ToolEntry, ToolKind, ToolMap
from mimo2codex.protocol.tools import FREEFORM_USAGE, chat_name, lower_tool_choice, lower_tools

PROFILE = UpstreamProfile(model="m", label="m on vendor")
VENDOR_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
LARK = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\n'


def function(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}, **extra}


def names(tools: list[dict[str, Any]]) -> list[str]:
    return [t["function"]["name"] for t in tools]


def codes(notes: list[Any]) -> list[tuple[str, str, str]]:
    return [(n.level, n.code, n.subject) for n in notes]


def test_function_tool_is_wrapped_and_schema_passed_by_reference() -> None:
    parameters = {"type": "object", "properties": {"cmd": {"type": "string"}}}
    tool = {
        "type": "function",
        "name": "exec_command",
        "description": "Run.",
        "strict": False,
        "parameters": parameters,
    }
    tools, tool_map, notes = lower_tools([tool], PROFILE)
    assert tools == [
        {
            "type": "function",
            "function": {"name": "exec_command", "description": "Run.", "parameters": parameters, "strict": False},
        }
    ]
    assert tools[0]["function"]["parameters"] is parameters  # no deep copy of big schemas
    assert tool_map.entry("exec_command") == ToolEntry(ToolKind.FUNCTION, "exec_command")
    assert notes == []


@pytest.mark.parametrize("strict", [None, "true", 1])
def test_strict_is_sent_only_when_boolean(strict: object) -> None:
    tools, _, _ = lower_tools([function("f", strict=strict)], PROFILE)
    assert "strict" not in tools[0]["function"]


def test_missing_parameters_become_an_empty_object_schema() -> None:
    tools, _, _ = lower_tools([{"type": "function", "name": "f"}], PROFILE)
    assert tools[0]["function"]["parameters"] == {"type": "object", "properties": {}}


def test_namespace_is_flattened_to_unique_functions() -> None:
    namespace = {
        "type": "namespace",
        "name": "multi_agent_v1",
        "description": "Agents.",
        "tools": [function("spawn_agent"), function("wait_agent")],
    }
    tools, tool_map, _ = lower_tools([function("spawn_agent"), namespace], PROFILE)
    assert names(tools) == ["spawn_agent", "multi_agent_v1__spawn_agent", "multi_agent_v1__wait_agent"]
    assert tool_map.entry("multi_agent_v1__wait_agent") == ToolEntry(ToolKind.FUNCTION, "wait_agent", "multi_agent_v1")
    assert tool_map.flat_name("spawn_agent", "multi_agent_v1") == "multi_agent_v1__spawn_agent"
    assert tool_map.flat_name("spawn_agent") == "spawn_agent"


def test_invalid_and_colliding_names_are_sanitized_and_kept_unique() -> None:
    long_name = "x" * 70
    namespace = {"type": "namespace", "name": "mcp.git hub", "tools": [function("create/issue"), function(long_name)]}
    tools, tool_map, notes = lower_tools([function("mcp_git_hub__create_issue"), namespace], PROFILE)
    flat = names(tools)
    assert flat[0] == "mcp_git_hub__create_issue"
    assert flat[1] == "mcp_git_hub__create_issue_2"
    assert len(flat[2]) == 64
    assert all(VENDOR_NAME.fullmatch(n) for n in flat)
    assert len(set(flat)) == 3
    assert tool_map.entry(flat[1]) == ToolEntry(ToolKind.FUNCTION, "create/issue", "mcp.git hub")
    assert tool_map.flat_name("create/issue", "mcp.git hub") == flat[1]
    assert ("debug", "renamed_tool", "mcp.git hub__create/issue") in codes(notes)


def test_chat_name() -> None:
    assert chat_name("exec_command") == "exec_command"
    assert chat_name("a.b c") == "a_b_c"
    assert chat_name("") == "tool"
    assert len(chat_name("é" * 100)) == 64


def test_duplicate_tool_names_first_wins_with_note() -> None:
    tools, tool_map, notes = lower_tools(
        [function("f", description="first"), function("f", description="second"), {"type": "custom", "name": "f"}],
        PROFILE,
    )
    assert [t["function"].get("description") for t in tools] == ["first"]
    assert tool_map.entry("f") == ToolEntry(ToolKind.FUNCTION, "f")
    assert codes(notes) == [("info", "duplicate_tool", "f"), ("info", "duplicate_tool", "f")]


def test_custom_lark_tool_becomes_a_single_input_function_with_the_grammar() -> None:
    tool = {
        "type": "custom",
        "name": "apply_patch",
        "description": "Edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.",
        "format": {"type": "grammar", "syntax": "lark", "definition": LARK},
    }
    tools, tool_map, _ = lower_tools([tool], PROFILE)
    lowered = tools[0]["function"]
    assert lowered["name"] == "apply_patch"
    assert lowered["parameters"]["required"] == ["input"]
    assert list(lowered["parameters"]["properties"]) == ["input"]
    assert lowered["parameters"]["properties"]["input"]["type"] == "string"
    description = lowered["description"]
    assert description.startswith("Edit files.")
    assert FREEFORM_USAGE in description
    assert '{"input": "<raw text>"}' in description
    assert f"```lark\n{LARK}\n```" in description
    assert tool_map.entry("apply_patch") == ToolEntry(ToolKind.CUSTOM, "apply_patch")


def test_custom_regex_and_text_formats() -> None:
    regex = {"type": "custom", "name": "r", "format": {"type": "grammar", "syntax": "regex", "definition": "^[a-z]+$"}}
    text = {"type": "custom", "name": "t", "description": "Say it.", "format": {"type": "text"}}
    tools, _, _ = lower_tools([regex, text], PROFILE)
    assert "regular expression:\n```\n^[a-z]+$\n```" in tools[0]["function"]["description"]
    assert tools[1]["function"]["description"] == f"Say it.\n\n{FREEFORM_USAGE}"


def test_custom_tool_inside_a_namespace() -> None:
    namespace = {"type": "namespace", "name": "code", "tools": [{"type": "custom", "name": "exec"}]}
    tools, tool_map, _ = lower_tools([namespace], PROFILE)
    assert names(tools) == ["code__exec"]
    assert tool_map.entry("code__exec") == ToolEntry(ToolKind.CUSTOM, "exec", "code")


def test_client_tool_search_becomes_a_function_and_server_one_is_dropped() -> None:
    parameters = {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "number"}}}
    client = {"type": "tool_search", "execution": "client", "description": "Find tools.", "parameters": parameters}
    tools, tool_map, notes = lower_tools([client], PROFILE)
    assert tools == [
        {
            "type": "function",
            "function": {"name": "tool_search", "description": "Find tools.", "parameters": parameters},
        }
    ]
    assert tool_map.entry("tool_search") == ToolEntry(ToolKind.TOOL_SEARCH, "tool_search")
    tools, _, notes = lower_tools([{"type": "tool_search", "execution": "server"}], PROFILE)
    assert tools == []
    assert codes(notes) == [("info", "dropped_tool", "tool_search")]


def test_local_shell_becomes_a_command_array_function() -> None:
    tools, tool_map, _ = lower_tools([{"type": "local_shell"}], PROFILE)
    lowered = tools[0]["function"]
    assert lowered["name"] == "local_shell"
    properties = lowered["parameters"]["properties"]
    assert properties["command"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "The argument vector.",
    }
    assert set(properties) == {"command", "workdir", "timeout_ms"}
    assert tool_map.entry("local_shell") == ToolEntry(ToolKind.LOCAL_SHELL, "local_shell")


def test_web_search_dropped_unless_the_profile_has_a_vendor_tool() -> None:
    web = [{"type": "web_search", "external_web_access": False}, {"type": "web_search_preview"}]
    tools, _, notes = lower_tools(web, PROFILE)
    assert tools == []
    assert codes(notes) == [("debug", "dropped_tool", "web_search"), ("debug", "dropped_tool", "web_search_preview")]
    vendor_tool = {"type": "web_search", "web_search": {"enable": True}}
    tools, tool_map, notes = lower_tools(web, UpstreamProfile(model="m", web_search_tool=vendor_tool))
    assert tools == [vendor_tool]  # sent as is, once
    assert tool_map.entries == {}
    assert notes == []


@pytest.mark.parametrize("kind", ["file_search", "code_interpreter", "computer_use_preview", "image_generation", "mcp"])
def test_hosted_tools_are_dropped_with_a_note(kind: str) -> None:
    tools, _, notes = lower_tools([{"type": kind}], PROFILE)
    assert tools == []
    assert codes(notes) == [("info", "dropped_tool", kind)]


def test_unknown_tool_type_is_a_warning_keyed_by_type() -> None:
    tools, _, notes = lower_tools([{"type": "hologram"}, function("f")], PROFILE)
    assert names(tools) == ["f"]
    assert codes(notes) == [("warning", "unknown_tool_type", "hologram")]


@pytest.mark.parametrize(
    ("tools", "field"),
    [
        ({}, "tools"),
        ([3], "tools[0]"),
        ([{"name": "f"}], "tools[0].type"),
        ([{"type": "function", "name": ""}], "tools[0].name"),
        ([{"type": "function", "name": "f", "description": 1}], "tools[0].description"),
        ([{"type": "function", "name": "f", "parameters": []}], "tools[0].parameters"),
        ([{"type": "namespace", "name": "n"}], "tools[0].tools"),
        ([{"type": "namespace", "name": "n", "tools": [None]}], "tools[0].tools[0]"),
        ([{"type": "custom", "name": "c", "format": "lark"}], "tools[0].format"),
        ([{"type": "custom", "name": "c", "format": {"type": "grammar"}}], "tools[0].format.definition"),
        ([{"type": "custom", "name": "c", "format": {"type": "yaml"}}], "tools[0].format.type"),
        ([{"type": "tool_search", "execution": "client", "parameters": 1}], "tools[0].parameters"),
    ],
)
def test_wrong_typed_tools_raise_invalid_request_naming_the_field(tools: Any, field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        lower_tools(tools, PROFILE)
    assert caught.value.message.startswith(field + " "), caught.value.message


# -- tool_choice --------------------------------------------------------------------------------


def _map() -> ToolMap:
    _, tool_map, _ = lower_tools(
        [
            function("exec_command"),
            {"type": "custom", "name": "apply_patch"},
            {"type": "namespace", "name": "ns", "tools": [function("inner")]},
            {"type": "tool_search", "execution": "client"},
        ],
        PROFILE,
    )
    return tool_map


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_strings_pass(choice: str) -> None:
    assert lower_tool_choice(choice, _map()) == (choice, [])


@pytest.mark.parametrize(
    ("choice", "flat"),
    [
        ({"type": "function", "name": "exec_command"}, "exec_command"),
        ({"type": "custom", "name": "apply_patch"}, "apply_patch"),
        ({"type": "function", "name": "inner", "namespace": "ns"}, "ns__inner"),
        ({"type": "tool_search"}, "tool_search"),
    ],
)
def test_tool_choice_naming_a_tool_uses_its_flat_name(choice: dict[str, Any], flat: str) -> None:
    assert lower_tool_choice(choice, _map()) == ({"type": "function", "function": {"name": flat}}, [])


@pytest.mark.parametrize(
    "choice",
    [
        {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "exec_command"}]},
        {"type": "web_search_preview"},
        {"type": "file_search"},
        {"type": "function", "name": "not_declared"},
    ],
)
def test_tool_choice_without_chat_equivalent_becomes_auto_with_note(choice: dict[str, Any]) -> None:
    result, notes = lower_tool_choice(choice, _map())
    assert result == "auto"
    assert [n.code for n in notes] == ["tool_choice"]


def test_tool_choice_none_is_left_out() -> None:
    assert lower_tool_choice(None, _map()) == (None, [])


@pytest.mark.parametrize("choice", ["sometimes", 3, {"type": 1}, {"type": "function", "name": 2}])
def test_wrong_tool_choice_raises_invalid_request(choice: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        lower_tool_choice(choice, _map())
    assert caught.value.message.startswith("tool_choice")
