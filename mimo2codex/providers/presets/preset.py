"""What a vendor preset is: the data a ``providers.json`` entry with ``"preset": "<name>"`` starts from.

Each vendor is one data module of this package (``kimi.py``, ``glm.py``, ...) defining ``PRESET``; the
registry in ``__init__.py`` lists them. A preset fills everything an entry leaves out -- base URL, key
variable, default model, model catalog (true context windows, reasoning and vision flags), quirks and
error hints -- and anything the entry sets wins (``config_file.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mimo2codex.protocol.profile import ReasoningReplay
from mimo2codex.providers.base import ErrorHint, ModelInfo
from mimo2codex.providers.thinking import ThinkingSwitch


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    display_name: str
    base_url: str
    #: the environment variable the key is read from when the entry names none
    env_key: str
    default_model: str
    #: where the rules below were learned (shown in docs/vendors.md)
    sources: tuple[str, ...]
    docs_url: str | None = None
    #: other hosts of the same vendor (regions, plans): a base URL on any of them selects this preset
    hosts: tuple[str, ...] = ()
    #: the catalog; empty for aggregators and local servers, whose model ids are the user's choice
    models: tuple[ModelInfo, ...] = ()
    max_tokens_field: str = "max_tokens"
    reasoning_replay: ReasoningReplay = ReasoningReplay.KEEP
    supports_reasoning_effort: bool = False
    force_parallel_tool_calls: bool = False
    think_tags: bool = False
    drop_fields: frozenset[str] = frozenset()
    extra_body: dict[str, Any] = field(default_factory=dict)
    thinking: ThinkingSwitch | None = None
    error_hints: tuple[ErrorHint, ...] = ()
    #: a local server that needs no key: without the key variable the provider still works (it
    #: sends this placeholder); with it set, the real key is sent (vLLM started with --api-key)
    keyless: str | None = None

    def matches(self, base_url: str) -> bool:
        """True when ``base_url`` is on one of this vendor's hosts (and port, for local servers)."""
        wanted = _netloc(base_url)
        return bool(wanted) and wanted in {_netloc(self.base_url), *(_netloc(h) for h in self.hosts)}


def _netloc(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    return (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
