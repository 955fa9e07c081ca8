"""The provider interface: an upstream's configuration plus the quirk set that adapts requests to it.

A :class:`Provider` is plain data (where the upstream is, its key, its model catalog). Its
:class:`Quirks` turn one catalog model into the :class:`~mimo2codex.protocol.profile.UpstreamProfile`
the pure translator reads. Each real quirk set is one module of this package, registered in
``providers/__init__.py``; a vendor whose quirks are only data (a field it rejects, ``<think>`` tags)
needs no module at all, just :class:`Quirks` fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from mimo2codex.protocol.profile import ReasoningReplay, UpstreamProfile
from mimo2codex.secret import Secret


class WireApi(Enum):
    CHAT = "chat"
    RESPONSES = "responses"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One catalog entry, with the capability flags that drive translation."""

    id: str
    aliases: tuple[str, ...] = ()
    display_name: str = ""
    context_window: int | None = None
    max_output_tokens: int | None = None
    supports_images: bool = False
    supports_reasoning: bool = False
    supports_web_search: bool = False


@dataclass(frozen=True, slots=True)
class Quirks:
    """A vendor's departures from plain OpenAI Chat Completions, as data.

    Subclasses (one per real quirk set, e.g. MiMo's thinking switch) override :meth:`profile`.
    """

    max_tokens_field: str = "max_tokens"
    reasoning_replay: ReasoningReplay = ReasoningReplay.KEEP
    supports_reasoning_effort: bool = False
    force_parallel_tool_calls: bool = False
    think_tags: bool = False
    drop_fields: frozenset[str] = frozenset()
    extra_body: dict[str, Any] = field(default_factory=dict)

    def profile(self, provider: Provider, model: str, info: ModelInfo | None) -> UpstreamProfile:
        """The translation profile for ``model`` (``info`` is None for open-catalog providers)."""
        return UpstreamProfile(
            model=model,
            label=f"{model} on {provider.id}",
            # An open catalog says nothing about images: pass them and let the upstream decide.
            supports_images=info.supports_images if info is not None else True,
            supports_reasoning_effort=self.supports_reasoning_effort,
            max_tokens_field=self.max_tokens_field,
            reasoning_replay=self.reasoning_replay,
            force_parallel_tool_calls=self.force_parallel_tool_calls,
            drop_fields=self.drop_fields,
            extra_body=self.extra_body,
            think_tags=self.think_tags,
        )

    def with_overrides(self, **changes: Any) -> Quirks:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    display_name: str
    base_url: str
    api_key: Secret | None
    default_model: str
    wire_api: WireApi = WireApi.CHAT
    #: empty means an open catalog: any model id is forwarded as is
    models: tuple[ModelInfo, ...] = ()
    quirks: Quirks = field(default_factory=Quirks)
    shortcut: str | None = None
    #: where to get a key, shown in startup errors
    docs_url: str | None = None
    #: the environment variable the key comes from (for messages and printed config)
    env_key: str | None = None

    def model_info(self, model: str) -> ModelInfo | None:
        """The catalog entry whose id or alias is ``model``."""
        for info in self.models:
            if model == info.id or model in info.aliases:
                return info
        return None

    def profile(self, model: str) -> UpstreamProfile:
        info = self.model_info(model)
        upstream_model = info.id if info is not None else model
        return self.quirks.profile(self, upstream_model, info)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path
