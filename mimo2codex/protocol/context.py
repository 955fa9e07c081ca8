"""Per-response values the response translators need, gathered once by the caller."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mimo2codex.protocol.toolmap import ToolMap

#: Request fields a Response object echoes back (openai ``Response`` requires several of them).
ECHO_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": None,
    "store": False,
    "temperature": None,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "truncation": "disabled",
    "user": None,
}


def echo_fields(request: dict[str, Any]) -> dict[str, Any]:
    """The echo fields of a Responses request, with OpenAI's defaults for those it left out."""
    echo = dict(ECHO_DEFAULTS)
    for key in ECHO_DEFAULTS:
        value = request.get(key)
        if value is not None:
            echo[key] = value
    return echo


@dataclass(slots=True)
class ResponseContext:
    #: "resp_..." — one id for every lifecycle event of the response
    response_id: str
    #: unix seconds, supplied by the caller (the core never reads the clock)
    created_at: int
    #: the model name Codex asked for (echoed back so Codex shows no model-mismatch warning)
    model: str
    tool_map: ToolMap = field(default_factory=ToolMap)
    echo: dict[str, Any] = field(default_factory=lambda: dict(ECHO_DEFAULTS))
    #: False hides reasoning text from the client (``--no-reasoning``); it still travels sealed
    expose_reasoning: bool = True
    #: extract ``<think>`` tags from content (per provider)
    think_tags: bool = False
