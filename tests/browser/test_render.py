"""render.js, the log-detail renderer, in the real browser with fixture bodies: Responses and Chat
shapes, streams, cut bodies, and hostile text that must stay text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import Tab

pytestmark = pytest.mark.live

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script><b>bold</b>'

RESPONSES_REQUEST = {
    "model": "gpt-5-codex",
    "instructions": "You are Codex.",
    "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox: none"}]},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": HOSTILE},
                {"type": "input_image", "image_url": "[image: 1234 bytes, sha256 abcdef012345]"},
            ],
        },
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "thinking about files"}],
            "encrypted_content": "gAAAA",
        },
        {"type": "function_call", "name": "shell", "call_id": "call_1", "arguments": '{"command":["ls","-la"]}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "total 0\nREADME.md"},
        {
            "type": "custom_tool_call",
            "name": "apply_patch",
            "call_id": "call_2",
            "input": "*** Begin Patch\n*** End Patch",
        },
        {"type": "custom_tool_call_output", "call_id": "call_2", "output": "Done"},
    ],
    "tools": [{"type": "function", "name": "shell"}, {"type": "custom", "name": "apply_patch"}],
}

RESPONSES_OBJECT = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "instructions": None,  # as the gateway's responses carry it: still a response, not a request
    "output": [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "plan"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "All done."}]},
        {"type": "function_call", "name": "shell", "call_id": "call_9", "arguments": "not json"},
    ],
}


def _sse(events: list[dict[str, Any]]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


RESPONSES_STREAM = _sse(
    [
        {"type": "response.created", "response": {"id": "resp_2", "status": "in_progress", "output": []}},
        {"type": "response.output_text.delta", "delta": "Hel"},
        {
            "type": "response.completed",
            "response": {
                "id": "resp_2",
                "object": "response",
                "status": "completed",
                "output": [
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "Hello stream"}],
                    }
                ],
            },
        },
    ]
)

CHAT_REQUEST = {
    "model": "deepseek-chat",
    "messages": [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "look at the image",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "read", "arguments": '{"path":"a"}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "file text"},
    ],
}

CHAT_STREAM = (
    "".join(
        f"data: {json.dumps(chunk)}\n\n"
        for chunk in [
            {"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "hmm "}}]},
            {"choices": [{"index": 0, "delta": {"content": "Hi "}}]},
            {"choices": [{"index": 0, "delta": {"content": "there"}}]},
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [{"index": 0, "id": "t1", "function": {"name": "run", "arguments": '{"a"'}}]
                        },
                    }
                ]
            },
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]},
                        "finish_reason": "tool_calls",
                    }
                ]
            },
        ]
    )
    + "data: [DONE]\n\n"
)

CUT = '{"input":"' + "x" * 40 + "…[cut: 9000 bytes, kept 40]"

RENDER = """async (bodies) => {
  const i18n = await import('/admin/static/js/i18n.js');
  await i18n.loadLanguage(LANG, '/admin/static');
  const render = await import('/admin/static/js/render.js');
  return bodies.map((body) => {
    const el = render.renderBody(body);
    document.body.append(el);
    return {
      text: el.textContent,
      items: [...el.querySelectorAll('.item')].map((i) => i.className.replace('item ', '')),
      active: el.querySelectorAll('img, script, iframe, object, embed, a').length,
      placeholders: [...el.querySelectorAll('.placeholder')].map((p) => p.textContent),
      pre: [...el.querySelectorAll('pre')].map((p) => p.textContent),
      notice: el.querySelector('.notice')?.textContent ?? null,
    };
  });
}"""


@pytest.fixture
def rendered(tab: Tab, pages_only: str) -> list[dict[str, Any]]:
    # an admin-origin document that runs no page module: the renderer alone
    tab.page.goto(f"{pages_only}/admin/static/i18n/en.json")
    bodies = [
        json.dumps(RESPONSES_REQUEST),
        json.dumps(RESPONSES_OBJECT),
        RESPONSES_STREAM,
        json.dumps(CHAT_REQUEST),
        CHAT_STREAM,
        CUT,
        json.dumps({"error": {"message": "Rate limit", "type": "rate_limit_error", "code": "rate_limited"}}),
        json.dumps(
            {"choices": [{"message": {"role": "assistant", "content": "plain answer"}, "finish_reason": "stop"}]}
        ),
    ]
    result: list[dict[str, Any]] = tab.page.evaluate(RENDER.replace("LANG", json.dumps(tab.lang)), bodies)
    assert tab.page.evaluate("window.__pwned") is None
    assert tab.take_errors() == []
    return result


def test_responses_request_items(rendered: list[dict[str, Any]], tab: Tab) -> None:
    request = rendered[0]
    assert request["items"] == [
        "role-system",  # instructions
        "role-developer",
        "role-user",
        "kind-reasoning",
        "kind-call",
        "kind-output",
        "kind-call",
        "kind-output",
    ]
    assert HOSTILE in request["text"]  # shown as text...
    assert request["active"] == 0  # ...never as markup
    assert request["placeholders"][0].endswith("[image: 1234 bytes, sha256 abcdef012345]")
    assert any("gAAAA" not in p and ("5" in p) for p in request["placeholders"][1:])  # encrypted: length only
    assert '{\n  "command": [\n    "ls",\n    "-la"\n  ]\n}' in request["pre"]  # arguments indented
    assert "*** Begin Patch\n*** End Patch" in request["pre"]


def test_responses_object_and_stream(rendered: list[dict[str, Any]]) -> None:
    response, stream = rendered[1], rendered[2]
    assert response["items"] == ["kind-reasoning", "role-assistant", "kind-call"]
    assert "All done." in response["text"]
    assert "not json" in response["pre"]  # unparseable arguments are shown as they came
    assert stream["items"] == ["role-assistant"]
    assert "Hello stream" in stream["text"]


def test_chat_request_and_stream(rendered: list[dict[str, Any]]) -> None:
    request, stream = rendered[3], rendered[4]
    assert request["items"] == ["role-system", "role-user", "kind-reasoning", "kind-call", "kind-output"]
    assert any("https://example.com/cat.png" in p for p in request["placeholders"])
    assert stream["items"] == ["kind-reasoning", "role-assistant", "kind-call"]
    assert "Hi there" in stream["text"]
    assert '{\n  "a": 1\n}' in stream["pre"]  # argument pieces joined, then indented


def test_cut_error_and_plain_chat(rendered: list[dict[str, Any]], tab: Tab) -> None:
    cut, error, chat = rendered[5], rendered[6], rendered[7]
    assert cut["notice"]  # says the body was cut and is shown as text
    assert cut["pre"] == [CUT]
    assert error["items"] == ["kind-error"]
    assert "Rate limit" in error["text"]
    assert chat["items"] == ["role-assistant"]
    assert "stop" in chat["text"]
