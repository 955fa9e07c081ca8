"""What one upstream model accepts: the data the request translator adapts to.

A provider (``mimo2codex.providers``) builds one :class:`UpstreamProfile` per routed request from its
quirk set and the model's capability flags. The translator reads only this object, never a provider
name, so a new vendor is new data, not a new branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class ReasoningReplay(Enum):
    """How earlier turns' reasoning goes back upstream as ``reasoning_content`` (CONTRACT Part B)."""

    STRIP = "strip"  # never send it (legacy deepseek-reasoner rejects it)
    KEEP = "keep"  # send it on assistant turns that have it
    REQUIRED = "required"  # send it, and backfill a placeholder on assistant turns that lack it
    INLINE = "inline"  # send it back inside ``content`` as ``<think>...</think>`` (MiniMax M2)


@dataclass(frozen=True, slots=True)
class UpstreamProfile:
    """Capabilities and quirks of the upstream model a request is routed to."""

    #: the model id sent upstream
    model: str
    #: name shown in placeholders and notes ("mimo-v2.5-pro on mimo")
    label: str = ""
    supports_images: bool = True
    #: send ``reasoning.effort`` as ``reasoning_effort``
    supports_reasoning_effort: bool = False
    #: the field ``max_output_tokens`` maps to: "max_tokens" or "max_completion_tokens"
    max_tokens_field: str = "max_tokens"
    reasoning_replay: ReasoningReplay = ReasoningReplay.KEEP
    #: text used for assistant turns without reasoning when ``reasoning_replay`` is REQUIRED
    reasoning_backfill: str = "(no reasoning recorded for this turn)"
    #: the vendor's own web-search tool, sent when Codex asks for web_search; None drops the tool
    web_search_tool: dict[str, Any] | None = None
    #: always send ``parallel_tool_calls: true`` (MiMo)
    force_parallel_tool_calls: bool = False
    #: request fields this vendor rejects; removed from the translated body last
    drop_fields: frozenset[str] = frozenset()
    #: fields merged into every translated body (e.g. MiMo's ``thinking``)
    extra_body: dict[str, Any] = field(default_factory=dict)
    #: extract ``<think>...</think>`` from content into reasoning (Ollama / vLLM open models)
    think_tags: bool = False
    #: ``stream_options.include_usage`` on streamed requests
    stream_usage: bool = True
