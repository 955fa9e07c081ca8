"""The provider interface: an upstream's configuration plus the quirk set that adapts requests to it.

A :class:`Provider` is plain data (where the upstream is, its key, its model catalog). Its
:class:`Quirks` turn one catalog model into the :class:`~mimo2codex.protocol.profile.UpstreamProfile`
the pure translator reads. Each real quirk set is one module of this package, registered in
``providers/__init__.py``; a vendor whose quirks are only data (a field it rejects, ``<think>`` tags)
needs no module at all, just :class:`Quirks` fields (``providers.json`` sets them per provider).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from mimo2codex.protocol.profile import ReasoningReplay, UpstreamProfile
from mimo2codex.providers.endpoint import Endpoint, resolve_endpoint
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
    #: this model's own reasoning replay rule, when it differs from its provider's
    reasoning_replay: ReasoningReplay | None = None
    #: kept for old configurations; listed last and marked "legacy"
    legacy: bool = False

    @property
    def label(self) -> str:
        return self.display_name or self.id


@dataclass(frozen=True, slots=True)
class ErrorHint:
    """Advice appended to an upstream error whose message contains ``marker``."""

    marker: str
    hint: str


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
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    #: the vendor's web-search tool, sent (to models with supports_web_search) when Codex asks for web_search
    web_search_tool: Mapping[str, Any] | None = None
    error_hints: tuple[ErrorHint, ...] = ()

    def profile(self, provider: Provider, model: str, info: ModelInfo | None) -> UpstreamProfile:
        """The translation profile for ``model`` (``info`` is None for open-catalog providers)."""
        web_search = self.web_search_tool if info is None or info.supports_web_search else None
        replay = info.reasoning_replay if info is not None and info.reasoning_replay is not None else None
        return UpstreamProfile(
            model=model,
            label=f"{model} on {provider.id}",
            # An open catalog says nothing about images: pass them and let the upstream decide.
            supports_images=info.supports_images if info is not None else True,
            supports_reasoning_effort=self.supports_reasoning_effort,
            max_tokens_field=self.max_tokens_field,
            reasoning_replay=replay or self.reasoning_replay,
            web_search_tool=dict(web_search) if web_search is not None else None,
            force_parallel_tool_calls=self.force_parallel_tool_calls,
            drop_fields=self.drop_fields,
            extra_body=dict(self.extra_body),
            think_tags=self.think_tags,
        )

    def with_overrides(self, **changes: Any) -> Quirks:
        return replace(self, **changes)

    def startup_warnings(self, provider: Provider) -> tuple[str, ...]:
        """Problems with how this quirk set was configured for ``provider`` (shown at startup)."""
        return ()


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
    #: where the key and base URL come from (env var names, defaults, key-prefix hosts)
    endpoint: Endpoint | None = None
    #: True for the providers shipped with mimo2codex (mimo, deepseek)
    builtin: bool = False
    #: open catalog only: rewrite every model to ``default_model`` instead of forwarding it
    force_default_model: bool = False
    #: where this provider was defined, for messages: "built-in", a file path, "GENERIC_* variables"
    source: str = "built-in"
    #: where the key / base URL came from (banner): an env var, "--api-key", "key prefix 'tp-'"...
    key_source: str = ""
    base_url_source: str = ""

    @property
    def env_key(self) -> str | None:
        """The (first) environment variable the key comes from, for messages and printed config."""
        return self.endpoint.key_envs[0] if self.endpoint and self.endpoint.key_envs else None

    @property
    def handle(self) -> str:
        """How users name it on the command line: the shortcut, else the id."""
        return self.shortcut or self.id

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

    def error_hint(self, message: str) -> str | None:
        """Advice for an upstream error message (e.g. MiMo's web-search plugin being off)."""
        for hint in self.quirks.error_hints:
            if hint.marker in message:
                return hint.hint
        return None

    def with_credentials(
        self, env: Mapping[str, str], *, api_key: str | None = None, base_url: str | None = None
    ) -> tuple[Provider, tuple[str, ...]]:
        """This provider with its key and base URL resolved again (``--api-key`` / ``--base-url``).

        Returns the provider and the warnings of the resolution (key prefix vs host mismatch).
        """
        if self.endpoint is None:
            return self, ()
        resolved = resolve_endpoint(self.endpoint, env, label=self.display_name, api_key=api_key, base_url=base_url)
        updated = replace(
            self,
            api_key=resolved.api_key,
            base_url=resolved.base_url,
            key_source=resolved.key_source,
            base_url_source=resolved.base_url_source,
        )
        return updated, resolved.warnings


@dataclass
class ProviderContext:
    """What provider sources read: the environment, files, and settings that change quirks."""

    env: Mapping[str, str]
    #: the providers file to read (None: no file)
    providers_file: Path | None = None
    #: MiMo-style thinking switch (``--disable-thinking`` turns it off upstream)
    thinking: bool = True
    #: forward Codex's web_search tool to vendors that have one (opt-in)
    web_search: bool = False
    #: startup warnings collected while loading (shown in the banner and logged)
    warnings: list[str] = field(default_factory=list)


#: a registry entry: builds the providers of one source (a built-in vendor, providers.json, GENERIC_*)
ProviderSource = Callable[[ProviderContext], list[Provider]]
