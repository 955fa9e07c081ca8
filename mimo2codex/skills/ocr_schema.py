"""The JSON shape ``mimo2codex ocr --mode structured`` promises, and its validator. Pure.

The model is asked for exactly :data:`SCHEMA`; what it answers is parsed (a Markdown code fence
around it is tolerated) and checked field by field, so a caller gets either this shape or exit 1
with the first field that is wrong:

>>> parse_structured('{"text": "Hi", "language": "en", "blocks": [{"type": "paragraph", "text": "Hi"}]}')["text"]
'Hi'
"""

from __future__ import annotations

import json
import re
from typing import Any

BLOCK_TYPES = ("heading", "paragraph", "list", "table", "code", "label", "other")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["text", "language", "blocks"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "description": "all readable text, in reading order, line breaks kept"},
        "language": {"type": "string", "description": "main language of the text (BCP 47, e.g. en, zh)"},
        "description": {"type": "string", "description": "one or two sentences on what the image shows"},
        "blocks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "text"],
                "additionalProperties": False,
                "properties": {"type": {"enum": list(BLOCK_TYPES)}, "text": {"type": "string"}},
            },
        },
    },
}

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


class StructuredOutputError(ValueError):
    """The model's answer is not the promised JSON; the message names the field."""


def parse_structured(answer: str) -> dict[str, Any]:
    fenced = _FENCE.match(answer)
    text = fenced.group(1) if fenced else answer.strip()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StructuredOutputError(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    validate(value)
    assert isinstance(value, dict)
    return value


def validate(value: Any) -> None:
    """Raises :class:`StructuredOutputError` naming the first field that breaks :data:`SCHEMA`."""
    _check(value, SCHEMA, "$")


def _check(value: Any, schema: dict[str, Any], where: str) -> None:
    if "enum" in schema:
        if value not in schema["enum"]:
            allowed = ", ".join(map(str, schema["enum"]))
            raise StructuredOutputError(f"{where} is {value!r}, expected one of {allowed}")
        return
    kind = schema.get("type")
    if kind == "string" and not isinstance(value, str):
        raise StructuredOutputError(f"{where} must be a string")
    if kind == "array":
        if not isinstance(value, list):
            raise StructuredOutputError(f"{where} must be an array")
        for index, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{index}]")
    if kind == "object":
        if not isinstance(value, dict):
            raise StructuredOutputError(f"{where} must be an object")
        for name in schema.get("required", ()):
            if name not in value:
                raise StructuredOutputError(f"{where}.{name} is missing")
        properties: dict[str, Any] = schema.get("properties", {})
        for name, item in value.items():
            if name not in properties:
                if schema.get("additionalProperties") is False:
                    raise StructuredOutputError(f"{where}.{name} is not part of the schema")
                continue
            _check(item, properties[name], f"{where}.{name}")
