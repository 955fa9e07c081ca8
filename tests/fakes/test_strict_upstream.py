"""The fake vendor's own tests: every rule rejects a bad request and accepts the corrected one, and the
replies look like a real vendor's. If these pass, a gateway test passing against the fake means the
vendor would have accepted the gateway's request."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from . import strict_upstream
from .strict_upstream import (
    Exchange,
    Reply,
    StrictUpstream,
    ToolCall,
    VendorRules,
    check_request,
)

pytestmark = pytest.mark.live

KEY = "sk-fake-upstream"
GENERIC = VendorRules()
DEEPSEEK = VendorRules.deepseek_v4()
R1 = VendorRules.deepseek_r1()
MIMO = VendorRules.mimo()
MIMO_VISION = VendorRules.mimo_vision()
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def call(call_id: str, name: str = "exec_command", arguments: str = '{"cmd": "ls"}') -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_turn(*ids: str, reasoning: str | None = "I should run ls") -> list[dict[str, Any]]:
    """An assistant message calling ``ids`` followed by one answer per call."""
    assistant: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": [call(i) for i in ids]}
    if reasoning is not None:
        assistant["reasoning_content"] = reasoning
    return [assistant, *({"role": "tool", "tool_call_id": i, "content": "ok"} for i in ids)]


def fn_tool(name: str = "exec_command", **extra: Any) -> dict[str, Any]:
    function = {"name": name, "description": "run", "parameters": {"type": "object", "properties": {}}}
    return {"type": "function", "function": {**function, **extra}}


def body(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    msgs = list(messages) or [{"role": "user", "content": "hi"}]
    return {"model": "m", "messages": [{"role": "system", "content": "be brief"}, *msgs], **fields}


USER = {"role": "user", "content": "do it"}


@pytest.fixture
def upstream() -> Iterator[StrictUpstream]:
    with StrictUpstream(lambda _body, _n: Reply.text("fine")).running() as up:
        yield up


def post(up: StrictUpstream, payload: Any, *, key: str = KEY, stream: bool = False) -> httpx.Response:
    if stream:
        payload = {**payload, "stream": True}
    return httpx.post(f"{up.url}/chat/completions", json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=5)


def sse_chunks(text: str) -> list[Any]:
    """``data:`` payloads of an SSE body; ``[DONE]`` stays a string."""
    out: list[Any] = []
    for event in text.split("\n\n"):
        for line in event.splitlines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                out.append(data if data == "[DONE]" else json.loads(data))
    return out


# ------------------------------------------------------------------------------------------------
# Rules: (rules, bad body, good body, status, rule code, message fragment)
# ------------------------------------------------------------------------------------------------

Case = tuple[VendorRules, dict[str, Any], dict[str, Any], int, str, str]

CASES: dict[str, Case] = {
    "unknown top-level field": (
        GENERIC,
        body(store=False),
        body(),
        400,
        "unknown_field",
        "Unrecognized request argument supplied: store",
    ),
    "thinking only where the vendor knows it": (
        GENERIC,
        body(thinking={"type": "disabled"}),
        body(),
        400,
        "unknown_field",
        "thinking",
    ),
    "thinking value shape (MiMo)": (
        MIMO,
        body(thinking={"type": "off"}),
        body(thinking={"type": "disabled"}),
        400,
        "thinking",
        "thinking",
    ),
    "developer role": (
        GENERIC,
        body({"role": "developer", "content": "x"}, USER),
        body({"role": "system", "content": "x"}, USER),
        400,
        "role",
        "unknown variant `developer`",
    ),
    "unknown message field (Responses item id leaked)": (
        GENERIC,
        body({"role": "user", "content": "hi", "id": "msg_1"}),
        body({"role": "user", "content": "hi"}),
        400,
        "message_field",
        "unknown field `id`",
    ),
    "orphan tool message": (
        GENERIC,
        body(USER, {"role": "tool", "tool_call_id": "c1", "content": "ok"}),
        body(USER, *tool_turn("c1")),
        400,
        "tool_orphan",
        "must be a response to a preceeding message with 'tool_calls'",
    ),
    "tool message separated from its call by a user message": (
        GENERIC,
        body(USER, *tool_turn("c1"), USER, {"role": "tool", "tool_call_id": "c1", "content": "ok"}),
        body(USER, *tool_turn("c1"), USER),
        400,
        "tool_orphan",
        "preceeding",
    ),
    "tool message answering an id of another call": (
        GENERIC,
        body(USER, tool_turn("c1")[0], {"role": "tool", "tool_call_id": "c9", "content": "ok"}),
        body(USER, *tool_turn("c1")),
        400,
        "tool_orphan",
        "preceeding",
    ),
    "unanswered parallel call": (
        GENERIC,
        body(USER, *tool_turn("c1", "c2")[:2], USER),
        body(USER, *tool_turn("c1", "c2"), USER),
        400,
        "tool_unanswered",
        "did not have response messages: c2",
    ),
    "unanswered call at the end of the history": (
        GENERIC,
        body(USER, tool_turn("c1")[0]),
        body(USER, *tool_turn("c1")),
        400,
        "tool_unanswered",
        "c1",
    ),
    "tool content array with an image": (
        GENERIC,
        body(USER, tool_turn("c1")[0], {"role": "tool", "tool_call_id": "c1", "content": [{"type": "input_image"}]}),
        body(USER, *tool_turn("c1")),
        400,
        "tool_content",
        "unknown variant `input_image`, expected `text`",
    ),
    "null content beside tool calls": (
        GENERIC,
        body(USER, {**tool_turn("c1")[0], "content": None}, tool_turn("c1")[1]),
        body(USER, {k: v for k, v in tool_turn("c1")[0].items() if k != "content"}, tool_turn("c1")[1]),
        400,
        "null_content",
        "got null",
    ),
    "truncated tool arguments": (
        GENERIC,
        body(USER, {**tool_turn("c1")[0], "tool_calls": [call("c1", arguments='{"cmd": "l')]}, tool_turn("c1")[1]),
        body(USER, *tool_turn("c1")),
        400,
        "tool_arguments",
        "arguments",
    ),
    "tool arguments that are a JSON array": (
        GENERIC,
        body(USER, {**tool_turn("c1")[0], "tool_calls": [call("c1", arguments="[]")]}, tool_turn("c1")[1]),
        body(USER, {**tool_turn("c1")[0], "tool_calls": [call("c1", arguments="{}")]}, tool_turn("c1")[1]),
        400,
        "tool_arguments",
        "JSON object",
    ),
    "reasoning_content required in thinking mode (DeepSeek V4)": (
        DEEPSEEK,
        body(USER, *tool_turn("c1", reasoning=None)),
        body(USER, *tool_turn("c1")),
        400,
        "reasoning_required",
        "The reasoning_content in the thinking mode must be passed back to the API",
    ),
    "blank reasoning_content does not count": (
        MIMO,
        body(USER, *tool_turn("c1", reasoning="  ")),
        body(USER, *tool_turn("c1", reasoning=None), thinking={"type": "disabled"}),
        400,
        "reasoning_required",
        "passed back",
    ),
    "reasoning_content instead of inline thinking (MiniMax)": (
        VendorRules.minimax(),
        body(USER, *tool_turn("c1")),
        body(
            USER,
            {**tool_turn("c1", reasoning=None)[0], "content": "<think>I should run ls</think>"},
            tool_turn("c1")[1],
        ),
        400,
        "reasoning_lost",
        "<think>",
    ),
    "reasoning_content forbidden (R1)": (
        R1,
        body(USER, *tool_turn("c1")),
        body(USER, *tool_turn("c1", reasoning=None)),
        400,
        "reasoning_forbidden",
        "reasoning_content",
    ),
    "dotted tool name": (
        GENERIC,
        body(tools=[fn_tool("multi_agent_v1.spawn_agent")]),
        body(tools=[fn_tool("multi_agent_v1__spawn_agent")]),
        400,
        "tool_name",
        "does not match pattern",
    ),
    "tool name over 64 characters": (
        GENERIC,
        body(tools=[fn_tool("x" * 65)]),
        body(tools=[fn_tool("x" * 64)]),
        400,
        "tool_name",
        "pattern",
    ),
    "strict: null (MiMo pydantic)": (
        MIMO,
        body(tools=[fn_tool(strict=None)]),
        body(tools=[fn_tool(strict=False)]),
        400,
        "tool_strict",
        "Input should be a valid boolean",
    ),
    "duplicate tool names": (
        GENERIC,
        body(tools=[fn_tool("a"), fn_tool("a")]),
        body(tools=[fn_tool("a"), fn_tool("b")]),
        400,
        "tools_duplicate",
        "duplicate",
    ),
    "custom (freeform) tool type": (
        GENERIC,
        body(tools=[{"type": "custom", "name": "apply_patch"}]),
        body(tools=[fn_tool("apply_patch")]),
        400,
        "tool_type",
        "unknown variant `custom`",
    ),
    "function without parameters": (
        GENERIC,
        body(tools=[{"type": "function", "function": {"name": "a"}}]),
        body(tools=[fn_tool("a")]),
        400,
        "tool_parameters",
        "parameters",
    ),
    "empty tools array": (
        GENERIC,
        body(tools=[]),
        body(),
        400,
        "tools_empty",
        "empty array",
    ),
    "tool_choice without tools": (
        GENERIC,
        body(tool_choice="auto"),
        body(tools=[fn_tool()], tool_choice="auto"),
        400,
        "tool_choice",
        "only allowed when 'tools' are specified",
    ),
    "parallel_tool_calls without tools": (
        GENERIC,
        body(parallel_tool_calls=True),
        body(tools=[fn_tool()], parallel_tool_calls=True),
        400,
        "parallel_tool_calls",
        "only allowed when 'tools' are specified",
    ),
    "image on a text-only model": (
        MIMO,
        body({"role": "user", "content": [{"type": "text", "text": "see"}, IMAGE]}),
        body({"role": "user", "content": [{"type": "text", "text": "see [image omitted]"}]}),
        404,
        "image_unsupported",
        "No endpoints found that support image input",
    ),
    "image without a text part (MiMo vision)": (
        MIMO_VISION,
        body({"role": "user", "content": [IMAGE]}),
        body({"role": "user", "content": [IMAGE, {"type": "text", "text": "see"}]}),
        400,
        "image_without_text",
        "Param Incorrect: `text` is not set",
    ),
    "Responses content part in a user message": (
        GENERIC,
        body({"role": "user", "content": [{"type": "input_text", "text": "hi"}]}),
        body({"role": "user", "content": [{"type": "text", "text": "hi"}]}),
        400,
        "content_part",
        "unknown variant `input_text`",
    ),
    "max_tokens where MiMo wants max_completion_tokens": (
        MIMO,
        body(max_tokens=100),
        body(max_completion_tokens=100),
        400,
        "max_tokens_field",
        "Use 'max_completion_tokens' instead",
    ),
    "max_completion_tokens where DeepSeek wants max_tokens": (
        DEEPSEEK,
        body(max_completion_tokens=100),
        body(max_tokens=100),
        400,
        "max_tokens_field",
        "Use 'max_tokens' instead",
    ),
    "web_search with the plugin off (MiMo)": (
        MIMO,
        body(tools=[{"type": "web_search", "force_search": False}]),
        body(tools=[fn_tool()]),
        400,
        "web_search_disabled",
        "webSearchEnabled is false",
    ),
    "consecutive assistant messages (DeepSeek V4)": (
        DEEPSEEK,
        body(USER, {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}, USER),
        body(USER, {"role": "assistant", "content": "ab"}, USER),
        400,
        "consecutive_assistant",
        "consecutive assistant",
    ),
    "stream_options without stream": (
        GENERIC,
        body(stream_options={"include_usage": True}),
        body(stream=True, stream_options={"include_usage": True}),
        400,
        "stream_options",
        "stream_options",
    ),
    "context overflow": (
        dataclasses.replace(GENERIC, context_limit_chars=1000),
        body({"role": "user", "content": "x" * 2000}),
        body({"role": "user", "content": "x" * 900}),
        400,
        "context_length",
        "This model's maximum context length is 131072 tokens. However, you requested 263193 tokens",
    ),
    "unknown model": (
        dataclasses.replace(GENERIC, models=("deepseek-v4-pro",)),
        {**body(), "model": "gpt-5"},
        {**body(), "model": "deepseek-v4-pro"},
        400,
        "model_unknown",
        "Model Not Exist",
    ),
    "empty messages": (
        GENERIC,
        {"model": "m", "messages": []},
        body(),
        400,
        "messages",
        "messages",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule_rejects_bad_and_accepts_good(name: str) -> None:
    rules, bad, good, status, rule, fragment = CASES[name]
    with StrictUpstream(lambda _b, _n: Reply.text("ok"), rules=rules).running() as up:
        rejected = post(up, bad)
        assert rejected.status_code == status, rejected.text
        error = rejected.json()["error"]
        assert fragment in error["message"]
        assert error["type"] == "invalid_request_error"
        assert rule in [v.rule for v in up.violations]
        assert all(v.request_number == 0 for v in up.violations)

        up.violations.clear()
        accepted = post(up, good, stream=bool(good.get("stream")))
        assert accepted.status_code == 200, accepted.text
        assert up.violations == []
        # The server thread records a streamed outcome just after the client read the last byte.
        deadline = time.monotonic() + 5
        while up.requests[-1].outcome != "completed" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [x.outcome for x in up.requests] == ["rejected", "completed"]


def test_every_rule_is_covered_by_a_case() -> None:
    # A new rule code in the checker without a case here is a rule nobody showed can fail.
    with open(strict_upstream.__file__, encoding="utf-8") as handle:
        text = handle.read()
    codes = set(re.findall(r'self\.fail\(\s*"([a-z_]+)"', text))
    covered = {case[4] for case in CASES.values()}
    # Shape checks of malformed JSON types are exercised by test_shape_errors below.
    shape_only = {
        "body_not_object",
        "model",
        "stream",
        "max_tokens_value",
        "tools",
        "tool_shape",
        "message_shape",
        "tool_calls_shape",
        "content",
        "assistant_content",
        "tool_duplicate_answer",
    }
    assert codes - covered - shape_only == set()


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        ([1, 2], "body_not_object"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        (body(stream="yes"), "stream"),
        (body(max_tokens=0), "max_tokens_value"),
        (body(tools={"a": 1}), "tools"),
        (body(tools=[{"type": "function", "function": fn_tool()["function"], "x": 1}]), "tool_shape"),
        (body("just a string"), "message_shape"),  # type: ignore[arg-type]
        (body(USER, {"role": "assistant", "tool_calls": [{"id": "c1"}]}), "tool_calls_shape"),
        (body({"role": "user", "content": None}), "content"),
        (body(USER, {"role": "assistant"}), "assistant_content"),
        (
            body(USER, *tool_turn("c1"), {"role": "tool", "tool_call_id": "c1", "content": "again"}),
            "tool_duplicate_answer",
        ),
    ],
)
def test_shape_errors(payload: Any, rule: str) -> None:
    assert rule in [v.rule for v in check_request(payload, GENERIC)]


def test_lenient_knobs_accept_what_strict_ones_reject() -> None:
    lenient = dataclasses.replace(
        GENERIC, reject_unknown_fields=False, reject_null_content=False, reject_empty_tools=False
    )
    payload = body(USER, {**tool_turn("c1")[0], "content": None}, tool_turn("c1")[1], tools=[], store=False)
    assert check_request(payload, lenient) == []
    assert {v.rule for v in check_request(payload, GENERIC)} == {"unknown_field", "null_content", "tools_empty"}


def test_web_search_accepted_when_plugin_on_and_unknown_elsewhere() -> None:
    payload = body(tools=[{"type": "web_search", "limit": 5}])
    assert check_request(payload, dataclasses.replace(MIMO, web_search_enabled=True)) == []
    assert [v.rule for v in check_request(payload, DEEPSEEK)] == ["tool_type"]


def test_reasoning_required_only_on_tool_call_turns_and_in_every_one() -> None:
    plain_answer = {"role": "assistant", "content": "hello"}
    assert check_request(body(USER, plain_answer, USER), DEEPSEEK) == []
    history = body(USER, *tool_turn("c1"), *tool_turn("c2", reasoning=None), USER)
    assert [v.rule for v in check_request(history, DEEPSEEK)] == ["reasoning_required"]


def test_reasoning_required_on_the_closing_answer_of_a_tool_turn() -> None:
    """DeepSeek's stricter rule: the answer that closes a turn with tool calls needs reasoning too."""
    closing = {"role": "assistant", "content": "all done"}
    bare = body(USER, *tool_turn("c1"), closing, USER)
    assert [v.rule for v in check_request(bare, DEEPSEEK)] == ["reasoning_required"]
    fixed = body(USER, *tool_turn("c1"), {**closing, "reasoning_content": "wrap up"}, USER)
    assert check_request(fixed, DEEPSEEK) == []
    # the rule is per turn: a later plain turn needs none, an earlier plain turn never did
    later = body(USER, {"role": "assistant", "content": "hi"}, USER, *tool_turn("c1"), closing, USER)
    assert [v.rule for v in check_request(later, DEEPSEEK)] == ["reasoning_required"]
    plain = body(USER, {"role": "assistant", "content": "hi"}, USER, *tool_turn("c1"))
    assert check_request(plain, DEEPSEEK) == []
    # a switch from a non-thinking model: no reasoning anywhere in the tool turn is one violation
    switched = body(USER, *tool_turn("c1", reasoning=None), closing, USER)
    assert [v.rule for v in check_request(switched, DEEPSEEK)] == ["reasoning_required"]
    assert check_request(switched, GENERIC) == []
    assert check_request({**switched, "model": "deepseek-chat"}, DEEPSEEK) == []  # non-thinking model
    assert check_request(body(*switched["messages"][1:], thinking={"type": "disabled"}), MIMO) == []


