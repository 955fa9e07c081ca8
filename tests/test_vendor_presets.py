"""Issue 11, acceptance 2: every vendor preset against the strict fake in that vendor's mode.

For each preset a ``providers.json`` entry names only the preset (and, because the vendor is a local
fake, its base URL); the gateway then speaks the vendor's dialect. Each test runs, through the live
gateway: a tool-using turn and its continuation (which replays the reasoning the way the vendor wants
it), an image turn (vision models; a placeholder for text-only ones), and a context overflow in the
vendor's own error shape, which must reach the client as ``context_length_exceeded`` with the advice to
run ``/compact`` -- as an HTTP 400 when the vendor refused before streaming, as ``response.failed`` when
its error came inside a 200 answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mimo2codex.protocol.failure import COMPACT_ADVICE
from mimo2codex.providers.presets import PRESETS
from mimo2codex.settings import load_settings
from tests.conftest import StartGateway, StartUpstream
from tests.fakes.strict_upstream import Reply, StrictUpstream, ToolCall, VendorRules
from tests.live import LiveGateway
from tests.responses_client import EXEC_COMMAND, ask, image, text, user_message

pytestmark = pytest.mark.live

#: characters of message text the fake accepts before answering with its overflow error
LIMIT_CHARS = 4000


@dataclass(frozen=True)
class Case:
    #: a reasoning model of the preset (or any id, for open catalogs)
    model: str
    #: a vision model, or None when the preset has none
    vision_model: str | None
    #: where the vendor wants earlier reasoning: "field" (reasoning_content), "inline" (<think> in
    #: content) or None (not required: the test only checks the vendor accepted the request)
    replay: str | None
    #: the request field that switches thinking on, when the preset sends one
    thinking: dict[str, Any] | None = None


CASES: dict[str, Case] = {
    "kimi": Case("kimi-k2.6", "kimi-k2.6", "field", {"thinking": {"type": "enabled"}}),
    "glm": Case("glm-4.6", "glm-4.5v", None, {"thinking": {"type": "enabled"}}),
    "qwen": Case("qwen-plus", "qwen3-vl-plus", None, {"enable_thinking": True}),
    "minimax": Case("MiniMax-M2.7", None, "inline"),
    "siliconflow": Case("zai-org/GLM-4.6", "zai-org/GLM-4.5V", None),
    "openrouter": Case("moonshotai/kimi-k2.6", "moonshotai/kimi-k2.6", None),
    "ark": Case("doubao-seed-1-6-250615", "doubao-seed-1-6-250615", None),
    "ollama": Case("qwen3:8b", "qwen2.5vl:7b", None),
    "vllm": Case("Qwen/Qwen3-8B", "Qwen/Qwen2.5-VL-7B-Instruct", None),
    "lmstudio": Case("qwen/qwen3-8b", "qwen/qwen2.5-vl-7b", None),
}


def test_every_preset_has_a_case_and_a_fake_mode() -> None:
    assert set(CASES) == set(PRESETS)
    assert all(callable(getattr(VendorRules, name)) for name in PRESETS)


def start(
    tmp_path: Path, vendor: str, start_upstream: StartUpstream, start_gateway: StartGateway, script: list[Reply]
) -> tuple[StrictUpstream, LiveGateway]:
    rules = getattr(VendorRules, vendor)(context_limit_chars=LIMIT_CHARS, context_limit_tokens=131_072)
    upstream = start_upstream(script, rules=rules)
    preset = PRESETS[vendor]
    entry = {"id": f"my-{vendor}", "preset": vendor, "baseUrl": upstream.url}
    (tmp_path / "providers.json").write_text(json.dumps({"providers": [entry]}), encoding="utf-8")
    settings = load_settings(
        {
            "MIMO2CODEX_DATA_DIR": str(tmp_path),
            preset.env_key: upstream.api_key,
            "MIMO2CODEX_DEFAULT_PROVIDER": f"my-{vendor}",
            "MIMO2CODEX_MAX_RETRIES": "0",
        }
    )
    return upstream, start_gateway(settings)


def stream(base_url: str, model: str, *items: dict[str, Any]) -> httpx.Response:
    body = {"model": model, "input": list(items), "stream": True}
    return httpx.post(f"{base_url}/responses", json=body, timeout=30)


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    return [
        json.loads(line[len("data: ") :])
        for line in response.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]


@pytest.mark.parametrize("vendor", list(CASES))
def test_tool_turn_with_reasoning_replayed_the_vendors_way(
    vendor: str, tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    case = CASES[vendor]
    script = [
        Reply.tools(ToolCall("exec_command", {"cmd": "ls"}), reasoning="List the files first."),
        Reply.text("There are two files.", reasoning="Two lines of output."),
    ]
    upstream, gateway = start(tmp_path, vendor, start_upstream, start_gateway, script)
    question = user_message(text("what is here?"))

    first = ask(gateway.url, case.model, question, tools=[EXEC_COMMAND])

    assert first.status_code == 200, first.text
    output = first.json()["output"]
    call = next(item for item in output if item["type"] == "function_call")
    assert (call["name"], json.loads(call["arguments"])) == ("exec_command", {"cmd": "ls"})
    reasoning = [item for item in output if item["type"] == "reasoning"]
    assert reasoning, "the vendor's reasoning (field, reasoning or <think> tags) became a reasoning item"
    assert "List the files first." in json.dumps(reasoning)
    assert not any("<think>" in json.dumps(item) for item in output if item["type"] == "message")

    # The next request, as Codex sends it: the output items echoed back, then the tool's answer.
    answer = {"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt\nb.txt"}
    second = ask(gateway.url, case.model, question, *output, answer, tools=[EXEC_COMMAND])

    assert second.status_code == 200, second.text
    assert upstream.violations == []
    assert "There are two files." in json.dumps(second.json()["output"])
    sent = upstream.bodies[1]
    assistant = next(m for m in sent["messages"] if m["role"] == "assistant")
    if case.replay == "field":
        assert assistant["reasoning_content"] == "List the files first."
    elif case.replay == "inline":
        assert "reasoning_content" not in assistant
        assert assistant["content"].startswith("<think>\nList the files first.\n</think>")
    if case.thinking is not None:
        assert {k: sent[k] for k in case.thinking} == case.thinking
    assert sent["model"] == case.model


@pytest.mark.parametrize("vendor", list(CASES))
def test_image_turn(vendor: str, tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway) -> None:
    case = CASES[vendor]
    upstream, gateway = start(tmp_path, vendor, start_upstream, start_gateway, [Reply.text("A red square.")])
    model = case.vision_model or case.model

    response = ask(gateway.url, model, user_message(text("what is this?"), image()))

    assert response.status_code == 200, response.text
    assert upstream.violations == []
    raw = upstream.chat_requests[0].raw.decode()
    if case.vision_model is None:
        assert "data:image" not in raw  # text-only: the vendor never sees the picture
    else:
        parts = upstream.bodies[0]["messages"][-1]["content"]
        assert [p["type"] for p in parts] == ["text", "image_url"]


@pytest.mark.parametrize("vendor", list(CASES))
def test_overflow_becomes_context_length_exceeded(
    vendor: str, tmp_path: Path, start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    case = CASES[vendor]
    upstream, gateway = start(tmp_path, vendor, start_upstream, start_gateway, [Reply.text("ok")] * 2)
    too_long = user_message(text("y" * (LIMIT_CHARS + 100)))
    rules = upstream.rules

    plain = ask(gateway.url, case.model, too_long)
    streamed = stream(gateway.url, case.model, too_long)

    if rules.overflow is None:  # Ollama truncates the prompt itself: no error exists to map
        assert plain.status_code == streamed.status_code == 200
        assert upstream.violations == []
        return
    assert [v.rule for v in upstream.violations] == ["context_length", "context_length"]
    error = plain.json()["error"]
    assert plain.status_code == 400, plain.text
    assert error["code"] == "context_length_exceeded"
    assert COMPACT_ADVICE in error["message"]
    assert upstream.violations[0].message[:40] in error["message"]  # the vendor's words, kept
    if rules.overflow.status >= 400:  # refused before streaming: Codex gets the 400 itself
        assert streamed.status_code == 400, streamed.text
        assert streamed.json()["error"]["code"] == "context_length_exceeded"
    else:  # a 200 answer carrying the error: the stream fails
        assert streamed.status_code == 200
        failed = sse_events(streamed)[-1]
        assert failed["type"] == "response.failed"
        assert failed["response"]["error"]["code"] == "context_length_exceeded"
        assert COMPACT_ADVICE in failed["response"]["error"]["message"]
