"""Field checks for client input: a wrong type is a 400 that names the field, never a crash."""

from __future__ import annotations

from typing import Any

from mimo2codex.errors import InvalidRequest


def required_str(obj: dict[str, Any], key: str, where: str) -> str:
    """``obj[key]`` as a string; InvalidRequest naming ``where.key`` otherwise."""
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}.{key} must be a string", param=f"{where}.{key}")
    return value


def optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    """``obj[key]`` as a string or None; InvalidRequest naming ``where.key`` for any other type."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidRequest(f"{where}.{key} must be a string", param=f"{where}.{key}")