def test_real_codex_shaped_history_passes_every_preset() -> None:
    # A correct translation of CONTRACT fixture turn2-after-exec_command, as a gateway should send it.
    history = body(
        {"role": "user", "content": "write hi to out.txt"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "I will run a command",
            "tool_calls": [call("call_abc", arguments='{"cmd": "echo hi > out.txt && cat out.txt"}')],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": "Process exited with code 0\nOutput:\nhi\n"},
        tools=[fn_tool("exec_command"), fn_tool("apply_patch")],
        tool_choice="auto",
        parallel_tool_calls=True,
        stream=True,
        stream_options={"include_usage": True},
    )
    for rules in (GENERIC, DEEPSEEK, MIMO, MIMO_VISION):
        assert check_request(history, rules) == [], rules.name
    stripped = copy.deepcopy(history)
    del stripped["messages"][2]["reasoning_content"]
    assert check_request(stripped, R1) == []


# ------------------------------------------------------------------------------------------------
# Transport behaviour: auth, recording, paths, scripts
# ------------------------------------------------------------------------------------------------


def test_wrong_key_is_401_and_a_violation(upstream: StrictUpstream) -> None:
    response = post(upstream, body(), key="sk-wrong-1234")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert "****1234" in response.json()["error"]["message"]
    assert [v.rule for v in upstream.violations] == ["auth"]
    assert post(upstream, body()).status_code == 200


def test_requests_are_recorded_with_lowercase_headers(upstream: StrictUpstream) -> None:
    httpx.post(
        f"{upstream.url}/chat/completions",
        json=body(),
        headers={"Authorization": f"Bearer {KEY}", "X-Trace": "t1"},
    )
    [exchange] = upstream.requests
    assert exchange.headers["x-trace"] == "t1"
    assert exchange.body == body()
    assert exchange.call_number == 0
    assert upstream.bodies == [body()]


def test_models_endpoint_and_unexpected_paths() -> None:
    rules = dataclasses.replace(GENERIC, models=("a", "b"))
    with StrictUpstream(rules=rules).running() as up:
        listed = httpx.get(f"{up.url}/models")
        assert [m["id"] for m in listed.json()["data"]] == ["a", "b"]
        assert up.violations == []
        assert httpx.post(f"{up.url}/responses", json={}).status_code == 404
        assert [v.rule for v in up.violations] == ["unexpected_path"]


def test_invalid_json_body(upstream: StrictUpstream) -> None:
    response = httpx.post(
        f"{upstream.url}/chat/completions", content=b"{nope", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert response.status_code == 400
    assert [v.rule for v in upstream.violations] == ["json"]


def test_list_script_is_consumed_in_order_and_rejections_do_not_consume() -> None:
    with StrictUpstream([Reply.text("one"), Reply.text("two")]).running() as up:
        assert post(up, body()).json()["choices"][0]["message"]["content"] == "one"
        assert post(up, body(store=1)).status_code == 400
        assert post(up, body()).json()["choices"][0]["message"]["content"] == "two"
        exhausted = post(up, body())
        assert exhausted.status_code == 400
        assert "script exhausted" in exhausted.json()["error"]["message"]
        assert [v.rule for v in up.violations] == ["unknown_field", "script_exhausted"]
        up.violations.clear()
        up.set_script([Reply.text("three")])
        assert post(up, body()).json()["choices"][0]["message"]["content"] == "three"


def test_callable_script_sees_body_and_call_number() -> None:
    seen: list[tuple[str, int]] = []

    def script(request: dict[str, Any], n: int) -> Reply:
        seen.append((request["messages"][-1]["content"], n))
        return Reply.text(f"#{n}")

    with StrictUpstream(script).running() as up:
        post(up, body({"role": "user", "content": "a"}))
        post(up, body({"role": "user", "content": "b"}))
    assert seen == [("a", 0), ("b", 1)]


# ------------------------------------------------------------------------------------------------
# Replies
# ------------------------------------------------------------------------------------------------


def test_stream_text_with_reasoning_and_usage_chunk() -> None:
    reply = Reply.text("Hello there, world", reasoning="Let me think", chunk_chars=5)
    with StrictUpstream([reply]).running() as up:
        response = post(up, body(stream_options={"include_usage": True}), stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = sse_chunks(response.text)
    assert chunks[-1] == "[DONE]"
    data = chunks[:-1]
    for chunk in data:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["id"] == "chatcmpl-fake-0"
        assert chunk["model"] == "m"
        assert isinstance(chunk["created"], int)
    assert data[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in data if c["choices"]]
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == "Let me think"
    assert "".join(d.get("content") or "" for d in deltas) == "Hello there, world"
    # Reasoning strictly before content, as vendors stream it.
    first_content = next(i for i, d in enumerate(deltas) if d.get("content"))
    assert all(not d.get("reasoning_content") for d in deltas[first_content:])
    assert data[-2]["choices"][0]["finish_reason"] == "stop"
    assert data[-1]["choices"] == []
    usage = data[-1]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert all(c["usage"] is None for c in data[:-1])
    assert up.requests[0].chunks_sent == len(data)
    assert up.requests[0].outcome == "completed"


def test_stream_without_include_usage_has_no_usage() -> None:
    with StrictUpstream([Reply.text("hi")]).running() as up:
        chunks = sse_chunks(post(up, body(), stream=True).text)
    assert all("usage" not in c for c in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_deepseek_style_usage_rides_on_the_finish_chunk() -> None:
    with StrictUpstream([Reply.text("hi")], rules=DEEPSEEK).running() as up:
        data = sse_chunks(post(up, body(), stream=True).text)[:-1]
    assert data[-1]["choices"][0]["finish_reason"] == "stop"
    assert data[-1]["usage"]["prompt_tokens"] > 0


def test_stream_parallel_tool_calls_split_like_vendors() -> None:
    reply = Reply.tools(
        ToolCall("exec_command", {"cmd": "ls -la"}, id="call_a"),
        ToolCall("apply_patch", '{"input": "*** Begin Patch\\n*** End Patch"}'),
        reasoning="two things",
        chunk_chars=4,
    )
    with StrictUpstream([reply]).running() as up:
        data = sse_chunks(post(up, body(), stream=True).text)[:-1]
    calls: dict[int, dict[str, Any]] = {}
    for chunk in data:
        for piece in chunk["choices"][0]["delta"].get("tool_calls") or []:
            index = piece["index"]
            if index in calls:
                # id / name / type only in the first chunk of an index
                assert set(piece) == {"index", "function"}
                assert set(piece["function"]) == {"arguments"}
                calls[index]["arguments"] += piece["function"]["arguments"]
            else:
                calls[index] = {"id": piece["id"], "name": piece["function"]["name"], "arguments": ""}
                calls[index]["arguments"] += piece["function"]["arguments"]
    assert calls == {
        0: {"id": "call_a", "name": "exec_command", "arguments": '{"cmd": "ls -la"}'},
        1: {"id": "call_0_1", "name": "apply_patch", "arguments": '{"input": "*** Begin Patch\\n*** End Patch"}'},
    }
    argument_chunks = [c for c in data if c["choices"][0]["delta"].get("tool_calls")]
    assert len(argument_chunks) > 4
    assert data[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_whole_tool_calls_in_one_chunk() -> None:
    reply = Reply.tools(ToolCall("a", {"x": 1}), split_tool_calls=False)
    with StrictUpstream([reply]).running() as up:
        data = sse_chunks(post(up, body(), stream=True).text)[:-1]
    [only] = [c for c in data if c["choices"][0]["delta"].get("tool_calls")]
    assert only["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "a", "arguments": '{"x": 1}'}


def test_non_stream_completion_object() -> None:
    reply = Reply.tools(ToolCall("a", {"x": 1}, id="c1"), content="calling", reasoning="why")
    with StrictUpstream([reply, Reply.text("plain", finish_reason="length")]).running() as up:
        first = post(up, body()).json()
        second = post(up, body()).json()
    assert first["object"] == "chat.completion"
    message = first["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": "calling",
        "reasoning_content": "why",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}}],
    }
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    assert second["choices"][0]["finish_reason"] == "length"
    assert second["usage"]["completion_tokens"] >= 1


def test_scripted_http_error_with_headers() -> None:
    reply = Reply.http_error(429, "Rate limit reached", type="rate_limit_error", headers={"Retry-After": "2"})
    with StrictUpstream([reply]).running() as up:
        response = post(up, body(), stream=True)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2"
    assert response.json() == {
        "error": {"message": "Rate limit reached", "type": "rate_limit_error", "param": None, "code": None}
    }
    assert up.violations == []
    assert up.requests[0].outcome == "error_reply"


def test_custom_error_body() -> None:
    with StrictUpstream([Reply.http_error(503, "", body={"detail": "overloaded"})]).running() as up:
        response = post(up, body())
    assert (response.status_code, response.json()) == (503, {"detail": "overloaded"})


def test_stream_drops_after_k_chunks_without_done() -> None:
    received: list[bytes] = []
    with StrictUpstream([Reply.text("abcdefghijklmnop", chunk_chars=2, drop_after=3)]).running() as up:
        request = {"json": body(stream=True), "headers": {"Authorization": f"Bearer {KEY}"}}
        with (
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream("POST", f"{up.url}/chat/completions", **request) as response,  # type: ignore[arg-type]
        ):
            received.extend(response.iter_raw())
        chunks = sse_chunks(b"".join(received).decode())
        assert len(chunks) == 3
        assert "[DONE]" not in chunks
        assert up.requests[0].outcome == "dropped"
        assert up.active_streams == 0


def test_non_stream_drop_cuts_the_body() -> None:
    with StrictUpstream([Reply.text("x", drop_after=0)]).running() as up, pytest.raises(httpx.RemoteProtocolError):
        post(up, body())


def test_error_event_mid_stream() -> None:
    reply = Reply.text("abcdef", chunk_chars=1, drop_after=2, error_event={"message": "overloaded", "code": 529})
    with StrictUpstream([reply]).running() as up:
        chunks = sse_chunks(post(up, body(), stream=True).text)
    assert len(chunks) == 3
    assert chunks[-1] == {"error": {"message": "overloaded", "code": 529}}


def test_slow_first_byte() -> None:
    with StrictUpstream([Reply.text("late", delay=0.3)]).running() as up:
        started = time.monotonic()
        response = post(up, body(), stream=True)
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 200


def test_peer_close_is_timestamped_and_active_streams_tracked() -> None:
    reply = Reply.text("x" * 100, chunk_chars=1, chunk_delay=0.05)
    with StrictUpstream([reply]).running() as up:
        with httpx.stream(
            "POST", f"{up.url}/chat/completions", json=body(stream=True), headers={"Authorization": f"Bearer {KEY}"}
        ) as response:
            lines = response.iter_lines()
            next(lines)
            assert up.active_streams == 1
            closed_at = time.monotonic()
        exchange = up.wait_peer_closed(2)
        assert exchange is not None
        assert exchange.outcome == "peer_closed"
        assert exchange.peer_closed_at is not None
        assert exchange.peer_closed_at - closed_at < 0.5
        assert 0 < exchange.chunks_sent < 100
        assert up.active_streams == 0


def test_wait_peer_closed_times_out_when_nobody_hangs_up(upstream: StrictUpstream) -> None:
    post(upstream, body(), stream=True)
    assert upstream.wait_peer_closed(0.05) is None
    assert upstream.requests[0].peer_closed_at is None


def test_running_async_in_the_callers_loop() -> None:
    async def scenario() -> tuple[list[Exchange], Exchange | None]:
        reply = Reply.text("y" * 50, chunk_chars=1, chunk_delay=0.05)
        async with StrictUpstream([Reply.text("ok"), reply]).running_async() as up:
            async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as client:
                ok = await client.post(f"{up.url}/chat/completions", json=body())
                assert ok.json()["choices"][0]["message"]["content"] == "ok"
                async with client.stream("POST", f"{up.url}/chat/completions", json=body(stream=True)) as r:
                    async for _ in r.aiter_lines():
                        break
            closed = await up.wait_peer_closed_async(2)
            return up.requests, closed

    requests, closed = asyncio.run(scenario())
    assert [x.outcome for x in requests] == ["completed", "peer_closed"]
    assert closed is requests[1]


def test_unstarted_upstream_has_no_url() -> None:
    up = StrictUpstream()
    with pytest.raises(RuntimeError):
        _ = up.url
    assert isinstance(StrictUpstream([]).rules, VendorRules)


def test_presets_differ_where_vendors_differ() -> None:
    pairs: list[tuple[Callable[..., VendorRules], str, object]] = [
        (VendorRules.deepseek_v4, "thinking_required", True),
        (VendorRules.deepseek_r1, "reject_reasoning_content", True),
        (VendorRules.mimo, "max_tokens_field", "max_completion_tokens"),
        (VendorRules.mimo_vision, "vision", True),
    ]
    for preset, attribute, value in pairs:
        assert getattr(preset(), attribute) == value
    assert VendorRules.mimo(vision=True).vision is True


# -- vendor modes ------------------------------------------------------------------------------------

VENDORS = {
    "kimi": VendorRules.kimi(),
    "glm": VendorRules.glm(),
    "qwen": VendorRules.qwen(),
    "minimax": VendorRules.minimax(),
    "siliconflow": VendorRules.siliconflow(),
    "openrouter": VendorRules.openrouter(),
    "ark": VendorRules.ark(),
    "ollama": VendorRules.ollama(),
    "vllm": VendorRules.vllm(),
    "lmstudio": VendorRules.lmstudio(),
}
LONG = {"role": "user", "content": "x" * 400}


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_vendor_overflow_is_answered_in_the_vendors_own_shape(vendor: str) -> None:
    rules = dataclasses.replace(VENDORS[vendor], context_limit_chars=100, context_limit_tokens=1000)
    with StrictUpstream(lambda _b, _n: Reply.text("fine"), rules=rules).running() as up:
        plain = post(up, body(LONG))
        streamed = post(up, body(LONG), stream=True)
        short = post(up, body(USER))
    assert short.status_code == 200
    if rules.overflow is None:  # Ollama truncates instead of refusing
        assert plain.status_code == streamed.status_code == 200
        assert up.violations == []
        return
    expected = rules.overflow.render(1000, 4080)  # 408 characters ("be brief" + 400) over a 100-character limit
    assert plain.status_code == rules.overflow.status
    assert plain.json() == expected
    if rules.overflow.in_stream:
        assert streamed.status_code == 200
        assert sse_chunks(streamed.text) == [expected]
    else:
        assert streamed.status_code == rules.overflow.status
        assert streamed.json() == expected
    assert [v.rule for v in up.violations] == ["context_length", "context_length"]
    assert up.violations[0].message == strict_upstream._overflow_text(expected)
    assert up.violations[0].message in plain.text.replace('\\"', '"')


def test_kimi_requires_reasoning_on_tool_call_messages_only() -> None:
    kimi = VendorRules.kimi(models=())
    bare = body(USER, *tool_turn("c1", reasoning=None), {"role": "assistant", "content": "done"}, USER)
    (violation,) = check_request({**bare, "model": "kimi-k2.6"}, kimi)
    assert violation.message == (
        "thinking is enabled but reasoning_content is missing in assistant tool call message at index 2"
    )
    # the closing answer is not Kimi's concern; moonshot-v1 models do not think
    closed = body(USER, *tool_turn("c1"), {"role": "assistant", "content": "done"}, USER)
    assert check_request({**closed, "model": "kimi-k2.6"}, kimi) == []
    assert check_request({**bare, "model": "moonshot-v1-32k"}, kimi) == []
    assert check_request({**bare, "model": "kimi-k2.6", "thinking": {"type": "disabled"}}, kimi) == []


@pytest.mark.parametrize(
    ("vendor", "fields"),
    [
        ("kimi", {"thinking": {"type": "enabled"}}),
        ("glm", {"thinking": {"type": "enabled"}}),
        ("ark", {"thinking": {"type": "enabled"}}),
        ("qwen", {"enable_thinking": True}),
        ("siliconflow", {"enable_thinking": False}),
        ("openrouter", {"reasoning": {"effort": "high"}}),
        ("vllm", {"chat_template_kwargs": {"enable_thinking": False}}),
    ],
)
def test_vendor_knows_its_thinking_field_and_a_strict_one_refuses_it(vendor: str, fields: dict[str, Any]) -> None:
    assert check_request(body(USER, **fields), VENDORS[vendor]) == []
    assert [v.rule for v in check_request(body(USER, **fields), GENERIC)] == ["unknown_field"]


@pytest.mark.parametrize(
    ("vendor", "model", "accepted"),
    [
        ("kimi", "kimi-k2.6", True),
        ("kimi", "moonshot-v1-32k", False),
        ("glm", "glm-4.5v", True),
        ("glm", "glm-4.6", False),
        ("qwen", "qwen3-vl-plus", True),
        ("qwen", "qwen3-coder-plus", False),
    ],
)
def test_vision_per_model(vendor: str, model: str, accepted: bool) -> None:
    request = {**body({"role": "user", "content": [{"type": "text", "text": "see"}, IMAGE]}), "model": model}
    assert (check_request(request, VENDORS[vendor]) == []) is accepted


@pytest.mark.parametrize(("vendor", "expected"), [("openrouter", "reasoning"), ("vllm", "think"), ("kimi", "rc")])
def test_replies_carry_reasoning_where_the_vendor_puts_it(vendor: str, expected: str) -> None:
    reply = Reply.text("answer", reasoning="why")
    chunks = strict_upstream.completion_chunks(reply, {"model": "m"}, 0, VENDORS[vendor])
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    content = "".join(d.get("content") or "" for d in deltas)
    if expected == "think":
        assert content == "<think>why</think>\n\nanswer"
        assert not any("reasoning" in d or "reasoning_content" in d for d in deltas)
    else:
        key = "reasoning" if expected == "reasoning" else "reasoning_content"
        assert "".join(d.get(key) or "" for d in deltas) == "why"
        assert content == "answer"
    whole = strict_upstream.completion_object(reply, {"model": "m"}, 0, VENDORS[vendor])["choices"][0]["message"]
    assert ("<think>why</think>" in whole["content"]) is (expected == "think")
