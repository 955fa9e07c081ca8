"""Routing: which provider and upstream model serve the model a client asked for. Pure.

The rules (those of the Node mimo2codex, except that a rewrite is never silent):

1. A model that is an id or alias in the catalog of a provider *with a key* goes to that provider.
   Generic providers are asked before the built-ins, so a generic can serve a built-in's model ids
   (an in-house MiMo proxy, say). An alias becomes the catalog id upstream.
2. Anything else goes to the default provider:

   - with a catalog, the model is kept when listed, else rewritten to the default model;
   - with an open catalog (no ``models``) it is forwarded unchanged, unless the provider sets
     ``forceDefaultModel``; an open-catalog provider never claims models under rule 1.

A rewrite carries its reason (:attr:`Route.reason`); the gateway logs it once per (from, to) pair at
warning level and reports it in the ``x-mimo2codex-model-rewrite`` response header.

>>> from mimo2codex.providers.base import ModelInfo, Provider
>>> from mimo2codex.secret import Secret
>>> ds = Provider("deepseek", "DeepSeek", "https://ds", Secret("k"), "v4", models=(ModelInfo("v4"),))
>>> Router((ds,), ds).route("gpt-5").upstream_model
'v4'
"""

from __future__ import annotations

from dataclasses import dataclass

from mimo2codex.errors import NotFound
from mimo2codex.providers.base import ModelInfo, Provider


@dataclass(frozen=True, slots=True)
class Route:
    provider: Provider
    #: the model id sent upstream
    upstream_model: str
    #: the model the client asked for
    requested: str
    #: why the client's model was replaced; None when it was not (or was only an alias)
    reason: str | None = None

    @property
    def rewritten(self) -> bool:
        """True when the client's model was replaced (reported in a response header, never silent)."""
        return self.reason is not None

    @property
    def info(self) -> ModelInfo | None:
        """The catalog entry of the upstream model (None on open catalogs)."""
        return self.provider.model_info(self.upstream_model)


@dataclass(frozen=True, slots=True)
class Router:
    #: the providers requests can go to: those with a key, and the default
    providers: tuple[Provider, ...]
    default: Provider
    #: configured providers without a key: they serve nothing, but name the owner of a model in messages
    keyless: tuple[Provider, ...] = ()

    @classmethod
    def build(cls, providers: tuple[Provider, ...], default: Provider) -> Router:
        usable = tuple(p for p in providers if p.api_key or p.id == default.id)
        ids = {p.id for p in usable}
        return cls(usable, default, tuple(p for p in providers if p.id not in ids))

    def route(self, model: str) -> Route:
        """Where ``model`` goes (see the module docstring for the rules)."""
        model = model.strip()
        owner: Provider | None = None
        for provider in _claim_order(self.providers + self.keyless):
            info = provider.model_info(model) if model else None
            if info is None:
                continue
            if provider.api_key:
                return Route(provider, info.id, model)
            owner = owner or provider
        return self._fallback(model, owner)

    def _fallback(self, model: str, owner: Provider | None) -> Route:
        default = self.default
        if not default.models and not default.force_default_model and model:
            return Route(default, model, model)
        if not model:
            if not default.default_model:
                raise NotFound("no model given and the default provider has no default model", code="model_not_found")
            return Route(default, default.default_model, model)
        info = default.model_info(model)
        if info is not None:
            return Route(default, info.id, model)
        if owner is not None:
            env = owner.env_key or "its API key"
            why = f"'{model}' belongs to provider '{owner.id}', which has no API key (set {env})"
        elif default.models:
            why = f"no provider with a key lists '{model}'"
        else:
            why = f"provider '{default.id}' forces its default model (forceDefaultModel)"
        return Route(default, default.default_model, model, reason=f"{why}; using {default.id}/{default.default_model}")


def _claim_order(providers: tuple[Provider, ...]) -> list[Provider]:
    with_catalog = [p for p in providers if p.models]
    return [p for p in with_catalog if not p.builtin] + [p for p in with_catalog if p.builtin]
