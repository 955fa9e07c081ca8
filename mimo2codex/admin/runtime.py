"""The live configuration: settings rebuilt and swapped into the running gateway, never restarted.

Three things change a running gateway: an edit of ``providers.json`` (through the admin or by hand),
a runtime toggle (thinking, web search, shown reasoning, default provider...), and the custom models
and aliases of the store. Each one rebuilds the whole :class:`~mimo2codex.settings.Settings` with the
same loader and the same messages as at startup (``load_settings``), then swaps the settings and the
router into the :class:`~mimo2codex.gateway.Gateway` in one step on the event loop. A request takes
``gateway.router`` and ``gateway.settings`` once, so the requests in flight finish on what they took.
A configuration that does not load is refused and the working one stays.

Precedence, lowest first: defaults < providers.json < toggles < environment < flags: an option set by
an env var or a flag is *locked* (:meth:`LiveConfig.lock`), and its toggle says which one locks it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mimo2codex.errors import NotFound
from mimo2codex.options import OPTIONS
from mimo2codex.providers.base import ModelInfo, Provider
from mimo2codex.providers.config_file import FILE_NAME
from mimo2codex.routing import Route, Router
from mimo2codex.settings import Settings, load_settings

log = logging.getLogger("mimo2codex.admin")

#: loader inputs a reload must keep as they were given (they are not Settings fields)
_INPUTS = ("api_key", "base_url")
_OPTION_FIELDS = {option.field for option in OPTIONS}


@dataclass(frozen=True, slots=True)
class PinnedRouter(Router):
    """A :class:`Router` that first honours the store's aliases and custom models of open catalogs.

    ``pinned`` maps a client model id to ``(provider id, upstream model)``; a pin to a provider that
    cannot serve (no key, gone from the configuration) is ignored, and the usual rules apply.
    """

    pinned: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def route(self, model: str) -> Route:
        target = self.pinned.get(model.strip())
        if target is not None:
            for provider in self.providers:
                if provider.id == target[0] and (provider.api_key or provider is self.default):
                    return Route(provider, target[1], model.strip())
        return Router.route(self, model)


def _custom_info(row: Mapping[str, Any]) -> ModelInfo:
    return ModelInfo(
        id=str(row["upstream_id"]),
        display_name=str(row.get("display_name") or ""),
        context_window=row.get("context_window") or None,
        supports_images=bool(row.get("supports_images")),
        supports_reasoning=bool(row.get("supports_reasoning")),
        supports_web_search=bool(row.get("supports_web_search")),
    )


def build_router(
    settings: Settings, models: Sequence[Mapping[str, Any]] = (), aliases: Sequence[Mapping[str, Any]] = ()
) -> Router:
    """The router of ``settings`` with the store's custom models and aliases added.

    A custom model joins its provider's catalog (so its capabilities drive translation and it is
    listed in ``/v1/models`` and Codex's catalog); on an open catalog it is pinned instead, since a
    catalog of one model would make the provider rewrite every other id.
    """
    pinned: dict[str, tuple[str, str]] = {}
    extra: dict[str, list[ModelInfo]] = {}
    by_id = {p.id: p for p in settings.providers}
    for row in models:
        provider = by_id.get(str(row.get("provider_id")))
        if provider is None:
            continue
        info = _custom_info(row)
        if not provider.models:
            pinned[info.id] = (provider.id, info.id)
        elif provider.model_info(info.id) is None:
            extra.setdefault(provider.id, []).append(info)
    for row in aliases:
        pinned[str(row["alias"])] = (str(row["provider_id"]), str(row["upstream_id"]))
    providers = tuple(
        replace(p, models=p.models + tuple(extra[p.id])) if p.id in extra else p for p in settings.providers
    )
    default_id = settings.router().default.id
    default = next(p for p in providers if p.id == default_id)
    base = Router.build(providers, default)
    return PinnedRouter(base.providers, base.default, base.keyless, pinned)


def providers_path(settings: Settings) -> Path:
    """The providers file the admin edits: the one in use, else ``<data dir>/providers.json``."""
    return settings.providers_file or settings.data_dir / FILE_NAME


@dataclass(frozen=True, slots=True)
class Lock:
    field: str
    #: the env var or flag that set it
    by: str


class LiveConfig:
    """Rebuilds settings from the startup inputs plus the runtime toggles (blocking: a file read)."""

    def __init__(self, startup: Settings, env: Mapping[str, str]) -> None:
        self.startup = startup
        self.env = env
        self.toggles: dict[str, Any] = {}
        self.current = startup

    def lock(self, name: str) -> Lock | None:
        """What locks option ``name`` against a runtime change, or None when it may change."""
        by = self.startup.sources.get(name)
        if by is not None:
            return Lock(name, by)
        if name == "default_provider":
            # --api-key / --base-url belong to the default provider chosen at startup
            for input_name in _INPUTS:
                if input_name in self.startup.sources:
                    return Lock(name, self.startup.sources[input_name])
        return None

    def _flags(self, toggles: Mapping[str, Any], providers_file: Path | None) -> dict[str, Any]:
        start = self.startup
        flags: dict[str, Any] = {}
        for name in start.sources:
            if name in _OPTION_FIELDS and name not in _INPUTS and name != "providers_file":
                flags[name] = getattr(start, name)
        default = start.router().default
        if "api_key" in start.sources and default.api_key:
            flags["api_key"] = default.api_key
        if "base_url" in start.sources:
            flags["base_url"] = default.base_url
        for name, value in toggles.items():
            if self.lock(name) is None:
                flags[name] = value
        if providers_file is not None:
            flags["providers_file"] = providers_file
        elif "providers_file" in start.sources and start.providers_file is not None:
            flags["providers_file"] = start.providers_file
        return flags

    def build(self, *, toggles: Mapping[str, Any] | None = None, providers_file: Path | None = None) -> Settings:
        """Settings as they would load now; raises ``ConfigError`` with the startup messages."""
        wanted = self.toggles if toggles is None else toggles
        return load_settings(self.env, self._flags(wanted, providers_file))


def provider_or_404(settings: Settings, provider_id: str) -> Provider:
    for provider in settings.providers:
        if provider.id == provider_id or (provider.shortcut or "").lower() == provider_id.lower():
            return provider
    known = ", ".join(p.id for p in settings.providers)
    raise NotFound(f"unknown provider '{provider_id}' (known: {known})", code="unknown_provider")
