"""Acceptance 2: the openai Python SDK as a client of a live gateway in front of a strict fake vendor.

Every scenario runs through the three ways an SDK user reads a response: ``responses.create`` (plain
JSON), ``responses.create(stream=True)`` (raw events, also checked against the full event grammar), and
``responses.stream(...).get_final_response()`` (the SDK's accumulator, which raises on any sequence it
cannot follow). No warning may be raised anywhere -- in the SDK, in pydantic serialisation of the
result, or in the gateway thread -- and the vendor must have accepted the translated request.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream, ToolCall
from tests.live import upstream_settings
from tests.sdk_invariants import check_event_sequence

pytestmark = pytest.mark.live

MODEL = "fake-model"
PROMPT = "What now?"

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": None,  # the SDK allows null; the vendor does not (CONTRACT Part B)
}
CLOCK = {
    "type": "function",
    "name": "get_time",
    "description": "Current time in a time zone.",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
}
APPLY_PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.",
    "format": {
        "type": "grammar",
        "syntax": "lark",
        "definition": 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\nend_patch: "*** End Patch" LF?\n',
    },
}
# Newlines, quotes, backslashes and non-ASCII: the raw input must come through byte for byte.
PATCH = '*** Begin Patch\n*** Add File: héllo.txt\n+say "hi" \\ to 世界\n+\ttabbed {not: json}\n*** End Patch\n'


@dataclass(frozen=True)
class Scenario:
    reply: Reply
    check: Callable[[Response, StrictUpstream], None]
    tools: list[dict[str, Any]] = field(default_factory=list)


def _check_text(response: Response, upstream: StrictUpstream) -> None:
    assert [item.type for item in response.output] == ["message"]
    assert response.output_text == "Hello from the strict vendor, ünïcödé included ✓"
    assert "tools" not in upstream.bodies[0]


def _check_reasoning(response: Response, upstream: StrictUpstream) -> None:
    assert [item.type for item in response.output] == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning.type == "reasoning"
    assert "".join(part.text for part in reasoning.summary) == "The user asks what now; answer briefly."
    assert response.output_text == "Now we ship."
    assert response.usage is not None
    assert response.usage.output_tokens_details.reasoning_tokens > 0


def _check_parallel(response: Response, upstream: StrictUpstream) -> None:
    calls = [item for item in response.output if item.type == "function_call"]
    assert [item.type for item in response.output] == ["function_call", "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"tz": "Europe/Paris"}),
    ]
    assert len({c.call_id for c in calls}) == 2
    assert all(c.call_id for c in calls)
    sent = upstream.bodies[0]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "get_time"]
    assert sent["parallel_tool_calls"] is True


def _check_custom(response: Response, upstream: StrictUpstream) -> None:
    assert [item.type for item in response.output] == ["custom_tool_call"]
    call = response.output[0]
    assert call.type == "custom_tool_call"
    assert call.name == "apply_patch"
    assert call.input == PATCH
    assert call.call_id
    (lowered,) = upstream.bodies[0]["tools"]
    assert lowered["type"] == "function"
    assert lowered["function"]["name"] == "apply_patch"
    assert lowered["function"]["parameters"]["required"] == ["input"]
    assert "begin_patch hunk+ end_patch" in lowered["function"]["description"]


SCENARIOS = {
    "text": Scenario(Reply.text("Hello from the strict vendor, ünïcödé included ✓"), _check_text),
    "reasoning+text": Scenario(
        Reply.text("Now we ship.", reasoning="The user asks what now; answer briefly."), _check_reasoning
    ),
    "parallel-tools": Scenario(
        Reply.tools(ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {"tz": "Europe/Paris"})),
        _check_parallel,
        tools=[WEATHER, CLOCK],
    ),
    "custom-tool": Scenario(
        Reply.tools(ToolCall("apply_patch", {"input": PATCH}), chunk_chars=5), _check_custom, tools=[APPLY_PATCH]
    ),
}


def _request(scenario: Scenario) -> dict[str, Any]:
    request: dict[str, Any] = {"model": MODEL, "input": PROMPT}
    if scenario.tools:
        request["tools"] = scenario.tools
        request["parallel_tool_calls"] = True
    return request


def _via_create(client: openai.OpenAI, request: dict[str, Any]) -> Response:
    response: Response = client.responses.create(**request)
    return response


def _via_create_stream(client: openai.OpenAI, request: dict[str, Any]) -> Response:
    events: list[ResponseStreamEvent] = []
    with client.responses.create(**request, stream=True) as stream:
        events.extend(stream)
    # The raw events must satisfy the whole grammar, not just what the SDK happens to read.
    check_event_sequence([event.to_dict() for event in events])
    assert events[-1].type == "response.completed"
    return events[-1].response


def _via_stream_helper(client: openai.OpenAI, request: dict[str, Any]) -> Response:
    with client.responses.stream(**request) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    return final


MODES: dict[str, Callable[[openai.OpenAI, dict[str, Any]], Response]] = {
    "create": _via_create,
    "create-stream": _via_create_stream,
    "stream-helper": _via_stream_helper,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", SCENARIOS)
def test_sdk_reads_every_scenario_without_warnings(
    name: str, mode: str, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    scenario = SCENARIOS[name]
    upstream = start_upstream([scenario.reply])
    gateway = start_gateway(upstream_settings(upstream, model=MODEL))
    client = openai.OpenAI(base_url=gateway.url, api_key="sk-client-side", max_retries=0, timeout=10)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = MODES[mode](client, _request(scenario))
        # Serialising runs pydantic over the leniently built models: a field of the wrong type warns here.
        response.to_json()
        client.close()

    assert [f"{w.category.__name__}: {w.message}" for w in caught] == []
    assert response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.model == MODEL
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens > 0
    scenario.check(response, upstream)
    assert upstream.violations == []
    assert len(upstream.chat_requests) == 1
    assert upstream.bodies[0]["stream"] is (mode != "create")
    (record,) = gateway.wait_for_records(1)
    assert record.outcome == "completed"
    assert record.status == 200
