"""Tool-call arguments: JSON text that upstreams sometimes truncate or garble.

An upstream cut off mid-call leaves ``{"cmd": "ls -l`` in history; re-sending it makes strict vendors
reject every later request of the session (CONTRACT Part B). :func:`repair_arguments` closes what was
left open when that yields a JSON object, and falls back to ``{}`` otherwise.
"""

from __future__ import annotations

from typing import Any

import orjson


def parse_object(text: str) -> dict[str, Any] | None:
    """The JSON object in ``text``, or None when it is not one."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def repair_arguments(arguments: object) -> str:
    """Arguments as a JSON object string, always valid.

    Valid JSON-object text is returned unchanged (byte for byte, so prompt caches keep matching); a
    dict is serialized; truncated text is completed; anything else becomes ``"{}"``.
    """
    if isinstance(arguments, dict):
        return orjson.dumps(arguments).decode()
    if not isinstance(arguments, str):
        return "{}"
    if parse_object(arguments) is not None:
        return arguments
    if not arguments.strip():
        return "{}"
    completed = _close_open_structures(arguments)
    if completed is not None and parse_object(completed) is not None:
        return completed
    return "{}"


def _close_open_structures(text: str) -> str | None:
    """Append the closers a truncated JSON text is missing; None if it is not a truncation."""
    stack: list[str] = []
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and (not stack or stack.pop() != char):
            return None
    if not stack and not in_string:
        return None
    tail = text
    if in_string:
        if escaped:
            tail = tail[:-1]
        tail += '"'
    stripped = tail.rstrip()
    # A dangling separator or key without value cannot be closed into valid JSON as is.
    if stripped.endswith(","):
        stripped = stripped[:-1]
    elif stripped.endswith(":"):
        stripped += " null"
    return stripped + "".join(reversed(stack))
