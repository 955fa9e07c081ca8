"""Acceptance (issue 4, point 2): properties of the translators over generated inputs.

* Any *valid* Codex request (items and tools in the shapes of CONTRACT §2.2 and the recorded fixtures,
  with calls and outputs paired at random, orphaned or missing) translates without raising, for every
  upstream profile, into a chat request the matching strict vendor (``VendorRules``) accepts.
* Any upstream byte stream -- valid chunks, junk lines, error chunks, ``[DONE]`` anywhere or nowhere,
  cut at any byte, split at any bytes, any line ending -- goes through the gateway's pipeline
  (``SSEDecoder`` -> JSON -> ``StreamTranslator``) without raising, into an event sequence the openai
  SDK accumulator and Codex accept; and the split points never change the outcome.
* Round trip: what a turn streams back (garbled tool arguments, cut calls, reasoning) is echoed by Codex
  in the next request, which the strict vendor must still accept: one bad turn never poisons a session.
* Upstream error answers of any shape classify without raising.

(``test_stream.py`` already covers arbitrary chunk *dicts*; ``test_request.py`` arbitrary garbage
requests raising only InvalidRequest.) Bounded ``max_examples`` keep the file under ~20 s.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimo2codex.errors import GatewayError, UpstreamRateLimited
from mimo2codex.protocol.arguments import parse_object, repair_arguments
from mimo2codex.protocol.context import ResponseContext, echo_fields
from mimo2codex.protocol.events import Event
from mimo2codex.protocol.failure import classify_upstream_failure, to_error
from mimo2codex.protocol.profile import ReasoningReplay, UpstreamProfile
from mimo2codex.protocol.reasoning import seal
from mimo2codex.protocol.request import responses_to_chat
from mimo2codex.protocol.sse import SSEDecoder
from mimo2codex.protocol.stream import StreamTranslator
from tests.fakes.strict_upstream import VendorRules, check_request
from tests.sdk_invariants import check_event_sequence

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "codex-cli-0.169.0"
SESSION = Path(__file__).resolve().parents[1] / "data" / "request" / "full-session.request.json"

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- upstream profiles, each with the strict vendor it must satisfy -------------------------------------

_MIMO = UpstreamProfile(
    model="mimo-v2.5-pro",
    label="mimo-v2.5-pro on mimo",
    supports_images=False,
    max_tokens_field="max_completion_tokens",
    reasoning_replay=ReasoningReplay.REQUIRED,
    force_parallel_tool_calls=True,
    extra_body={"thinking": {"type": "enabled"}},
)
PAIRS: dict[str, tuple[UpstreamProfile, VendorRules]] = {
    "generic-vision": (UpstreamProfile(model="m", label="m on generic"), VendorRules(vision=True)),
    "generic-text": (UpstreamProfile(model="m", label="m on generic", supports_images=False), VendorRules()),
    "mimo": (_MIMO, VendorRules.mimo()),
    "mimo-vision": (dataclasses.replace(_MIMO, model="mimo-v2.5", supports_images=True), VendorRules.mimo_vision()),
    "mimo-web-search": (
        dataclasses.replace(_MIMO, web_search_tool={"type": "web_search", "max_keyword": 3, "limit": 1}),
        VendorRules.mimo(web_search_enabled=True),
    ),
    "deepseek-v4": (
        UpstreamProfile(
            model="deepseek-v4-pro",
            label="deepseek-v4-pro on deepseek",
            supports_images=False,
            supports_reasoning_effort=True,
            reasoning_replay=ReasoningReplay.REQUIRED,
        ),
        VendorRules.deepseek_v4(),
    ),
    "deepseek-r1": (
        UpstreamProfile(
            model="deepseek-reasoner",
            label="deepseek-reasoner on deepseek",
            supports_images=False,
            reasoning_replay=ReasoningReplay.STRIP,
            stream_usage=False,
        ),
        VendorRules.deepseek_r1(),
    ),
    "ollama-think-tags": (
        UpstreamProfile(model="qwen3", label="qwen3 on ollama", think_tags=True, drop_fields=frozenset({"top_p"})),
        VendorRules(vision=True),
    ),
}


def assert_accepted(request: dict[str, Any]) -> None:
    """``request`` translates for every profile into a body its strict vendor accepts."""
    for name, (profile, rules) in PAIRS.items():
        chat = responses_to_chat(request, profile)
        violations = check_request(chat.body, rules)
        assert violations == [], f"{name}: {[(v.rule, v.message) for v in violations]}\n{chat.body['messages']}"
        for tool in chat.body.get("tools", []):
            if tool["type"] == "function":
                assert chat.tool_map.entry(tool["function"]["name"]) is not None, f"{name}: unmapped tool {tool}"


# -- valid Codex requests -----------------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(path.read_bytes())
    return value


def _tool_key(tool: dict[str, Any]) -> str:
    return f"{tool['type']}:{tool.get('name', '')}"


def _real_tools() -> list[dict[str, Any]]:
    """Every tool Codex declared in the recorded requests, plus names vendors would reject as they are."""
    tools: dict[str, dict[str, Any]] = {}
    for path in [*sorted(FIXTURES.glob("*.request.json")), SESSION]:
        for tool in _load(path)["tools"]:
            tools.setdefault(_tool_key(tool), tool)
    params = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    extra: list[dict[str, Any]] = [
        {"type": "function", "name": "mcp__github__create.issue", "description": "dots", "parameters": params},
        {"type": "function", "name": "mcp__github__create_issue", "description": "collides once sanitized"},
        {"type": "function", "name": "x" * 80, "parameters": {}, "strict": None},
        # the flat name of multi_agent_v1's spawn_agent, declared again as a plain function
        {"type": "function", "name": "multi_agent_v1__spawn_agent", "parameters": params, "strict": True},
        {
            "type": "namespace",
            "name": "mcp__docs",
            "description": "Docs.",
            "tools": [{"type": "function", "name": "search_docs", "parameters": params}],
        },
        {"type": "custom", "name": "run_sql", "description": "Raw SQL.", "format": {"type": "text"}},
        {"type": "web_search_preview"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
    ]
    for tool in extra:
        tools.setdefault(_tool_key(tool), tool)
    return list(tools.values())


TOOLS = _real_tools()
CALL_NAMES = [
    "exec_command",
    "view_image",
    "get_goal",
    "apply_patch",
    "search_docs",
    "mcp__github__create.issue",
    "unknown_tool",
    "shell",
    "mcp.server/weird name",
]
NAMESPACES = [None, None, "multi_agent_v1", "mcp__docs", "mcp__nowhere"]
#: a small pool, so calls and outputs pair up, collide, orphan and go missing by chance
CALL_IDS = ["call_a", "call_b", "call_c", "call_d", "call_e"]
PNG = "data:image/png;base64,iVBORw0KGgpmYWtl"

TEXT = st.one_of(
    st.sampled_from(["", " ", "\n\n", "hello", "ls -la", '{"cmd": "x"}', "秋の空 😀", "<think>x</think>y", "a\r\nb"]),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=24),
)
ARGUMENTS = st.one_of(
    st.sampled_from(
        [
            "{}",
            '{"cmd": "ls"}',
            '{"cmd": "ls -l',
            '{"a": [1, {"b": "c',
            "not json",
            "",
            "[1, 2]",
            '"str"',
            "{}}",
            "null",
        ]
    ),
    st.dictionaries(st.sampled_from(["cmd", "path", "q"]), TEXT, max_size=2).map(lambda d: orjson.dumps(d).decode()),
)
CALL_ID = st.sampled_from(CALL_IDS)


def _text_parts(kind: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(TEXT, max_size=3).map(lambda texts: [{"type": kind, "text": t} for t in texts])


IMAGE_PART = st.builds(
    lambda detail: {"type": "input_image", "image_url": PNG, **({"detail": detail} if detail else {})},
    st.sampled_from([None, "high", "low", "auto", "original"]),
)
USER_PART = st.one_of(
    TEXT.map(lambda t: {"type": "input_text", "text": t}),
    IMAGE_PART,
    st.just({"type": "input_image", "file_id": "file-abc"}),
    st.just({"type": "input_file", "file_id": "file-def", "filename": "a.pdf"}),
)
OUTPUT_PART = st.one_of(TEXT.map(lambda t: {"type": "input_text", "text": t}), IMAGE_PART)


def message(role: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": content, **extra}


USER = st.one_of(TEXT, st.lists(USER_PART, max_size=4)).map(lambda c: message("user", c, id="msg_u"))
DEVELOPER = st.tuples(st.sampled_from(["developer", "system"]), _text_parts("input_text")).map(
    lambda rc: message(rc[0], rc[1], id="msg_dev")
)
ASSISTANT = st.builds(
    lambda texts, phase, refusal: message(
        "assistant",
        [{"type": "output_text", "text": t, "annotations": []} for t in texts]
        + ([{"type": "refusal", "refusal": "I can't."}] if refusal else []),
        id="msg_a",
        **({"phase": phase} if phase != "absent" else {}),
    ),
    st.lists(TEXT, max_size=2),
    st.sampled_from(["absent", None, "commentary", "final_answer"]),
    st.booleans(),
)
REASONING = st.builds(
    lambda summary, content, sealed: {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": t} for t in summary],
        "content": None if content is None else [{"type": "reasoning_text", "text": content}],
        "encrypted_content": {"none": None, "openai": "gAAAAB-opaque", "ours": seal(content or "thought")}[sealed],
    },
    st.lists(TEXT, max_size=2),
    st.none() | TEXT,
    st.sampled_from(["none", "openai", "ours"]),
)
FUNCTION_CALL = st.builds(
    lambda call_id, name, namespace, arguments: {
        "type": "function_call",
        "id": "fc_1",
        "name": name,
        **({"namespace": namespace} if namespace else {}),
        "arguments": arguments,
        "call_id": call_id,
    },
    CALL_ID,
    st.sampled_from(CALL_NAMES),
    st.sampled_from(NAMESPACES),
    ARGUMENTS,
)
OUTPUT = st.one_of(TEXT, st.lists(OUTPUT_PART, max_size=3))
FUNCTION_OUTPUT = st.builds(
    lambda call_id, output: {"type": "function_call_output", "id": "fco_1", "call_id": call_id, "output": output},
    CALL_ID,
    OUTPUT,
)
CUSTOM_CALL = st.builds(
    lambda call_id, name, text: {
        "type": "custom_tool_call",
        "id": "ctc_1",
        "call_id": call_id,
        "name": name,
        "input": text,
    },
    CALL_ID,
    st.sampled_from(["apply_patch", "run_sql", "unknown_custom"]),
    TEXT,
)
CUSTOM_OUTPUT = st.builds(
    lambda call_id, output: {"type": "custom_tool_call_output", "id": "ctco_1", "call_id": call_id, "output": output},
    CALL_ID,
    OUTPUT,
)
TOOL_SEARCH_CALL = st.builds(
    lambda call_id, execution, query: {
        "type": "tool_search_call",
        "call_id": call_id,
        "execution": execution,
        "status": "completed",
        "arguments": {"query": query, "limit": 2},
    },
    CALL_ID,
    st.sampled_from(["client", "client", "server"]),
    TEXT,
)
TOOL_SEARCH_OUTPUT = st.builds(
    lambda call_id, found: {
        "type": "tool_search_output",
        "call_id": call_id,
        "execution": "client",
        "status": "completed",
        "tools": [t for t in TOOLS if t.get("name") in ("mcp__docs", "get_goal")] if found else [],
    },
    CALL_ID,
    st.booleans(),
)
LOCAL_SHELL_CALL = st.builds(
    lambda call_id, command: {
        "type": "local_shell_call",
        "id": "lsh_1",
        "call_id": call_id,
        "status": "completed",
        "action": {"type": "exec", "command": command, "working_directory": "/tmp", "timeout_ms": 5000, "env": {}},
    },
    CALL_ID,
    st.lists(TEXT, max_size=3),
)
LOCAL_SHELL_OUTPUT = st.builds(
    lambda call_id, text: {"type": "local_shell_call_output", "id": call_id, "output": text}, CALL_ID, TEXT
)
CHAT_ASSISTANT = st.builds(
    lambda calls, content, reasoning: {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
            for call_id, name, args in calls
        ],
        **({"reasoning_content": reasoning} if reasoning is not None else {}),
    },
    st.lists(st.tuples(CALL_ID, st.sampled_from(CALL_NAMES), ARGUMENTS), min_size=1, max_size=2),
    st.none() | TEXT,
    st.none() | TEXT,
)
CHAT_TOOL = st.builds(lambda call_id, text: {"role": "tool", "tool_call_id": call_id, "content": text}, CALL_ID, TEXT)
OTHER = st.sampled_from(
    [
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
        {"type": "image_generation_call", "id": "ig_1", "status": "completed", "result": "aGVsbG8="},
        {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAB-opaque"},
        {"type": "compaction_trigger"},
        {"type": "item_reference", "id": "msg_server_side"},
        {
            "type": "additional_tools",
            "tools": [{"type": "function", "name": "late_tool", "parameters": {"type": "object"}}],
        },
    ]
)
ITEM = st.one_of(
    USER,
    DEVELOPER,
    ASSISTANT,
    REASONING,
    FUNCTION_CALL,
    FUNCTION_OUTPUT,
    CUSTOM_CALL,
    CUSTOM_OUTPUT,
    TOOL_SEARCH_CALL,
    TOOL_SEARCH_OUTPUT,
    LOCAL_SHELL_CALL,
    LOCAL_SHELL_OUTPUT,
    CHAT_ASSISTANT,
    CHAT_TOOL,
    OTHER,
)
TOOL_CHOICE = st.sampled_from(
    [
        "absent",
        "auto",
        "none",
        "required",
        {"type": "function", "name": "exec_command"},
        {"type": "function", "name": "spawn_agent", "namespace": "multi_agent_v1"},
        {"type": "function", "name": "not_declared"},
        {"type": "custom", "name": "apply_patch"},
        {"type": "tool_search"},
        {"type": "web_search"},
        {"type": "allowed_tools", "mode": "auto", "tools": []},
    ]
)
OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "stream": st.booleans(),
        "parallel_tool_calls": st.booleans(),
        "max_output_tokens": st.integers(1, 200_000),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "instructions": TEXT,
        "reasoning": st.fixed_dictionaries(
            {"summary": st.just("auto")},
            optional={"effort": st.sampled_from(["none", "minimal", "low", "medium", "high", "xhigh"])},
        ),
        "text": st.sampled_from(
            [
                {"verbosity": "low"},
                {"format": {"type": "text"}},
                {"format": {"type": "json_object"}},
                {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
            ]
        ),
        "store": st.just(False),
        "include": st.just(["reasoning.encrypted_content"]),
        "prompt_cache_key": st.just("01a20aba-c4fb-7b03-924d-6d2126270e50"),
        "service_tier": st.sampled_from(["auto", "priority"]),
    },
)


@st.composite
def codex_requests(draw: st.DrawFn) -> dict[str, Any]:
    items = draw(st.lists(ITEM, max_size=10))
    # A Codex request always holds a user message somewhere (the prompt, or the environment context).
    items.insert(draw(st.integers(0, len(items))), draw(USER))
    request: dict[str, Any] = {"model": "gpt-5.5", "input": items, **draw(OPTIONS)}
    tools = draw(st.none() | st.lists(st.sampled_from(TOOLS), unique_by=_tool_key, max_size=12))
    if tools is not None:
        request["tools"] = tools
    choice = draw(TOOL_CHOICE)
    if choice != "absent":
        request["tool_choice"] = choice
    return request


def test_the_recorded_requests_are_accepted_everywhere() -> None:
    for path in [*sorted(FIXTURES.glob("*.request.json")), SESSION]:
        assert_accepted(_load(path))


@PROPERTY
@given(codex_requests())
def test_any_valid_request_translates_into_one_every_strict_vendor_accepts(request: dict[str, Any]) -> None:
    assert_accepted(request)


@PROPERTY
@given(st.sampled_from(sorted(FIXTURES.glob("*.request.json"))), st.lists(ITEM, max_size=8), TEXT)
def test_a_real_session_with_any_history_appended_is_accepted(
    path: Path, items: list[dict[str, Any]], prompt: str
) -> None:
    request = _load(path)
    request["input"] = [*request["input"], *items, message("user", [{"type": "input_text", "text": prompt}])]
    assert_accepted(request)


# -- upstream byte streams through the gateway's pipeline ---------------------------------------------------


def make_ctx(tool_map: Any = None, **options: Any) -> ResponseContext:
    ctx = ResponseContext(response_id="resp_prop", created_at=1731000000, model="gpt-5.5", **options)
    if tool_map is not None:
        ctx.tool_map = tool_map
    return ctx


def gateway_pipeline(ctx: ResponseContext, pieces: list[bytes]) -> list[Event]:
    """What ``responses_api._stream`` does with an upstream body, without the I/O."""
    translator = StreamTranslator(ctx)
    events = translator.start()
    decoder = SSEDecoder()
    saw_done = False

    def translate(sse_events: list[Any]) -> None:
        nonlocal saw_done
        for sse_event in sse_events:
            if sse_event.data == "[DONE]":
                saw_done = True
                break
            try:
                chunk = orjson.loads(sse_event.data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(chunk, dict):
                events.extend(translator.feed(chunk))

    for piece in pieces:
        translate(decoder.feed(piece))
        if saw_done or translator.status == "failed":
            break
    else:
        translate(decoder.flush())
    if translator.status is None and not saw_done and translator.finish_reason is None:
        events.extend(translator.fail("upstream_unavailable", "the stream ended before the model finished"))
    events.extend(translator.finish())
    return events


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-p",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": choices,
        **extra,
    }


_TOOL_DELTA = st.builds(
    lambda index, call_id, name, arguments: {
        "index": index,
        **({"id": call_id} if call_id else {}),
        "type": "function",
        "function": {**({"name": name} if name else {}), "arguments": arguments},
    },
    st.integers(0, 2),
    st.sampled_from([None, "call_x", "call_y"]),
    st.sampled_from(
        [None, "exec_command", "apply_patch", "tool_search", "local_shell", "multi_agent_v1__spawn_agent", "nope"]
    ),
    st.sampled_from(
        [
            "",
            "{",
            '"cmd": "l',
            's"}',
            '{"input": "*** Begin Patch\\n"}',
            "}",
            "garbage",
            # whole arguments of a model that got the local_shell schema loosely right
            '{"command": "ls -la", "workdir": "/tmp", "timeout_ms": 1000, "env": {"A": "1"}}',
            '{"command": ["ls", 1], "env": "PATH=/bin", "timeout_ms": "5s", "user": 3, "workdir": 7}',
        ]
    ),
)
_DELTA = st.one_of(
    TEXT.map(lambda t: {"role": "assistant", "content": t}),
    TEXT.map(lambda t: {"content": t}),
    TEXT.map(lambda t: {"reasoning_content": t}),
    st.lists(_TOOL_DELTA, min_size=1, max_size=2).map(lambda calls: {"tool_calls": calls}),
)
_USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
#: one upstream SSE event, as its ``data`` text (or a raw line that is no event at all)
_FINISH = st.sampled_from(["stop", "stop", "tool_calls", "length", "content_filter", "network_error", "eos"])
_ERROR = st.sampled_from(
    [
        '{"error": {"message": "Rate limit reached, try again in 3s", "code": 429}}',
        '{"error": {"message": "This model\'s maximum context length is 8192 tokens", "type": "invalid_request_error"}}',
        '{"object": "error", "message": "internal", "code": 500}',
        '{"error": "overloaded"}',
    ]
)
_JUNK = st.one_of(
    st.sampled_from(
        ["[DONE]", " [DONE]", "keep-alive", "", "null", "[1, 2]", "{}", '{"choices": null}', '{"choices": [null, 3]}']
    ),
    TEXT,
)
#: one upstream SSE event, as its ``data`` text: a chunk, a finish, usage, an error, or junk
_EVENT = st.one_of(
    _DELTA.map(lambda d: orjson.dumps(_chunk(d)).decode()),
    _FINISH.map(lambda f: orjson.dumps(_chunk({}, f, usage=_USAGE)).decode()),
    st.just(orjson.dumps(_chunk(None, usage=_USAGE)).decode()),
    _ERROR,
    _JUNK,
)


@st.composite
def upstream_events(draw: st.DrawFn) -> list[str]:
    """A plausible stream (deltas, finish, usage) with junk and errors sprinkled in at random."""
    events = [orjson.dumps(_chunk(d)).decode() for d in draw(st.lists(_DELTA, max_size=10))]
    if draw(st.integers(0, 4)):
        events.append(orjson.dumps(_chunk({}, draw(_FINISH))).decode())
    if draw(st.booleans()):
        events.append(orjson.dumps(_chunk(None, usage=_USAGE)).decode())
    for _ in range(draw(st.integers(0, 3))):
        junk = draw(_ERROR if draw(st.integers(0, 5)) == 0 else _JUNK)
        events.insert(draw(st.integers(0, len(events))), junk)
    return events


def _frame(data: str, eol: str, style: str) -> str:
    if style == "comment":
        return f": {data}{eol}{eol}"
    if style == "multiline":  # the JSON text split over data: lines (joined back with "\n")
        lines = data.split(",") if data else [data]
        return "".join(f"data: {line}{',' if k < len(lines) - 1 else ''}{eol}" for k, line in enumerate(lines)) + eol
    if style == "named":
        return f"event: message{eol}id: 7{eol}data:{data}{eol}{eol}"
    if style == "bare":  # a line with no field name: ignored by SSE
        return f"{data}{eol}{eol}"
    return f"data: {data}{eol}{eol}"


@st.composite
def upstream_bodies(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    style = st.sampled_from(["data"] * 6 + ["comment", "multiline", "named", "bare"])
    text = "".join(_frame(data, eol, draw(style)) for data in draw(upstream_events()))
    if draw(st.integers(0, 3)):
        text += f"data: [DONE]{eol}{eol}"
    body = text.encode()
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body
    if body and not draw(st.integers(0, 3)):  # the connection dropped: cut anywhere, even mid-UTF-8
        body = body[: draw(st.integers(0, len(body)))]
    if draw(st.integers(0, 9)) == 0:
        body += b"data: \xff\xfe broken utf-8\n\n"
    return body


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(body)) for c in cuts})
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges) if b > a]


@PROPERTY
@given(
    upstream_bodies(),
    st.lists(st.integers(0, 4000), max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_any_upstream_bytes_give_a_valid_event_stream_whatever_the_splits(
    body: bytes, cuts: list[int], think_tags: bool, expose_reasoning: bool
) -> None:
    ctx = make_ctx(think_tags=think_tags, expose_reasoning=expose_reasoning)
    whole = gateway_pipeline(ctx, [body])
    check_event_sequence(whole)
    split = gateway_pipeline(make_ctx(think_tags=think_tags, expose_reasoning=expose_reasoning), _split(body, cuts))
    assert split == whole
    assert whole[-1]["type"] in ("response.completed", "response.incomplete", "response.failed")


@PROPERTY
@given(upstream_bodies())
def test_every_byte_of_a_stream_arriving_alone_changes_nothing(body: bytes) -> None:
    whole = gateway_pipeline(make_ctx(), [body])
    assert gateway_pipeline(make_ctx(), [body[k : k + 1] for k in range(len(body))]) == whole


# -- round trip: a turn's output echoed in the next request ------------------------------------------------


def _echo_history(events: list[Event], answer: Callable[[int], bool]) -> list[dict[str, Any]]:
    """The items Codex keeps from a turn (``output_item.done``) and the outputs it sends back for calls."""
    history: list[dict[str, Any]] = []
    for event in events:
        if event["type"] != "response.output_item.done":
            continue
        item = orjson.loads(orjson.dumps(event["item"]))
        history.append(item)
        kind = item["type"]
        if kind in ("function_call", "custom_tool_call", "local_shell_call", "tool_search_call") and answer(
            len(history)
        ):
            output_type = {
                "function_call": "function_call_output",
                "custom_tool_call": "custom_tool_call_output",
                "local_shell_call": "function_call_output",
                "tool_search_call": "tool_search_output",
            }[kind]
            output: dict[str, Any] = {"type": output_type, "call_id": item["call_id"], "output": "done"}
            if kind == "tool_search_call":
                output = {
                    "type": output_type,
                    "call_id": item["call_id"],
                    "execution": "client",
                    "status": "completed",
                    "tools": [],
                }
            history.append(output)
    return history


@PROPERTY
@given(
    st.sampled_from(sorted(PAIRS)),
    upstream_events(),
    st.integers(0, 3),
    st.booleans(),
)
def test_whatever_a_turn_streamed_the_next_request_is_accepted(
    pair: str, stream: list[str], skip_answers: int, expose_reasoning: bool
) -> None:
    profile, rules = PAIRS[pair]
    first = _load(SESSION)
    chat = responses_to_chat(first, profile)
    ctx = make_ctx(
        chat.tool_map, echo=echo_fields(first), think_tags=profile.think_tags, expose_reasoning=expose_reasoning
    )
    body = "".join(f"data: {data}\n\n" for data in stream).encode()
    events = gateway_pipeline(ctx, [body])
    check_event_sequence(events)
    # Some calls stay unanswered: the user interrupted the turn.
    history = _echo_history(events, lambda n: skip_answers == 0 or n % (skip_answers + 1) != 0)
    second = {**first, "input": [*first["input"], *history, message("user", "go on")]}
    following = responses_to_chat(second, profile)
    violations = check_request(following.body, rules)
    assert violations == [], [(v.rule, v.message) for v in violations]


# -- upstream error answers ------------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "error",
                    "message",
                    "code",
                    "type",
                    "msg",
                    "detail",
                    "status",
                    "retry_after",
                    "base_resp",
                    "status_msg",
                    "error_msg",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)
_JSON_OBJECT = st.dictionaries(
    st.sampled_from(["error", "message", "code", "object", "base_resp", "detail", "msg"]), _JSON, max_size=4
)
_HEADER = (
    st.none()
    | st.sampled_from(["1", "0", "-3", "2.5", "1e999", "inf", "nan", "Wed, 21 Oct 2015 07:28:10 GMT", "soon", ""])
    | TEXT
)


@PROPERTY
@given(
    st.sampled_from([0, 200, 400, 401, 402, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529]),
    # a parsed error chunk (a dict), or a raw body: text, bytes, any JSON document
    st.one_of(_JSON_OBJECT, st.none(), TEXT, st.binary(max_size=64), _JSON.map(lambda v: orjson.dumps(v))),
    _HEADER,
    _HEADER,
)
def test_any_upstream_error_answer_classifies_into_a_codex_outcome(
    status: int, body: Any, retry_after: str | None, retry_after_ms: str | None
) -> None:
    failure = classify_upstream_failure(status, body, retry_after=retry_after, retry_after_ms=retry_after_ms, now=1.7e9)
    error = to_error(failure, "prov")
    assert isinstance(error, GatewayError)
    assert error.status_code in (400, 429, 502), error
    assert error.failed_code() in (
        "context_length_exceeded",
        "rate_limit_exceeded",
        "insufficient_quota",
        "invalid_prompt",
        "server_error",
    )
    assert error.message
    assert len(error.message) < 1000
    if isinstance(error, UpstreamRateLimited):
        assert error.retry_after >= 1
        assert error.headers()["Retry-After"].isdigit()


# -- tool-call arguments ---------------------------------------------------------------------------------


@PROPERTY
@given(st.dictionaries(TEXT, _JSON, max_size=4), st.data())
def test_any_truncation_of_object_arguments_repairs_to_an_object(value: dict[str, Any], data: st.DataObject) -> None:
    text = orjson.dumps(value).decode()
    assert repair_arguments(text) == text  # valid arguments pass byte for byte
    cut = text[: data.draw(st.integers(0, len(text)))]
    repaired = repair_arguments(cut)
    assert isinstance(parse_object(repaired), dict), (cut, repaired)


@PROPERTY
@given(st.one_of(TEXT, _JSON))
def test_any_arguments_repair_to_an_object(arguments: Any) -> None:
    assert isinstance(parse_object(repair_arguments(arguments)), dict)
