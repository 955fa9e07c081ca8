"""A minimal Responses API client for the live tests of routing and provider quirks.

``ask(gateway.url, "deepseek-v4-pro")`` sends one non-streamed ``POST /v1/responses`` and returns the
``httpx.Response`` (headers show the routing: ``x-mimo2codex-provider`` / ``-model`` / ``-model-rewrite``).
"""

from __future__ import annotations

from typing import Any

import httpx

#: a 1x1 PNG
PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def user_message(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": list(parts)}


def text(value: str) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def image(url: str = PNG) -> dict[str, Any]:
    return {"type": "input_image", "image_url": url}


def ask(base_url: str, model: str, *items: dict[str, Any], **fields: Any) -> httpx.Response:
    """POST one Responses request (``items`` default to a plain "hi")."""
    body = {"model": model, "input": list(items) or [user_message(text("hi"))], "stream": False, **fields}
    return httpx.post(f"{base_url}/responses", json=body, timeout=30)


def tool_turn_history(reasoning: str | None) -> list[dict[str, Any]]:
    """A second turn: the user asked, the model (maybe) reasoned and called a tool, the tool answered."""
    items: list[dict[str, Any]] = [user_message(text("list the files"))]
    if reasoning is not None:
        items.append(
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": reasoning}],
                "content": [{"type": "reasoning_text", "text": reasoning}],
                "encrypted_content": None,
            }
        )
    items += [
        {"type": "function_call", "call_id": "call_1", "name": "exec_command", "arguments": '{"cmd": "ls"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "a.txt\nb.txt"},
    ]
    return items


#: Codex's shell tool, as Codex declares it
EXEC_COMMAND = {
    "type": "function",
    "name": "exec_command",
    "description": "Run a shell command.",
    "strict": False,
    "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
}
